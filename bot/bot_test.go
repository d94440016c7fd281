package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

const (
	testSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	testToken  = "xoxb-test-token"
	team       = "T0001"
	channel    = "C0001"
	requester  = "U0001"
	approver   = "U0002"
	approver2  = "U0003"
	outsider   = "U0999"
)

type fixture struct {
	svc   *Service
	srv   *httptest.Server
	slack *slackfake.Fake
	st    store.Store
	org   *sim.Org
	audit *audit.Log
	logs  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

func parseQuery(form string) (string, error) {
	v, err := url.ParseQuery(form)
	return v.Get("payload"), err
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// newFixture starts the service on the codespaces simulation; tweaks
// change its configuration before it is built.
func newFixture(t testing.TB, engine Engine, tweaks ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, engine, storetest.Open(t, store.DriverSQLite), tweaks...)
}

// newFixtureOn is newFixture on a given store (a restart, a replica).
func newFixtureOn(t testing.TB, engine Engine, st store.Store, tweaks ...func(*Config)) *fixture {
	t.Helper()
	org, err := sim.Builtin("codespaces")
	if err != nil {
		t.Fatal(err)
	}
	al := audit.New(st, nil)
	appr := &approval.Service{Store: st, Audit: al, Policy: approval.Policy{
		Requesters: []string{requester, approver}, Approvers: []string{approver, approver2}, Required: 1, Expiry: 15 * time.Minute,
	}}
	router := &CallRouter{}
	if engine == nil {
		eng, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
			BreakGlassPatterns: []string{"arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::*:user/breakglass-*"},
			BreakGlassTag:      "killswitch:break-glass", OnCall: router.OnCall,
		})
		if err != nil {
			t.Fatal(err)
		}
		engine = eng
	}
	fake := slackfake.New(t, testToken)
	logs := &lockedBuffer{}
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(logs)
	log.SetLevel(logrus.DebugLevel)
	cfg := Config{
		TeamID: team, Channel: channel, SigningSecret: testSecret,
		Requesters: []string{requester, approver}, Approvers: []string{approver, approver2}, Required: 1,
		Expiry: 15 * time.Minute, Accounts: org.Accounts(),
	}
	for _, tw := range tweaks {
		tw(&cfg)
	}
	svc, err := New(cfg, Deps{
		Engine: engine, Store: st, Audit: al, Approval: appr,
		Slack: slack.New(testToken, slack.OptionAPIURL(fake.APIURL()+"/")), Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	router.Set(svc)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &fixture{svc: svc, srv: srv, slack: fake, st: st, org: org, audit: al, logs: logs}
}

func (f *fixture) do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) slash(t testing.TB, user, text string) (int, reply) {
	t.Helper()
	body := slackfake.SlashBody(team, user, channel, text, f.slack.HookURL(user))
	code, out := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/commands", testSecret, time.Now(), body))
	var r reply
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("slash reply %q: %v", out, err)
		}
	}
	return code, r
}

func (f *fixture) assertNothingHappened(t *testing.T) {
	t.Helper()
	time.Sleep(50 * time.Millisecond) // let any (wrongly) spawned work show
	if calls := f.slack.Calls(); len(calls) > 0 {
		t.Errorf("Slack was called: %+v", calls)
	}
	reqs, err := f.st.ListRequests(context.Background(), store.Filter{})
	if err != nil || len(reqs) > 0 {
		t.Errorf("requests in the store: %d (%v)", len(reqs), err)
	}
	entries, err := f.audit.Entries(context.Background(), "")
	if err != nil || len(entries) > 0 {
		t.Errorf("audit entries: %d (%v)", len(entries), err)
	}
}

