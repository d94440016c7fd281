package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
	"github.com/killswitch/killswitch/policies"
	"github.com/killswitch/killswitch/test/awsint"
	"github.com/killswitch/killswitch/test/moto"
)

// The Slack service with `aws.backend: aws` on the moto emulator: every
// action requested, approved, checked and undone through Slack, every
// effect read back through the SDK with the test's own clients (awsint's
// ReadState and Expect), and the replacement keys of rotate-keys found in
// Secrets Manager and nowhere else.

// The organization of these tests: management + 2 members with the fixed
// seeded principals only (per account 5 users, 7-8 roles, 2 groups), so
// every per-account list on a card or in a thread fits unclipped.
var serviceSeed = awsint.SeedOptions{Members: 2}

// slackTap is a loopback proxy in front of the fake Slack that keeps every
// request body the service sends to Slack, byte for byte: Web API calls
// (every form field: text, blocks, attachments, …) and response_url posts.
type slackTap struct {
	URL    string
	mu     sync.Mutex
	bodies []string // "PATH\nBODY"
}

func startSlackTap(t testing.TB, fake *slackfake.Fake) *slackTap {
	t.Helper()
	target, err := url.Parse(fake.Server.URL)
	if err != nil {
		t.Fatal(err)
	}
	tap := &slackTap{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		tap.mu.Lock()
		tap.bodies = append(tap.bodies, r.URL.Path+"\n"+string(body))
		tap.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tap.URL = srv.URL
	return tap
}

// APIURL is slack.api_url for the service.
func (s *slackTap) APIURL() string { return s.URL + "/api" }

// HookURL is a response_url named name, recorded by the fake as the hook name.
func (s *slackTap) HookURL(name string) string { return s.URL + "/hooks/" + url.PathEscape(name) }

// Text is every body seen, raw and decoded (form values, JSON strings).
func (s *slackTap) Text() string {
	s.mu.Lock()
	bodies := append([]string(nil), s.bodies...)
	s.mu.Unlock()
	var b strings.Builder
	for _, body := range bodies {
		b.WriteString(body)
		b.WriteString("\n")
		_, raw, _ := strings.Cut(body, "\n")
		if vals, err := url.ParseQuery(raw); err == nil {
			for k, vs := range vals {
				fmt.Fprintf(&b, "%s=%s\n", k, strings.Join(vs, "\n"))
			}
		}
		var v any
		if json.Unmarshal([]byte(raw), &v) == nil {
			jsonStrings(v, &b)
		}
	}
	return b.String()
}

func jsonStrings(v any, b *strings.Builder) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
		b.WriteString("\n")
	case map[string]any:
		for _, v := range x {
			jsonStrings(v, b)
		}
	case []any:
		for _, v := range x {
			jsonStrings(v, b)
		}
	}
}

// opCounter counts the operations the service's factory makes.
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int // "Service:Operation", e.g. "IAM:ListUsers"
}

func (c *opCounter) record(service, op string) {
	c.mu.Lock()
	c.ops[service+":"+op]++
	c.mu.Unlock()
}

