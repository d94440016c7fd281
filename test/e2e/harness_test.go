// Package e2e drives killswitch end to end: in-process (the bot's HTTP
// handler on httptest, a fake Slack, the simulated AWS organization, a real
// SQLite store) and as a process (the built binary, SIGTERM and SIGKILL,
// restart, `audit verify`). Nothing here is skipped: a missing dependency
// fails the test.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

const (
	secret    = "e2e-signing-secret-0123456789abcdef"
	botToken  = "xoxb-e2e-bot-token"
	team      = "T0001"
	channel   = "C0001"
	requester = "U0001" // requester and approver
	approver  = "U0002"
	approver2 = "U0003"
	outsider  = "U0999"
	acct      = "111122223333" // the codespaces account
)

var breakGlass = []string{"arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::*:user/breakglass-*"}

// clock is an adjustable clock for expiry.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// watchedEngine records when plans finish.
type watchedEngine struct {
	bot.Engine
	plansDone atomic.Int64
}

func (w *watchedEngine) Plan(ctx context.Context, action string, accounts []string, opt actions.Options) (*actions.Plan, error) {
	p, err := w.Engine.Plan(ctx, action, accounts, opt)
	w.plansDone.Add(1)
	return p, err
}

type options struct {
	required int
	expiry   time.Duration
	faults   []sim.Fault
	logLevel logrus.Level
	workers  int // bot.Config.Workers (0: default)
	queue    int // bot.Config.Queue (0: default)
	// shared with an earlier env (a restart of the service)
	org   *sim.Org
	st    store.Store
	slack *slackfake.Fake
}

// env is one in-process killswitch with its fake Slack and simulated org.
type env struct {
	t      testing.TB
	org    *sim.Org
	st     store.Store
	audit  *audit.Log
	slack  *slackfake.Fake
	svc    *bot.Service
	srv    *httptest.Server
	engine *watchedEngine
	clock  *clock
	client *http.Client
	// stopped: the test shut the service down itself
	stopped bool
}