func TestSignatureVerification(t *testing.T) {
	f := newFixture(t, nil)
	body := slackfake.SlashBody(team, requester, channel, "lockdown --all attacker", f.slack.HookURL("x"))
	url := f.srv.URL + "/slack/commands"
	unsigned := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	cases := []struct {
		name string
		req  func() *http.Request
		code int
	}{
		{"unsigned", unsigned, http.StatusUnauthorized},
		{"wrong secret", func() *http.Request { return slackfake.SignedRequest(t, url, "not-the-secret", time.Now(), body) }, http.StatusUnauthorized},
		{"six minutes old", func() *http.Request {
			return slackfake.SignedRequest(t, url, testSecret, time.Now().Add(-6*time.Minute), body)
		}, http.StatusUnauthorized},
		{"six minutes ahead", func() *http.Request {
			return slackfake.SignedRequest(t, url, testSecret, time.Now().Add(6*time.Minute), body)
		}, http.StatusUnauthorized},
		{"body changed after signing", func() *http.Request {
			signed := slackfake.SignedRequest(t, url, testSecret, time.Now(), body)
			r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(strings.Replace(body, "lockdown", "disable-users", 1)))
			r.Header = signed.Header.Clone()
			return r
		}, http.StatusUnauthorized},
		{"garbage signature", func() *http.Request {
			r := slackfake.SignedRequest(t, url, testSecret, time.Now(), body)
			r.Header.Set("X-Slack-Signature", "v0=zz")
			return r
		}, http.StatusUnauthorized},
		{"signature without v0", func() *http.Request {
			r := slackfake.SignedRequest(t, url, testSecret, time.Now(), body)
			r.Header.Set("X-Slack-Signature", strings.TrimPrefix(r.Header.Get("X-Slack-Signature"), "v0="))
			return r
		}, http.StatusUnauthorized},
		{"too large", func() *http.Request {
			big := body + "&pad=" + strings.Repeat("a", DefaultMaxBody)
			return slackfake.SignedRequest(t, url, testSecret, time.Now(), big)
		}, http.StatusRequestEntityTooLarge},
		{"interactions unsigned", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/slack/interactions", strings.NewReader(slackfake.BlockAction(team, approver, channel, "1.2", "approve", "ks-1", "")))
			return r
		}, http.StatusUnauthorized},
		{"interactions old", func() *http.Request {
			return slackfake.SignedRequest(t, f.srv.URL+"/slack/interactions", testSecret, time.Now().Add(-6*time.Minute),
				slackfake.BlockAction(team, approver, channel, "1.2", "approve", "ks-1", ""))
		}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := f.do(t, c.req())
			if code != c.code {
				t.Fatalf("status %d (%q), want %d", code, out, c.code)
			}
			if len(out) > 40 {
				t.Fatalf("the refusal is not terse: %q", out)
			}
		})
	}
	f.assertNothingHappened(t)
	// a captured request replayed within the window
	helpBody := slackfake.SlashBody(team, requester, channel, "help", "")
	first := slackfake.SignedRequest(t, url, testSecret, time.Now(), helpBody)
	replay := slackfake.SignedRequest(t, url, testSecret, time.Now(), helpBody)
	replay.Header = first.Header.Clone()
	if code, _ := f.do(t, first); code != http.StatusOK {
		t.Fatalf("first: %d", code)
	}
	if code, _ := f.do(t, replay); code != http.StatusUnauthorized {
		t.Fatalf("replay: %d, want 401", code)
	}
	logs := f.logs.String()
	for _, secret := range []string{testSecret, testToken, "attacker"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "timestamp outside the 5-minute window") || !strings.Contains(logs, "invalid signature") || !strings.Contains(logs, "missing signature headers") || !strings.Contains(logs, "replayed request") {
		t.Errorf("the log does not name the failure kinds:\n%s", logs)
	}
}

func TestCommandRefusals(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, team, user, text, want string
	}{
		{"another workspace", "T0666", requester, "lockdown --all attacker", "this killswitch serves another workspace"},
		{"unlisted user", team, outsider, "lockdown --all attacker", "not on this killswitch's responder list"},
		{"unlisted user asks for help", team, outsider, "help", "not on this killswitch's responder list"},
		{"missing reason", team, requester, "lockdown --all --incident INC-1", "a reason is required: /killswitch lockdown --all --incident INC-1 attacker has console access"},
		{"unknown action", team, requester, "nuke --all now", `unknown action or command "nuke": actions are contain-identity-center, deny-delete`},
		{"bad account", team, requester, "lockdown --accounts 1234 x", "an account id is 12 digits"},
		{"account not configured", team, requester, "lockdown --accounts 999999999999 x", "not configured for killswitch"},
		{"approver-only user cannot request", team, approver2, "lockdown --all attacker", "not allowed to request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := slackfake.SlashBody(c.team, c.user, channel, c.text, f.slack.HookURL(c.user))
			code, out := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/commands", testSecret, time.Now(), body))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, out)
			}
			var r reply
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			if r.ResponseType != "ephemeral" || !strings.Contains(strings.ToLower(r.Text), strings.ToLower(c.want)) {
				t.Fatalf("reply %+v, want an ephemeral message containing %q", r, c.want)
			}
		})
	}
	f.assertNothingHappened(t)
}