func (c *opCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

// mutating keeps the operations that change something, with the service
// id's spaces dropped ("Secrets Manager" → "SecretsManager", as the audit
// names it).
func mutating(ops map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range ops {
		service, op, _ := strings.Cut(k, ":")
		if mutatingAction(op) {
			out[strings.ReplaceAll(service, " ", "")+":"+op] += n
		}
	}
	return out
}

// motoEnv is one in-process killswitch serving Slack, wired as `serve`
// wires it with `aws.backend: aws`, `organization: true` and the emulator
// as `aws.endpoint_url` (through the shim).
type motoEnv struct {
	*env
	org    *awsint.Org
	admin  aws.Config // the test's own administrator clients, talking to moto directly
	engine *actions.Engine
	shim   *awsint.Shim // between the service and moto
	tap    *slackTap
	logs   *awsint.SyncBuffer // the service's logrus output (JSON)
	ops    *opCounter
	tlog   *awsint.SyncBuffer // everything this test logs
	// replies are the bodies of the service's answers to slash commands and
	// clicks (what Slack shows the user at once).
	replies *awsint.SyncBuffer
	// timings of the phases (mark)
	last    time.Time
	timings []string
}

// mark ends a phase of the test; the timings are logged at the end.
func (m *motoEnv) mark(phase string) {
	now := time.Now()
	m.timings = append(m.timings, fmt.Sprintf("%s %s", phase, now.Sub(m.last).Round(10*time.Millisecond)))
	m.last = now
}

func newMotoEnv(t *testing.T, srv *moto.Server, shim *awsint.Shim, org *awsint.Org) *motoEnv {
	t.Helper()
	ctx := context.Background()
	admin := srv.AWSConfig(ctx)

	// store, audit, approval: as serve builds them
	st := storetest.Open(t, store.DriverSQLite)
	al := audit.New(st, nil)
	policy := approval.Policy{Requesters: []string{requester, approver}, Approvers: []string{approver, approver2, requester},
		Required: 1, Expiry: 15 * time.Minute}
	appr := &approval.Service{Store: st, Audit: al, Policy: policy}
	router := &bot.CallRouter{}

	// the real factory, as cmd/killswitch's awsProvider builds it; the base
	// credentials are moto's static ones (serve takes the SDK's default chain)
	ops := &opCounter{ops: map[string]int{}}
	base := srv.AWSConfig(ctx)
	f, err := awsapi.NewFactory(ctx, awsapi.Config{
		Region:            moto.Region,
		EndpointURL:       shim.URL,
		RoleName:          awsint.ResponderRole,
		ManagementAccount: org.Management,
		APIOptions:        []func(*middleware.Stack) error{awsapi.RecordOperations(ops.record)},
		Base:              &base,
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.DiscoverAccounts(ctx) // organization: true
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, org.IDs()) {
		t.Fatalf("ListAccounts discovered %v, the seed made %v", all, org.IDs())
	}
	eng, err := actions.New(f, actions.Config{
		BreakGlassPatterns: []string{awsint.BreakGlassPattern},
		BreakGlassTag:      awsint.BreakGlassTag,
		BotRoleName:        awsint.ResponderRole,
		ConfirmTimeout:     awsint.ConfirmTimeout,
		OnCall:             router.OnCall,
		Regions:            awsint.Regions, // aws.regions, as the emulator tests configure it
	})
	if err != nil {
		t.Fatal(err)
	}

	// serve checks exemptions by tag or pattern against the exemption
	// baselines in its store: record one, two days old, of who the seed made
	// exempt by tag or pattern (as serve would have when things were calm),
	// so the break-glass principals stay exempt by their tag and pattern
	seedBaseline(t, st, eng, all, time.Now().Add(-48*time.Hour))

	fake := slackfake.New(t, botToken)
	tap := startSlackTap(t, fake)
	logs := &awsint.SyncBuffer{}
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(logs)
	log.SetLevel(logrus.DebugLevel) // serve logs at info: debug is a superset to search for secrets
	svc, err := bot.New(bot.Config{
		TeamID: team, Channel: channel, SigningSecret: secret,
		Requesters: policy.Requesters, Approvers: policy.Approvers,
		Required: policy.Required, Expiry: policy.Expiry, Accounts: all,
		ExemptBaseline: true,
	}, bot.Deps{
		Engine: eng, Store: st, Audit: al, Approval: appr,
		Slack: bot.NewSlackClient(botToken, tap.APIURL(), ""), Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	router.Set(svc)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	m := &motoEnv{
		env: &env{t: t, st: st, audit: al, slack: fake, svc: svc, srv: hs,
			client: &http.Client{Timeout: 30 * time.Second}},
		org: org, admin: admin, engine: eng, shim: shim, tap: tap, logs: logs, ops: ops,
		tlog: &awsint.SyncBuffer{}, replies: &awsint.SyncBuffer{}, last: time.Now(),
	}
	t.Cleanup(func() {
		m.mark("(test)")
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		m.mark("shutdown")
		t.Logf("timings: %s", strings.Join(m.timings, ", "))
		if t.Failed() {
			// 40-character base64 runs are redacted: a failure must not print a secret
			t.Logf("service log (tail, redacted):\n%s", redacted(tailOf(logs.String(), 6000)))
		}
	})
	return m
}

// seedBaseline records, in st, an exemption baseline of every account
// taken at at: the principals exempt by tag or pattern now, as
// engine.ExemptBaseline reads them (what serve records), checked against
// the seed's own record of who is exempt by tag or pattern.
func seedBaseline(t testing.TB, st store.Store, eng *actions.Engine, accounts []string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	got, err := eng.ExemptBaseline(ctx, accounts)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if _, err := st.PutBaseline(ctx, a, at, got[a]); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(accounts) {
		t.Fatalf("exemption baseline of %d accounts, want %d", len(got), len(accounts))
	}
}

// checkBaselineSeeded: the baseline seedBaseline recorded names exactly the
// principals the seed made exempt by tag or pattern.
func checkBaselineSeeded(t testing.TB, st store.Store, org *awsint.Org) {
	t.Helper()
	for _, id := range org.IDs() {
		b, err := st.BaselineAt(context.Background(), id, time.Now().Add(-24*time.Hour))
		if err != nil {
			t.Fatalf("baseline of %s: %v", id, err)
		}
		var got, want []string
		for _, e := range b.Principals {
			got = append(got, actions.BaselineARN(e))
		}
		a := org.Accounts[id]
		for _, p := range append(append([]awsint.Principal(nil), a.Users...), a.Roles...) {
			if p.Exempt == awsint.ExemptTag || p.Exempt == awsint.ExemptPattern {
				want = append(want, p.ARN)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("the exemption baseline of %s names %v, the seed exempted by tag or pattern %v", id, got, want)
		}
	}
}

var redact40 = regexp.MustCompile(`[A-Za-z0-9/+]{40}`)

// redacted is s with every run of 40 base64 characters (what a secret
// access key looks like) replaced, for failure messages printed after
// rotate-keys: a failing test must not print a secret either.
func redacted(s string) string { return redact40.ReplaceAllString(s, "[40 characters redacted]") }

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// logf logs through t and keeps a copy, so the secrets check covers this
// test's own output.
func (m *motoEnv) logf(format string, args ...any) {
	m.t.Helper()
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(m.tlog, line)
	m.t.Log(line)
}

// slash runs "/killswitch text" as user; the response_url goes through the tap.
func (m *motoEnv) slash(user, text, hook string) slashReply {
	m.t.Helper()
	code, body := m.post("/slack/commands", slackfake.SlashBody(team, user, channel, text, m.tap.HookURL(hook)), time.Now())
	fmt.Fprintln(m.replies, body)
	if code != http.StatusOK {
		m.t.Fatalf("/killswitch %s: HTTP %d %s", text, code, body)
	}
	var r slashReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		m.t.Fatalf("/killswitch %s: reply %q: %v", text, body, err)
	}
	return r
}

// approve clicks Approve on the card ts of request id as user.
func (m *motoEnv) approve(user, id, ts string) {
	m.t.Helper()
	code, body := m.post("/slack/interactions", slackfake.BlockAction(team, user, channel, ts, bot.ActionApprove, id, m.tap.HookURL("click-"+user)), time.Now())
	fmt.Fprintln(m.replies, body)
	if code != http.StatusOK {
		m.t.Fatalf("approve %s: HTTP %d %s", id, code, body)
	}
}

// readState reads the organization with the test's own clients.
func (m *motoEnv) readState(secrets map[string]string) *awsint.OrgState {
	m.t.Helper()
	m.mark("(test)")
	s, err := awsint.ReadState(context.Background(), m.admin, m.org, secrets)
	if err != nil {
		m.t.Fatal(err)
	}
	m.mark("read state")
	return s
}

// finished waits for the request to end and for its card to show it, and
// returns the request; it must have succeeded.
func (m *motoEnv) finished(id, cardTS string) *store.Request {
	m.t.Helper()
	r := m.waitState(id, store.Succeeded, store.Partial, store.Failed)
	if r.State != store.Succeeded {
		m.t.Fatalf("request %s (%s) ended %s: %s\nresult: %s", id, r.Action, r.State, r.Error, redacted(string(r.Result)))
	}
	m.slack.Wait(m.t, 30*time.Second, "the card of "+id+" updated to succeeded", func([]slackfake.Call) bool {
		l, ok := m.slack.Latest(cardTS)
		return ok && l.Method == slackfake.Update && strings.Contains(l.AllText(), "succeeded") && len(l.Buttons()) == 0
	})
	return r
}

// threadText waits for a thread message of the card containing want and
// returns the whole thread's text.
func (m *motoEnv) threadText(cardTS, want string) string {
	m.t.Helper()
	m.slack.Wait(m.t, 30*time.Second, fmt.Sprintf("%q in the thread of %s", want, cardTS), func([]slackfake.Call) bool {
		for _, c := range m.slack.Thread(cardTS) {
			if strings.Contains(c.AllText(), want) {
				return true
			}
		}
		return false
	})
	var b strings.Builder
	for _, c := range m.slack.Thread(cardTS) {
		b.WriteString(c.AllText())
		b.WriteString("\n")
	}
	return b.String()
}

func (m *motoEnv) result(r *store.Request) *actions.Result {
	m.t.Helper()
	var res actions.Result
	if err := json.Unmarshal(r.Result, &res); err != nil {
		m.t.Fatalf("result of %s: %v: %s", r.ID, err, redacted(string(r.Result)))
	}
	return &res
}

func (m *motoEnv) storedPlan(r *store.Request) *actions.Plan {
	m.t.Helper()
	var p actions.Plan
	if err := json.Unmarshal(r.Plan, &p); err != nil {
		m.t.Fatalf("plan of %s: %v", r.ID, err)
	}
	return &p
}

func (m *motoEnv) request(id string) *store.Request {
	m.t.Helper()
	r, err := m.st.GetRequest(context.Background(), id)
	if err != nil {
		m.t.Fatal(err)
	}
	return r
}

// checkRun checks what the store and the audit log hold for a finished run:
// one stored and one audited step per step of the result, and every AWS
// call audited.
func (m *motoEnv) checkRun(r *store.Request, res *actions.Result) {
	m.t.Helper()
	t := m.t
	steps, err := m.st.Steps(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != len(res.Steps()) {
		t.Errorf("%s: %d steps stored, the result has %d", r.ID, len(steps), len(res.Steps()))
	}
	// the audit has each step of a run twice: "started" before its AWS
	// call, then its outcome (the stored status); an undo's steps once, with
	// their outcome (a resumed undo is re-run whole: undoing is idempotent)
	audited := map[string][]string{}
	for _, e := range m.auditEntries(r.ID) {
		if e.Event != bot.EventStep {
			continue
		}
		var ev struct{ Key, Status string }
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			t.Fatalf("audit entry %d: %v", e.Seq, err)
		}
		audited[ev.Key] = append(audited[ev.Key], ev.Status)
	}
	for _, s := range steps {
		var st actions.Step
		if err := json.Unmarshal(s.Data, &st); err != nil {
			t.Fatalf("step %s: %v", s.Key, err)
		}
		want := []string{actions.StepStarted, st.Status}
		if r.Kind == store.KindUndo {
			want = want[1:]
		}
		if got := audited[s.Key]; !slices.Equal(got, want) {
			t.Errorf("%s: step %s audited as %v, want %v", r.ID, s.Key, got, want)
		}
		delete(audited, s.Key)
	}
	if len(audited) > 0 {
		t.Errorf("%s: steps audited but not stored: %v", r.ID, sortedKeys(audited))
	}
	if n := m.events(r.ID, bot.EventApplyStarted); n != 1 {
		t.Errorf("%s: %d apply_started events", r.ID, n)
	}
	if n := m.events(r.ID, audit.EventAWSCall); n == 0 {
		t.Errorf("%s: no AWS call audited", r.ID)
	}
	for _, a := range res.Accounts {
		if a.Status != actions.StatusSucceeded || a.Error != "" {
			t.Errorf("%s: account %s %s: %s", r.ID, a.Account, a.Status, a.Error)
		}
	}
}

// auditedMutations counts the audited AWS calls that change something, over
// every request: "Service:Operation" → calls.
func (m *motoEnv) auditedMutations() map[string]int {
	m.t.Helper()
	out := map[string]int{}
	for _, e := range m.auditEntries("") {
		if e.Event != audit.EventAWSCall {
			continue
		}
		var c audit.Call
		if err := json.Unmarshal(e.Data, &c); err != nil {
			m.t.Fatalf("audit entry %d: %v", e.Seq, err)
		}
		if mutatingAction(c.Operation) {
			out[c.Service+":"+c.Operation]++
		}
	}
	return out
}

// checkAWSCalls: every change the service's factory made is in the audit
// log (the same operations, the same number of times), and every operation
// it made is one the rendered bot-policy allows.
func (m *motoEnv) checkAWSCalls() {
	m.t.Helper()
	ops := m.ops.snapshot()
	made, audited := mutating(ops), m.auditedMutations()
	keys := map[string]bool{}
	for k := range made {
		keys[k] = true
	}
	for k := range audited {
		keys[k] = true
	}
	for k := range keys {
		if made[k] != audited[k] {
			m.t.Errorf("%s: the factory made %d call(s), the audit log has %d", k, made[k], audited[k])
		}
	}
	allowed := map[string]bool{}
	for _, op := range policies.BotOperations() {
		allowed[op] = true
	}
	for k, n := range ops {
		service, op, _ := strings.Cut(k, ":")
		if service == awsapi.RootSessionService {
			// a member's root session (sts:AssumeRoot): its task policy, not
			// the bot's, decides what it may call
			if !slices.Contains(awsapi.RootTaskActions[awsapi.TaskDeleteRootCredentials], "iam:"+op) {
				m.t.Errorf("%s (%d calls) is not allowed by the root task policies", k, n)
			}
			continue
		}
		if k == "EC2:DeleteSnapshot" {
			// the guardrail canary's dry run, made as the canary role
			// (awsapi.CanaryRoleName), not as the bot: on the wire, the
			// shim saw no DeleteSnapshot but the canary's dry runs
			if real := m.shim.Operations()["ec2:DeleteSnapshot"]; real > 0 {
				m.t.Errorf("ec2:DeleteSnapshot: %d call(s) on the wire that are not the canary's dry run", real)
			}
			continue
		}
		p, ok := iamPrefix[service]
		action := p + ":" + op
		if a, renamed := iamActionOf[action]; renamed {
			action = a
		}
		if !ok || !allowed[action] {
			m.t.Errorf("%s (%d calls) is not allowed by the rendered bot-policy", k, n)
		}
	}
}

// iamPrefix maps the SDK's service ids (what RecordOperations reports) to
// IAM action prefixes.
var iamPrefix = map[string]string{
	"IAM": "iam", "Organizations": "organizations", "STS": "sts", "Secrets Manager": "secretsmanager",
	"SSO Admin": "sso", "identitystore": "identitystore",
	// backup-readiness's reads (lockdown's plan reads them too) and lock-backups
	"EC2": "ec2", "rbin": "rbin", "Backup": "backup", "S3": "s3",
}

// iamActionOf names the IAM action of an operation where the two differ.
var iamActionOf = map[string]string{
	"s3:ListBuckets":                "s3:ListAllMyBuckets",
	"s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}

// exemptReason is the reason killswitch gives each seeded exemption
// category; a trailing ":" marks a prefix.
func exemptReason(category string) string {
	switch category {
	case awsint.ExemptBot:
		return "the bot's own role (" + awsint.ResponderRole + ")"
	case awsint.ExemptPattern:
		return "break-glass pattern " + awsint.BreakGlassPattern
	case awsint.ExemptTag:
		return "break-glass tag " + awsint.BreakGlassTag
	case awsint.ExemptServiceLinked:
		return "service-linked role:"
	case awsint.ExemptIdentityCenter:
		return "IAM Identity Center role:"
	}
	return "?"
}

// seededExempt is every principal of account the seed made exempt that an
// action's plan must report: users for every mutating action, roles too
// when the action changes roles (deny-delete, revoke-sessions, lockdown),
// but for the IAM Identity Center roles the guardrail SCP binds.
func seededExempt(org *awsint.Org, account, action string) map[string]string {
	roles := false
	for _, ph := range awsint.Phases(action) {
		roles = roles || ph == actions.DenyDelete || ph == actions.RevokeSessions
	}
	out := map[string]string{}
	a := org.Accounts[account]
	ps := a.Users
	if roles {
		ps = append(append([]awsint.Principal(nil), a.Users...), a.Roles...)
	}
	for _, p := range ps {
		// deny-delete alone in a member account is the SCP, which binds IAM
		// Identity Center roles like every other principal: not exempt there
		if p.Exempt == awsint.ExemptIdentityCenter && action == actions.DenyDelete && account != org.Management {
			continue
		}
		if p.Exempt != "" {
			out[p.ARN] = exemptReason(p.Exempt)
		}
	}
	return out
}

// ceilSecond rounds t up to the second.
func ceilSecond(t time.Time) time.Time {
	t = t.UTC()
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

// revokeCutoff is the aws:TokenIssueTime cut-off of every
// KillSwitchRevokeOlderSessions policy in the state; they must all agree.
func revokeCutoff(t testing.TB, s *awsint.OrgState) time.Time {
	t.Helper()
	seen := map[string][]string{}
	for _, a := range s.Accounts {
		for arn, p := range a.Principals {
			doc, ok := p.Inline[actions.RevokePolicyName]
			if !ok {
				continue
			}
			var pol struct {
				Statement []struct {
					Condition map[string]map[string]string
				}
			}
			if err := json.Unmarshal([]byte(doc), &pol); err != nil || len(pol.Statement) != 1 {
				t.Fatalf("%s: %s is not one statement (%v): %s", arn, actions.RevokePolicyName, err, doc)
			}
			v := pol.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"]
			seen[v] = append(seen[v], arn)
		}
	}
	if len(seen) != 1 {
		t.Fatalf("want one revoke cut-off, found %d: %v", len(seen), seen)
	}
	for v := range seen {
		c, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatalf("aws:TokenIssueTime %q: %v", v, err)
		}
		return c
	}
	return time.Time{}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// short is a principal as cards show it: the ARN without
// "arn:aws:iam::ACCOUNT:".
func short(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 {
		return parts[5]
	}
	return arn
}

// checkPlanShown checks a plan (stored with a request, or answered to the
// plan command) against the seed, and that text (the card or the plan
// message) lists every account with its kind and every exemption with its
// reason.
func (m *motoEnv) checkPlanShown(what, action string, p *actions.Plan, text string) {
	m.t.Helper()
	t := m.t
	if p.Action != action || len(p.Accounts) != len(m.org.IDs()) {
		t.Fatalf("%s: plan of %s for %d accounts, want %s for %d", what, p.Action, len(p.Accounts), action, len(m.org.IDs()))
	}
	for i, ap := range p.Accounts {
		id := m.org.IDs()[i]
		kind := actions.KindMember
		if id == m.org.Management {
			kind = actions.KindManagement
		}
		if ap.Account != id || ap.Kind != kind || ap.Error != "" {
			t.Errorf("%s: account %d is %s (%s, error %q), want %s (%s)", what, i, ap.Account, ap.Kind, ap.Error, id, kind)
		}
		head := fmt.Sprintf("*%s* (%s): %s", id, kind, plural(len(ap.Targets), "target", "targets"))
		if !strings.Contains(text, head) {
			t.Errorf("%s does not list account %s as %q:\n%s", what, id, head, text)
		}
		if action == actions.FindBackdoors {
			continue
		}
		if len(ap.Targets) == 0 {
			t.Errorf("%s: no target in %s", what, id)
		}
		want := seededExempt(m.org, id, action)
		got := map[string]string{}
		for _, x := range ap.Exempt {
			got[x.Principal] = x.Reason
		}
		for arn, reason := range want {
			g, ok := got[arn]
			prefix := strings.HasSuffix(reason, ":")
			switch {
			case !ok:
				t.Errorf("%s: %s is not exempt (want %q)", what, arn, reason)
			case prefix && !strings.HasPrefix(g, reason), !prefix && g != reason:
				t.Errorf("%s: %s exempt because %q, want %q", what, arn, g, reason)
			}
			// the card shows up to 5 exemptions per account: the seed has 5
			if line := "_exempt_ `" + short(arn) + "`: " + reason; !strings.Contains(text, line) {
				t.Errorf("%s does not show the exemption %q:\n%s", what, line, text)
			}
		}
		for arn, reason := range got {
			if _, ok := want[arn]; !ok {
				t.Errorf("%s: unexpected exemption %s (%q)", what, arn, reason)
			}
		}
	}
}

// requestAndApprove requests action through Slack, checks the card, has a
// second responder approve it and waits for the run to succeed. n is the
// number of cards posted before.
func (m *motoEnv) requestAndApprove(action string, n int) (*store.Request, slackfake.Call) {
	m.t.Helper()
	t := m.t
	ack := m.slash(requester, action+" --all --incident INC-42 keys of the deploy user leaked", "req-"+action)
	if want := fmt.Sprintf("Planning %s on 3 accounts", action); !strings.Contains(ack.Text, want) || ack.ResponseType != "ephemeral" {
		t.Fatalf("ack %+v, want %q", ack, want)
	}
	card := m.card(n)
	id := card.Buttons()[bot.ActionApprove]
	if id == "" || card.Buttons()[bot.ActionReject] != id || card.Channel != channel {
		t.Fatalf("card buttons %v in %s", card.Buttons(), card.Channel)
	}
	text := card.AllText()
	for _, want := range []string{action, "INC-42", "keys of the deploy user leaked", "<@" + requester + ">", id, "3 accounts: " + strings.Join(m.org.IDs(), ", ")} {
		if !strings.Contains(text, want) {
			t.Errorf("the card does not show %q:\n%s", want, text)
		}
	}
	m.hookMessage("req-"+action, "waiting for approval")
	r := m.waitState(id, store.Pending)
	m.checkPlanShown("the card of "+id, action, m.storedPlan(r), text)
	if made := mutating(m.ops.snapshot()); len(made) > 0 {
		t.Fatalf("AWS changed before the approval: %v", made)
	}

	m.mark("request and card")
	// an approver takes longer than the second the plan was made in (the
	// plan's revoke cut-off is the planning time, the run's the pinned one)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	m.approve(approver, id, card.TS)
	done := m.finished(id, card.TS)
	m.mark("run")
	if as, _ := m.st.Approvals(context.Background(), id); len(as) != 1 || as[0].Approver != approver {
		t.Errorf("approvals of %s: %+v", id, as)
	}
	return done, card
}

// TestServiceOnMoto runs the Slack service in process, wired as `serve`
// with `aws.backend: aws` (the real client factory through the shim in front
// of moto, the responder role in every account, the organization's accounts
// discovered with ListAccounts), against a seeded organization of three
// accounts: every mutating action and lockdown requested with a signed
// slash command, its card checked, approved by a second responder, every
// effect checked through the SDK with the test's own clients, undone
// through Slack and the restored state checked; `/killswitch plan lockdown`
// and find-backdoors change nothing; the keys rotate-keys creates are in
// Secrets Manager and nowhere else.
func TestServiceOnMoto(t *testing.T) {
	srv := moto.StartT(t)
	shim, err := awsint.StartShim(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shim.Close() })
	ctx := context.Background()
	// setup resets moto, seeds a fresh organization and starts the service
	setup := func(t *testing.T) *motoEnv {
		t.Helper()
		if err := srv.Reset(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		org, err := awsint.Seed(ctx, srv.AWSConfig(ctx), serviceSeed)
		if err != nil {
			t.Fatalf("%v\nmoto output (tail):\n%s", err, tailOf(srv.Output(), 3000))
		}
		seeded := time.Since(start)
		m := newMotoEnv(t, srv, shim, org)
		checkBaselineSeeded(t, m.st, org)
		m.logf("seeded %d accounts in %s, started the service in %s", len(org.IDs()), seeded.Round(time.Millisecond), (time.Since(start) - seeded).Round(time.Millisecond))
		return m
	}

	for _, action := range []string{actions.DenyDelete, actions.RevokeSessions, actions.DisableUsers, actions.RotateKeys, actions.Lockdown} {
		t.Run(action, func(t *testing.T) {
			m := setup(t)
			org := m.org
			before := m.readState(nil)

			done, card := m.requestAndApprove(action, 0)
			ranUntil := time.Now()
			id := done.ID
			res := m.result(done)
			m.checkRun(done, res)
			// the thread reports the result per account
			thread := m.threadText(card.TS, action+" succeeded")
			steps := map[string]int{}
			for _, s := range res.Steps() {
				steps[s.Account]++
			}
			for _, acct := range org.IDs() {
				if want := fmt.Sprintf("*%s*: succeeded: %d done, 0 failed", acct, steps[acct]); steps[acct] == 0 || !strings.Contains(thread, want) {
					t.Errorf("the thread does not say %q:\n%s", want, redacted(thread))
				}
			}
			if !strings.Contains(thread, "/killswitch undo "+id) {
				t.Errorf("the thread does not say how to undo:\n%s", redacted(thread))
			}
			// nothing changed between plan and run: the thread must not report
			// a difference between the approved plan and what was done
			for _, diff := range []string{"Done but not in the approved plan", "Planned but not done"} {
				if strings.Contains(thread, diff) {
					t.Errorf("the thread reports %q on an unchanged organization:\n%s", diff, redacted(thread))
				}
			}

			// every effect, through the SDK
			after := m.readState(nil)
			// sessions issued before the instant the request was pinned are
			// revoked: aws:TokenIssueTime has one-second precision, so the
			// cut-off is that instant rounded up (as policies renders it)
			rb := ceilSecond(done.PinnedAt)
			if action == actions.RevokeSessions {
				if got := revokeCutoff(t, after); !got.Equal(rb) {
					t.Errorf("the revoke-sessions cut-off in AWS is %s, but %s was pinned at %s: sessions issued in the %s before the pin survive; want %s",
						got.Format(time.RFC3339), id, done.PinnedAt.Format(time.RFC3339Nano), done.PinnedAt.Sub(got), rb.Format(time.RFC3339))
					rb = got // the rest of the state is checked against the cut-off AWS got: one bug, one failure
				}
			}
			x := awsint.NewExpect(t, org, m.engine, rb)
			switch action {
			case actions.RevokeSessions:
				awsint.CheckPinnedRevokeTime(t, after, rb)
			case actions.Lockdown:
				// per account, after the last credential the run cut there
				// (and never before the pinned time)
				x.SetRevokeCutoffs(t, awsint.CheckLockdownRevokeTime(t, after, done.PinnedAt, ranUntil, res))
				awsint.CheckLockdownOrder(t, res)
			}
			if action == actions.DenyDelete || action == actions.Lockdown {
				awsint.CheckGuardrailUnconfirmed(t, res)
			}
			awsint.AssertState(t, "after "+action+" through the service", x.Applied(t, action, id, before, after), after)
			awsint.CheckBotRoleUntouched(t, org, before, after)

			// undo: its own card, its own approval
			ack := m.slash(requester, "undo "+id+" contained, restoring access", "undo-"+action)
			if !strings.Contains(ack.Text, "Preparing the undo of "+id) {
				t.Fatalf("undo ack %q", ack.Text)
			}
			undoCard := m.card(1)
			undoID := undoCard.Buttons()[bot.ActionApprove]
			irreversible := false
			for _, s := range res.Steps() {
				irreversible = irreversible || (s.Status == actions.StepDone && !s.Reversible)
			}
			if undoID == "" || undoID == id || !strings.Contains(undoCard.AllText(), "undo of "+action+" ("+id+")") ||
				strings.Contains(undoCard.AllText(), "cannot be undone") != irreversible {
				t.Fatalf("undo card %s (irreversible steps: %v):\n%s", undoID, irreversible, redacted(undoCard.AllText()))
			}
			m.approve(approver, undoID, undoCard.TS)
			m.mark("(test)")
			undone := m.finished(undoID, undoCard.TS)
			m.mark("undo run")
			ures := m.result(undone)
			m.checkRun(undone, ures)
			if undone.Kind != store.KindUndo || undone.UndoOf != id {
				t.Errorf("undo request %s: kind %s of %q", undoID, undone.Kind, undone.UndoOf)
			}
			restored := m.readState(nil)
			awsint.AssertState(t, "after the undo through the service", x.Undone(t, action, id, before, after), restored)
			awsint.CheckUndoWarnings(t, action, res, ures)
			awsint.CheckBotRoleUntouched(t, org, before, restored)

			// what cannot come back is said in the undo's thread
			uthread := m.threadText(undoCard.TS, "undo of "+action+" ("+id+") succeeded")
			lost := 0
			for _, s := range res.Steps() {
				if s.Op == "delete-login-profile" && s.Status == actions.StepDone {
					lost++
					if want := "the console password of " + s.Principal + " cannot be restored"; !strings.Contains(uthread, want) {
						t.Errorf("the undo's thread does not say %q:\n%s", want, redacted(uthread))
					}
				}
			}
			if wantLost := action == actions.DisableUsers || action == actions.Lockdown; (lost > 0) != wantLost {
				t.Errorf("%s deleted %d console passwords", action, lost)
			}

			m.checkAWSCalls()
			m.verifyAudit()
			if rejected := m.slack.Rejected(); len(rejected) > 0 {
				t.Errorf("Slack rejected %d call(s): %s %s", len(rejected), rejected[0].Method, rejected[0].Error)
			}
			m.logf("%s %s: %d steps in %d accounts; undo %s: %d steps; AWS operations made: %d",
				action, id, len(res.Steps()), len(res.Accounts), undoID, len(ures.Steps()), total(m.ops.snapshot()))

			if action == actions.RotateKeys {
				m.checkSecretsStayInSecretsManager(res)
			}
		})
	}

	t.Run("plan lockdown", func(t *testing.T) {
		m := setup(t)
		org := m.org
		before := m.readState(nil)
		ack := m.slash(requester, "plan lockdown", "plan")
		if !strings.Contains(ack.Text, "Planning lockdown on 3 accounts (read-only)") {
			t.Fatalf("ack %q", ack.Text)
		}
		msg := m.hookMessage("plan", "plan lockdown on 3 accounts")
		text := msg.AllText()
		if !msg.Ephem || !strings.Contains(text, "read-only: nothing was changed") {
			t.Errorf("plan reply (ephemeral %v):\n%s", msg.Ephem, text)
		}
		// the plan the service shows is the engine's plan, and it is right
		p, err := m.engine.Plan(ctx, actions.Lockdown, org.IDs(), actions.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m.checkPlanShown("the plan reply", actions.Lockdown, p, text)
		// every non-exempt user and role is a target, no exempt one is
		for _, ap := range p.Accounts {
			targets := map[string]bool{}
			for _, tg := range ap.Targets {
				targets[tg.Principal] = true
			}
			a := org.Accounts[ap.Account]
			for _, pr := range append(append([]awsint.Principal(nil), a.Users...), a.Roles...) {
				if targets[pr.ARN] == (pr.Exempt != "") {
					t.Errorf("%s: %s (exempt: %q) is a target: %v", ap.Account, pr.ARN, pr.Exempt, targets[pr.ARN])
				}
			}
		}
		tg, ch, ex := p.Counts()
		if want := fmt.Sprintf("%d targets, %d changes, %d exemptions", tg, ch, ex); !strings.Contains(text, want) {
			t.Errorf("the plan reply does not say %q:\n%s", want, text)
		}
		if rs := m.requests(); len(rs) != 0 {
			t.Errorf("planning made %d request(s)", len(rs))
		}
		if made := mutating(m.ops.snapshot()); len(made) > 0 {
			t.Errorf("planning changed AWS: %v", made)
		}
		awsint.AssertState(t, "after /killswitch plan lockdown", before, m.readState(nil))
		m.checkAWSCalls()
		m.logf("plan lockdown: %d targets, %d changes, %d exemptions", tg, ch, ex)
	})

	t.Run("find-backdoors", func(t *testing.T) {
		m := setup(t)
		org := m.org
		before := m.readState(nil)
		done, card := m.requestAndApprove(actions.FindBackdoors, 0)
		res := m.result(done)
		m.checkRun(done, res)
		if len(res.Steps()) != 0 {
			t.Errorf("find-backdoors recorded %d steps", len(res.Steps()))
		}
		thread := m.threadText(card.TS, "find-backdoors succeeded")
		for _, a := range res.Accounts {
			var findings []string
			for _, f := range a.Findings {
				findings = append(findings, f.Principal+": "+strings.Join(f.Changes, "; "))
			}
			vendor := "arn:aws:iam::" + a.Account + ":role/vendor-audit: "
			outside := "trusts arn:aws:iam::" + awsint.OutsideAccount + ":root, outside the accounts in scope"
			if !slices.ContainsFunc(findings, func(f string) bool { return strings.HasPrefix(f, vendor) && strings.Contains(f, outside) }) {
				t.Errorf("%s: no finding %q in %q", a.Account, vendor+outside, findings)
			}
			if len(findings) < len(org.Accounts[a.Account].Users)+1 {
				t.Errorf("%s: %d findings, want every user (all created just now) and vendor-audit: %q", a.Account, len(findings), findings)
			}
			// the thread shows the first 5 findings of each account and counts the rest
			if want := "*" + a.Account + "*: succeeded: 0 done, 0 failed"; !strings.Contains(thread, want) {
				t.Errorf("the thread does not say %q:\n%s", want, thread)
			}
			for _, f := range a.Findings[:min(5, len(a.Findings))] {
				if want := ":mag: `" + short(f.Principal) + "`: " + strings.Join(f.Changes, "; "); !strings.Contains(thread, want) {
					t.Errorf("the thread does not show the finding %q:\n%s", want, thread)
				}
			}
			if n := len(a.Findings) - 5; n > 0 && !strings.Contains(thread, fmt.Sprintf("…and %d more findings", n)) {
				t.Errorf("the thread does not count the %d findings it does not show:\n%s", n, thread)
			}
		}
		if strings.Contains(thread, "/killswitch undo") {
			t.Errorf("a read-only run offers an undo:\n%s", thread)
		}
		m.slash(requester, "undo "+done.ID+" nothing to undo", "undo")
		m.hookMessage("undo", "read-only: there is nothing to undo")
		if made := mutating(m.ops.snapshot()); len(made) > 0 {
			t.Errorf("find-backdoors changed AWS: %v", made)
		}
		awsint.AssertState(t, "after find-backdoors", before, m.readState(nil))
		m.checkAWSCalls()
		m.verifyAudit()
	})
}

// checkSecretsStayInSecretsManager reads the replacement keys' secrets from
// the emulator's Secrets Manager with the test's own clients and looks for
// each in everything the service handed out: every request body it sent to
// Slack (Web API calls, every form field, and response_url posts) and every
// call the fake Slack recorded, its answers to slash commands and clicks,
// every audit entry, its logrus output, the store's requests (plans,
// results, errors) and steps, and this test's own log. The new keys' ids
// are there (the haystacks are real); their secrets are not.
func (m *motoEnv) checkSecretsStayInSecretsManager(res *actions.Result) {
	t := m.t
	t.Helper()
	ctx := context.Background()
	// status answers are Slack messages too
	for _, r := range m.requests() {
		m.slash(requester, "status "+r.ID, "status")
	}
	m.slash(requester, "status", "status")

	secrets := map[string]string{}
	st := m.readState(secrets)
	// alice and ci-deploy (one key each) in each account; bob is at the
	// two-key limit, carol has no key, breakglass-oncall is exempt
	if want := 2 * len(m.org.IDs()); len(secrets) != want {
		t.Fatalf("%d secrets in Secrets Manager, want %d", len(secrets), want)
	}

	var slackCalls strings.Builder
	for _, c := range m.slack.Calls() {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		slackCalls.Write(b)
		slackCalls.WriteString("\n" + c.AllText() + "\n")
	}
	var auditText strings.Builder
	recs, err := m.st.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range recs {
		fmt.Fprintf(&auditText, "%d %s %s %s %s %s\n", e.Seq, e.Actor, e.RequestID, e.Event, e.Data, e.Hash)
	}
	for _, e := range m.auditEntries("") {
		fmt.Fprintf(&auditText, "%s\n", e.Data)
	}
	var stored strings.Builder
	for _, r := range m.requests() {
		fmt.Fprintf(&stored, "%s %s %s %s %s %s\nplan %s\nresult %s\nerror %s\n", r.ID, r.Kind, r.Action, r.State, r.Reason, r.UndoOf, r.Plan, r.Result, r.Error)
		steps, err := m.st.Steps(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			fmt.Fprintf(&stored, "step %s %s\n", s.Key, s.Data)
		}
	}

	// what the test logs: the results and the new key ids, never a secret
	var newKeys []string
	for _, name := range sortedKeys(secrets) {
		acct, secretName, _ := strings.Cut(name, "/")
		f := st.Accounts[acct].Secrets[secretName]
		newKeys = append(newKeys, f.AccessKeyID)
		m.logf("rotated: %s holds the new key %s of %s/%s (a %d-character secret, not shown)", name, f.AccessKeyID, f.Account, f.UserName, f.SecretLen)
	}
	b, _ := json.Marshal(res)
	m.logf("rotate-keys result: %s", b)

	haystacks := map[string]string{
		"the request bodies sent to Slack (Web API and response_url)": m.tap.Text(),
		"the calls the fake Slack recorded":                           slackCalls.String(),
		"the answers to slash commands and clicks":                    m.replies.String(),
		"the audit log":                  auditText.String(),
		"the service's logrus output":    m.logs.String(),
		"the store's requests and steps": stored.String(),
		"the test's own log":             m.tlog.String(),
	}
	for name, secret := range secrets {
		acct, secretName, _ := strings.Cut(name, "/")
		f := st.Accounts[acct].Secrets[secretName]
		if len(secret) != 40 || f.AccessKeyID == "" || f.Request != res.RequestID {
			t.Errorf("secret %s: key id %q, request %q and a %d-character secret", name, f.AccessKeyID, f.Request, len(secret))
			continue
		}
		for where, text := range haystacks {
			for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
				if strings.Contains(text, form) {
					t.Errorf("the secret access key stored in %s appears in %s", name, where) // never print it
					break
				}
			}
		}
	}
	// the haystacks hold what they should
	for _, k := range newKeys {
		for _, where := range []string{"the store's requests and steps", "the test's own log"} {
			if !strings.Contains(haystacks[where], k) {
				t.Errorf("the new key id %s is not in %s: the capture is not capturing", k, where)
			}
		}
	}
	for where, want := range map[string]string{
		"the request bodies sent to Slack (Web API and response_url)": "rotate-keys succeeded",
		"the calls the fake Slack recorded":                           "undo of rotate-keys",
		"the answers to slash commands and clicks":                    res.RequestID,
		"the audit log":               `"operation":"CreateAccessKey"`,
		"the service's logrus output": "run finished",
	} {
		if !strings.Contains(haystacks[where], want) {
			t.Errorf("%s does not contain %q: the capture is not capturing", where, want)
		}
	}
	sizes := map[string]int{}
	for k, v := range haystacks {
		sizes[k] = len(v)
	}
	m.logf("searched %d secrets in %v bytes", len(secrets), sizes)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