func newEnv(t testing.TB, o options) *env {
	t.Helper()
	if o.required == 0 {
		o.required = 1
	}
	if o.expiry == 0 {
		o.expiry = 15 * time.Minute
	}
	org := o.org
	if org == nil {
		var err error
		if org, err = sim.Builtin("codespaces"); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range o.faults {
		org.InjectFault(f)
	}
	st := o.st
	if st == nil {
		st = storetest.Open(t, store.DriverSQLite)
	}
	clk := &clock{}
	al := audit.New(st, clk.Now)
	appr := &approval.Service{Store: st, Audit: al, Now: clk.Now, Policy: approval.Policy{
		Requesters: []string{requester, approver}, Approvers: []string{approver, approver2, requester},
		Required: o.required, Expiry: o.expiry,
	}}
	router := &bot.CallRouter{}
	eng, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: "killswitch:break-glass", OnCall: router.OnCall,
	})
	if err != nil {
		t.Fatal(err)
	}
	fake := o.slack
	if fake == nil {
		fake = slackfake.New(t, botToken)
	}
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(io.Discard)
	if testing.Verbose() {
		log.SetOutput(&testWriter{t: t})
	}
	log.SetLevel(o.logLevel)
	if o.logLevel == 0 {
		log.SetLevel(logrus.InfoLevel)
	}
	watched := &watchedEngine{Engine: eng}
	svc, err := bot.New(bot.Config{
		TeamID: team, Channel: channel, SigningSecret: secret,
		Requesters: []string{requester, approver}, Approvers: []string{approver, approver2, requester},
		Required: o.required, Expiry: o.expiry, Accounts: org.Accounts(), SweepInterval: 200 * time.Millisecond,
		Workers: o.workers, Queue: o.queue,
	}, bot.Deps{
		Engine: watched, Store: st, Audit: al, Approval: appr, Log: log, Now: clk.Now,
		Slack: slack.New(botToken, slack.OptionAPIURL(fake.APIURL()+"/")),
	})
	if err != nil {
		t.Fatal(err)
	}
	router.Set(svc)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	e := &env{t: t, org: org, st: st, audit: al, slack: fake, svc: svc, srv: srv, engine: watched, clock: clk,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}}
	t.Cleanup(func() {
		srv.Close()
		if e.stopped {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// slashReply is the immediate answer to a slash command.
type slashReply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

func (e *env) post(path, body string, ts time.Time) (int, string) {
	e.t.Helper()
	resp, err := e.client.Do(slackfake.SignedRequest(e.t, e.srv.URL+path, secret, ts, body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// slash runs "/killswitch text" as user in the team; the response_url is
// the fake's hook named hook.
func (e *env) slashAs(teamID, user, text, hook string) slashReply {
	e.t.Helper()
	code, body := e.post("/slack/commands", slackfake.SlashBody(teamID, user, channel, text, e.slack.HookURL(hook)), time.Now())
	if code != http.StatusOK {
		e.t.Fatalf("/killswitch %s: HTTP %d %s", text, code, body)
	}
	var r slashReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		e.t.Fatalf("/killswitch %s: reply %q: %v", text, body, err)
	}
	if r.ResponseType != "ephemeral" {
		e.t.Fatalf("/killswitch %s: reply is not ephemeral: %q", text, body)
	}
	return r
}

func (e *env) slash(user, text, hook string) slashReply { return e.slashAs(team, user, text, hook) }

// click presses a card button.
func (e *env) click(user, actionID, requestID, ts string) int {
	e.t.Helper()
	code, _ := e.post("/slack/interactions", slackfake.BlockAction(team, user, channel, ts, actionID, requestID, e.slack.HookURL("click-"+user)), time.Now())
	return code
}

// card waits for the approval card posted after n earlier cards and
// returns it.
// isCard: a top-level message with an Approve button.
func isCard(c slackfake.Call) bool {
	return c.Method == slackfake.PostMessage && c.ThreadTS == "" && c.Buttons()[bot.ActionApprove] != ""
}

func (e *env) card(n int) slackfake.Call {
	e.t.Helper()
	return e.slack.WaitNth(e.t, 30*time.Second, fmt.Sprintf("approval card #%d", n+1), n, isCard)
}

// waitState waits until request id is in one of states.
func (e *env) waitState(id string, states ...store.State) *store.Request {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := e.st.GetRequest(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range states {
			if r.State == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("request %s is %s, want one of %v", id, r.State, states)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ephemeralTo waits for an ephemeral message to user containing want.
func (e *env) ephemeralTo(user, want string) slackfake.Call {
	e.t.Helper()
	return e.slack.WaitNth(e.t, 30*time.Second, fmt.Sprintf("an ephemeral message to %s containing %q", user, want), 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostEphemeral && c.User == user && strings.Contains(c.AllText(), want)
	})
}

// hookMessage waits for a response_url post to hook containing want.
func (e *env) hookMessage(hook, want string) slackfake.Call {
	e.t.Helper()
	return e.slack.WaitNth(e.t, 30*time.Second, fmt.Sprintf("a response_url message to %s containing %q", hook, want), 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.ResponseURL && c.Hook == hook && strings.Contains(c.AllText(), want)
	})
}

func (e *env) requests() []*store.Request {
	e.t.Helper()
	rs, err := e.st.ListRequests(context.Background(), store.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func (e *env) auditEntries(requestID string) []store.AuditRecord {
	e.t.Helper()
	es, err := e.audit.Entries(context.Background(), requestID)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

func (e *env) events(requestID, event string) int {
	n := 0
	for _, r := range e.auditEntries(requestID) {
		if r.Event == event {
			n++
		}
	}
	return n
}

func (e *env) verifyAudit() {
	e.t.Helper()
	res, err := e.audit.Verify(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if !res.OK || res.Entries == 0 {
		e.t.Fatalf("audit verify: %+v", res)
	}
}

// mutatingCalls counts the simulated org's calls that change something.
func mutatingCalls(org *sim.Org) map[string]int {
	out := map[string]int{}
	for op, n := range org.Calls() {
		name := op[strings.Index(op, ".")+1:]
		if strings.HasPrefix(op, "STS.") || strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "Describe") {
			continue
		}
		out[op] = n
	}
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