func TestHelpActionsStatus(t *testing.T) {
	f := newFixture(t, nil)
	for text, want := range map[string]string{
		"":                   "/killswitch plan ACTION",
		"help":               "lockdown --all --incident INC-1",
		"actions":            "`lockdown` (mutating",
		"status":             "No requests yet",
		"status ks-00000000": "not found",
		"cancel ks-00000000": "not found",
	} {
		code, r := f.slash(t, requester, text)
		if code != http.StatusOK || !strings.Contains(r.Text, want) {
			t.Errorf("%q: %d %q, want %q", text, code, r.Text, want)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	f := newFixture(t, nil)
	if code, _ := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/commands", "wrong", time.Now(), "x=1")); code != http.StatusUnauthorized {
		t.Fatalf("wrongly signed: %d", code)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  `"store":"ok"`,
		"/metrics": `killswitch_slack_requests_total{endpoint="commands",outcome="unauthorized"} 1`,
	} {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want %q", path, resp.StatusCode, b, want)
		}
	}
	resp, err := http.Get(f.srv.URL + "/slack/commands")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /slack/commands: %d", resp.StatusCode)
	}
	_ = f.st.Close()
	resp, err = http.Get(f.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with a closed store: %d", resp.StatusCode)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{TeamID: "nope", Channel: "x", Accounts: []string{"1"}}, Deps{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"team id", "channel", "signing secret", "requester", "12 digits", "required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// hugePlan has many accounts, each with many targets, exemptions and warnings.
func hugePlan(accounts, targets int) *actions.Plan {
	p := &actions.Plan{Action: "lockdown"}
	for a := 0; a < accounts; a++ {
		ap := actions.AccountPlan{Account: fmt.Sprintf("%012d", 100000000000+a), Kind: "member"}
		for i := 0; i < targets; i++ {
			ap.Targets = append(ap.Targets, actions.Target{
				Principal: fmt.Sprintf("arn:aws:iam::%s:user/%s/user-%04d", ap.Account, strings.Repeat("p", 100), i),
				Changes:   []string{"delete login profile", "deactivate access key AKIA" + strings.Repeat("X", 16), "deny sessions issued before now <!channel> & <@U1>"},
			})
			ap.Exempt = append(ap.Exempt, actions.Exemption{Principal: fmt.Sprintf("arn:aws:iam::%s:role/BreakGlass%d", ap.Account, i), Reason: strings.Repeat("break-glass pattern ", 30)})
			ap.Warnings = append(ap.Warnings, strings.Repeat("warning é ", 100))
		}
		p.Accounts = append(p.Accounts, ap)
	}
	return p
}

func checkBlocks(t *testing.T, text string, blocks []slack.Block) {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var generic []map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	if e := slackfake.CheckMessage(text, generic); e != "" {
		t.Fatalf("Slack would reject the message: %s (%d blocks)", e, len(generic))
	}
	if strings.Contains(string(raw), "<!channel>") || strings.Contains(string(raw), "<@U1>") {
		t.Fatal("user text was not escaped")
	}
}

func TestCardWithinSlackLimits(t *testing.T) {
	for _, size := range []struct{ accounts, targets int }{{1, 0}, {1, 3}, {1, 2000}, {45, 10}, {300, 20}} {
		t.Run(fmt.Sprintf("%dx%d", size.accounts, size.targets), func(t *testing.T) {
			p := hugePlan(size.accounts, size.targets)
			planJSON, _ := json.Marshal(p)
			var accounts []string
			for _, a := range p.Accounts {
				accounts = append(accounts, a.Account)
			}
			r := &store.Request{ID: "ks-0badc0de", Kind: store.KindAction, Action: "lockdown", Accounts: accounts,
				Reason: strings.Repeat("<!channel> attacker & co ", 20), Incident: "INC-7", Requester: requester,
				Plan: planJSON, State: store.Pending, ExpiresAt: time.Now().Add(time.Hour)}
			for _, st := range store.States {
				r.State = st
				blocks := renderCard(cardView{Req: r, Plan: p, Required: 2, Approvals: []store.Approval{{Approver: approver}}})
				checkBlocks(t, cardText(r), blocks)
				raw, _ := json.Marshal(blocks)
				hasButtons := strings.Contains(string(raw), `"action_id":"approve"`)
				if hasButtons != (st == store.Pending) {
					t.Fatalf("state %s: buttons shown = %v", st, hasButtons)
				}
				if size.targets > showTargets && !strings.Contains(string(raw), "more targets") {
					t.Fatalf("no \"…and N more targets\" with %d targets", size.targets)
				}
			}
			text, blocks := planMessage(p)
			checkBlocks(t, text, blocks)
			res := &actions.Result{Action: "lockdown", Status: actions.StatusPartial}
			for _, a := range p.Accounts {
				ar := actions.AccountResult{Account: a.Account, Status: actions.StatusPartial, Warnings: a.Warnings}
				for i, tg := range a.Targets {
					st := actions.Step{Principal: tg.Principal, Change: tg.Changes[0], Status: actions.StepDone}
					if i%7 == 0 {
						st.Status, st.Error = actions.StepFailed, strings.Repeat("AccessDenied <!here> ", 40)
					}
					ar.Steps = append(ar.Steps, st)
				}
				res.Accounts = append(res.Accounts, ar)
			}
			un, nd := actions.Diff(p, res)
			text, blocks = resultMessage(resultView{Req: r, Result: res, Unplanned: append(un, strings.Repeat("x", 5000)), NotDone: nd, Err: strings.Repeat("e", 5000)})
			checkBlocks(t, text, blocks)
		})
	}
}

func TestCardButtons(t *testing.T) {
	r := &store.Request{ID: "ks-12345678", Kind: store.KindAction, Action: "lockdown", Accounts: []string{"111122223333"},
		Reason: "x", Requester: requester, State: store.Pending, ExpiresAt: time.Now().Add(time.Hour)}
	raw, _ := json.Marshal(renderCard(cardView{Req: r, Required: 1}))
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	call := slackfake.Call{Blocks: blocks}
	b := call.Buttons()
	if b[ActionApprove] != r.ID || b[ActionReject] != r.ID {
		t.Fatalf("buttons %v", b)
	}
	for id, style := range map[string]string{ActionApprove: "primary", ActionReject: "danger"} {
		btn := call.Button(id)
		if btn["style"] != style || btn["confirm"] == nil {
			t.Fatalf("button %s: %v", id, btn)
		}
	}
}

// fakeAcker records Socket Mode acknowledgements.
type fakeAcker struct {
	mu   sync.Mutex
	acks []ackRecord
}

type ackRecord struct {
	envelope string
	payload  []any
}

func (a *fakeAcker) Ack(req socketmode.Request, payload ...any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acks = append(a.acks, ackRecord{envelope: req.EnvelopeID, payload: payload})
	return nil
}

func TestSocketModeDispatch(t *testing.T) {
	f := newFixture(t, nil)
	a := &fakeAcker{}
	slash := func(envelope, teamID, user, text string) reply {
		f.svc.dispatchSocket(a, socketmode.Event{Type: socketmode.EventTypeSlashCommand,
			Data:    slack.SlashCommand{TeamID: teamID, UserID: user, ChannelID: channel, Text: text, ResponseURL: f.slack.HookURL(user)},
			Request: &socketmode.Request{Type: "slash_commands", EnvelopeID: envelope}})
		a.mu.Lock()
		defer a.mu.Unlock()
		last := a.acks[len(a.acks)-1]
		if last.envelope != envelope || len(last.payload) != 1 {
			t.Fatalf("ack %+v for envelope %s", last, envelope)
		}
		return last.payload[0].(reply)
	}
	if r := slash("e1", team, requester, "help"); !strings.Contains(r.Text, "/killswitch plan ACTION") {
		t.Fatalf("help over socket mode: %q", r.Text)
	}
	if r := slash("e2", "T0666", requester, "help"); !strings.Contains(r.Text, "another workspace") {
		t.Fatalf("other team over socket mode: %q", r.Text)
	}
	r := slash("e3", team, requester, "deny-delete --all --incident INC-9 attacker deleting snapshots")
	if !strings.Contains(r.Text, "Planning deny-delete on 1 account") {
		t.Fatalf("request over socket mode: %q", r.Text)
	}
	calls := f.slack.Wait(t, 20*time.Second, "the approval card", func(calls []slackfake.Call) bool {
		for _, c := range calls {
			if c.Method == slackfake.PostMessage && c.ThreadTS == "" && c.Buttons()[ActionApprove] != "" {
				return true
			}
		}
		return false
	})
	var card slackfake.Call
	for _, c := range calls {
		if c.Method == slackfake.PostMessage && c.Buttons()[ActionApprove] != "" {
			card = c
		}
	}
	id := card.Buttons()[ActionApprove]
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(mustPayload(t, slackfake.BlockAction(team, approver, channel, card.TS, ActionApprove, id, ""))), &cb); err != nil {
		t.Fatal(err)
	}
	f.svc.dispatchSocket(a, socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb,
		Request: &socketmode.Request{Type: "interactive", EnvelopeID: "e4"}})
	a.mu.Lock()
	last := a.acks[len(a.acks)-1]
	a.mu.Unlock()
	if last.envelope != "e4" || len(last.payload) != 0 {
		t.Fatalf("interaction ack %+v", last)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := f.st.GetRequest(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if req.State == store.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s is %s after the socket-mode approval", id, req.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustPayload(t *testing.T, form string) string {
	t.Helper()
	v, err := parseQuery(form)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// BenchmarkSlashAck measures the acknowledgement path of a slash command:
// signature check, parse, the audit write of the accepted command, and
// scheduling the background work (a plan on a stub engine that answers at
// once and reports to the requester with chat.postEphemeral).
func BenchmarkSlashAck(b *testing.B) {
	f := newFixture(b, stubEngine{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// every Slack request is unique (trigger_id): a repeated one is a replay
		body := slackfake.SlashBody(team, requester, channel, "plan lockdown --all", "")
		req := slackfake.SignedRequest(b, f.srv.URL+"/slack/commands", testSecret, time.Now(), body)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// stubEngine plans instantly and changes nothing.
type stubEngine struct{}

func (stubEngine) Plan(_ context.Context, action string, accounts []string, _ actions.Options) (*actions.Plan, error) {
	p := &actions.Plan{Action: action}
	for _, a := range accounts {
		p.Accounts = append(p.Accounts, actions.AccountPlan{Account: a, Targets: []actions.Target{}, Exempt: []actions.Exemption{}, Warnings: []string{}})
	}
	return p, nil
}

func (stubEngine) Apply(_ context.Context, action string, accounts []string, _ actions.Options, _ actions.Recorder) (*actions.Result, error) {
	return &actions.Result{Action: action, Status: actions.StatusSucceeded}, nil
}

func (stubEngine) Undo(_ context.Context, action string, _ []actions.Step, _ actions.Options, _ actions.Recorder) (*actions.Result, error) {
	return &actions.Result{Action: action, Undo: true, Status: actions.StatusSucceeded}, nil
}

// TestCardSaysWhatTheDefensesCost: the card of every action whose defenses
// cost something lists each cost, one line each (undo cards do not).
func TestCardSaysWhatTheDefensesCost(t *testing.T) {
	for _, info := range actions.Catalog() {
		r := &store.Request{ID: "ks-0c0570ff", Kind: store.KindAction, Action: info.Name, Accounts: []string{"111122223333"},
			Reason: "intruder", Requester: requester, State: store.Pending, ExpiresAt: time.Now().Add(time.Hour)}
		raw, _ := json.Marshal(renderCard(cardView{Req: r, Plan: &actions.Plan{Action: info.Name}, Required: 1}))
		for _, c := range info.Costs {
			if !strings.Contains(string(raw), esc(c)) {
				t.Errorf("the %s card does not say: %s", info.Name, c)
			}
		}
		if strings.Contains(string(raw), "What it costs") != (len(info.Costs) > 0) {
			t.Errorf("the %s card: a costs section %v, costs %d", info.Name, strings.Contains(string(raw), "What it costs"), len(info.Costs))
		}
		r.Kind = store.KindUndo
		if raw, _ := json.Marshal(renderCard(cardView{Req: r, Plan: &actions.Plan{Action: info.Name}, Required: 1})); strings.Contains(string(raw), "What it costs") {
			t.Errorf("an undo of %s shows the costs of the action", info.Name)
		}
	}
	if info, _ := actions.Lookup(actions.Lockdown); len(info.Costs) < 3 {
		t.Errorf("lockdown's costs: %v", info.Costs)
	}
}

// TestResultSaysWhenTheGuardrailWasConfirmed: the thread's result tells,
// per account, how long the guardrail took to be shown in effect, or that
// it was not.
func TestResultSaysWhenTheGuardrailWasConfirmed(t *testing.T) {
	ok := accountResultText(actions.AccountResult{Account: "111122223333", Status: actions.StatusSucceeded, Guardrail: &actions.GuardrailCheck{Confirmed: true, AfterS: 4.2}})
	if !strings.Contains(ok, "guardrail confirmed in effect after 4.2s") {
		t.Errorf("confirmed: %s", ok)
	}
	no := accountResultText(actions.AccountResult{Account: "111122223333", Status: actions.StatusSucceeded, Guardrail: &actions.GuardrailCheck{AfterS: 60, Note: "the canary's dry run still succeeded after 1m0s"}})
	if !strings.Contains(no, "guardrail NOT confirmed after 60.0s (the canary") {
		t.Errorf("not confirmed: %s", no)
	}
	if none := accountResultText(actions.AccountResult{Account: "111122223333", Status: actions.StatusSucceeded}); strings.Contains(none, "guardrail") {
		t.Errorf("no check, yet: %s", none)
	}
}
