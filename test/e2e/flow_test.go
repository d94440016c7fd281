package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// assertUntouched: no Slack call, no request, no audit entry, no AWS change.
func (e *env) assertUntouched(t *testing.T) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // anything wrongly scheduled would show by now
	if calls := e.slack.Calls(); len(calls) > 0 {
		t.Errorf("Slack was called %d time(s); first: %s %q", len(calls), calls[0].Method, calls[0].Text)
	}
	if rs := e.requests(); len(rs) > 0 {
		t.Errorf("%d request(s) in the store", len(rs))
	}
	if es := e.auditEntries(""); len(es) > 0 {
		t.Errorf("%d audit entries, first %q", len(es), es[0].Event)
	}
	if m := mutatingCalls(e.org); len(m) > 0 {
		t.Errorf("AWS changes: %v", m)
	}
}

func TestUnverifiedRequestsAre401AndChangeNothing(t *testing.T) {
	e := newEnv(t, options{})
	slashBody := slackfake.SlashBody(team, requester, channel, "lockdown --all --incident INC-7 attacker in prod", e.slack.HookURL("h"))
	clickBody := slackfake.BlockAction(team, approver, channel, "1700000000.000001", "approve", "ks-00000001", "")
	for _, path := range []string{"/slack/commands", "/slack/interactions"} {
		body := slashBody
		if path == "/slack/interactions" {
			body = clickBody
		}
		t.Run(path, func(t *testing.T) {
			unsigned, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
			unsigned.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for name, req := range map[string]*http.Request{
				"unsigned":        unsigned,
				"wrongly signed":  slackfake.SignedRequest(t, e.srv.URL+path, "another-secret", time.Now(), body),
				"six minutes old": slackfake.SignedRequest(t, e.srv.URL+path, secret, time.Now().Add(-6*time.Minute), body),
			} {
				resp, err := e.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: HTTP %d, want 401", name, resp.StatusCode)
				}
			}
		})
	}
	e.assertUntouched(t)
}

func TestRefusedCommandsChangeNothing(t *testing.T) {
	e := newEnv(t, options{})
	for _, c := range []struct {
		name, team, user, text, want string
	}{
		{"another workspace", "T0BAD", requester, "lockdown --all --incident INC-7 attacker in prod", "serves another workspace"},
		{"unlisted user", team, outsider, "lockdown --all --incident INC-7 attacker in prod", "not on this killswitch's responder list"},
		{"missing reason", team, requester, "lockdown --all --incident INC-7", "a reason is required: /killswitch lockdown --all --incident INC-1 attacker has console access"},
		{"unknown action", team, requester, "nuke --all everything", `unknown action or command "nuke": actions are backup-readiness, contain-identity-center, deny-delete, disable-users, find-backdoors, lock-backups, lockdown, remove-root-credentials, revoke-sessions, rotate-keys; commands are help, actions, plan, status, cancel, undo, drill, baseline`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.slashAs(c.team, c.user, c.text, "h")
			if !strings.Contains(r.Text, c.want) {
				t.Fatalf("reply %q, want %q", r.Text, c.want)
			}
			if !strings.Contains(r.Text, "othing was done") && !strings.Contains(r.Text, "/killswitch help") {
				t.Errorf("reply %q does not say nothing happened or how to get help", r.Text)
			}
		})
	}
	e.assertUntouched(t)
}

// contained checks the codespaces account after a lockdown pinned at pin.
func contained(t *testing.T, org *sim.Org, pin time.Time) {
	t.Helper()
	arn := func(kind, name string) string {
		var a string
		var ok bool
		if kind == "user" {
			a, ok = org.UserARN(acct, name)
		} else {
			a, ok = org.RoleARN(acct, name)
		}
		if !ok {
			t.Fatalf("no %s %s", kind, name)
		}
		return a
	}
	alice := arn("user", "alice")
	for _, k := range org.AccessKeyIDs(acct, "alice") {
		if err := org.Authorize(sim.Credential{Account: acct, Principal: alice, AccessKeyID: k}, "iam:CreateUser", "*"); err == nil {
			t.Errorf("alice's access key %s still works", k)
		}
	}
	if err := org.Authorize(sim.Credential{Account: acct, Principal: alice, Console: true}, "iam:CreateUser", "*"); err == nil {
		t.Error("alice can still sign in to the console")
	}
	// a console session of ops-admin issued before the request is revoked
	if err := org.Authorize(sim.Credential{Account: acct, Principal: arn("user", "ops-admin"), SessionIssued: pin.Add(-time.Minute)}, "iam:CreateUser", "*"); err == nil {
		t.Error("an old session of ops-admin still works")
	}
	// data is protected even from a fresh session of a non-exempt role
	snap, _ := sim.ResourceARN(acct, "snapshot", "snap-0a1b2c3d4e5f60001")
	if err := org.Authorize(sim.Credential{Account: acct, Principal: arn("role", "ci-deploy"), SessionIssued: time.Now().Add(time.Hour)}, "ec2:DeleteSnapshot", snap); err == nil {
		t.Error("a fresh ci-deploy session can still delete snapshots")
	}
	// break-glass still works
	if err := org.Authorize(sim.Credential{Account: acct, Principal: arn("role", "BreakGlassAdmin"), SessionIssued: pin.Add(-time.Minute)}, "ec2:DeleteSnapshot", snap); err != nil {
		t.Errorf("break-glass was locked out: %v", err)
	}
}

func TestFullFlowRequestApproveContainUndo(t *testing.T) {
	e := newEnv(t, options{})
	ack := e.slash(requester, "lockdown --all --incident INC-7 attacker in prod", "req")
	if !strings.Contains(ack.Text, "Planning lockdown on 1 account") {
		t.Fatalf("ack %q", ack.Text)
	}
	card := e.card(0)
	id := card.Buttons()[bot.ActionApprove]
	if id == "" || card.Buttons()[bot.ActionReject] != id || card.Channel != channel {
		t.Fatalf("card buttons %v in %s", card.Buttons(), card.Channel)
	}
	for _, b := range []string{bot.ActionApprove, bot.ActionReject} {
		if btn := card.Button(b); btn["confirm"] == nil {
			t.Errorf("button %s has no confirmation dialog", b)
		}
	}
	text := card.AllText()
	for _, want := range []string{"lockdown", "INC-7", "attacker in prod", "<@" + requester + ">", id, acct, "KillSwitchDenyDelete", "BreakGlassAdmin", "exempt", "more targets", "Approve", "Reject"} {
		if !strings.Contains(text, want) {
			t.Errorf("the card does not show %q:\n%s", want, text)
		}
	}
	e.hookMessage("req", "waiting for approval")
	req := e.waitState(id, store.Pending)
	if req.MessageTS != card.TS || req.Channel != channel {
		t.Fatalf("the store has the card at %s/%s, Slack at %s/%s", req.Channel, req.MessageTS, card.Channel, card.TS)
	}
	if total(mutatingCalls(e.org)) > 0 {
		t.Fatalf("AWS changed before approval: %v", mutatingCalls(e.org))
	}

	if code := e.click(approver, bot.ActionApprove, id, card.TS); code != http.StatusOK {
		t.Fatalf("click: %d", code)
	}
	done := e.waitState(id, store.Succeeded, store.Partial, store.Failed)
	if done.State != store.Succeeded {
		t.Fatalf("lockdown %s: %s", done.State, done.Error)
	}
	contained(t, e.org, done.PinnedAt)

	// the card shows the outcome and has no buttons left
	e.slack.Wait(t, 30*time.Second, "the card updated to succeeded", func([]slackfake.Call) bool {
		latest, ok := e.slack.Latest(card.TS)
		return ok && latest.Method == slackfake.Update && strings.Contains(latest.AllText(), "succeeded")
	})
	latest, _ := e.slack.Latest(card.TS)
	if len(latest.Buttons()) != 0 {
		t.Errorf("the finished card still has buttons: %v", latest.Buttons())
	}
	if !strings.Contains(latest.AllText(), "<@"+approver+">") {
		t.Errorf("the card does not say who approved:\n%s", latest.AllText())
	}
	// the thread has the progress and the per-account result
	e.slack.Wait(t, 30*time.Second, "the result in the thread", func([]slackfake.Call) bool {
		for _, c := range e.slack.Thread(card.TS) {
			if strings.Contains(c.AllText(), "lockdown succeeded") {
				return true
			}
		}
		return false
	})
	var result string
	for _, c := range e.slack.Thread(card.TS) {
		result += c.AllText() + "\n"
	}
	for _, want := range []string{"Running lockdown", acct + "*: succeeded", "alice", "/killswitch undo " + id} {
		if !strings.Contains(result, want) {
			t.Errorf("the thread does not show %q:\n%s", want, result)
		}
	}
	if n := e.events(id, "running"); n != 1 {
		t.Errorf("%d running events", n)
	}
	steps, _ := e.st.Steps(context.Background(), id)
	if len(steps) == 0 {
		t.Fatal("no steps recorded")
	}
	var res actions.Result
	if err := json.Unmarshal(done.Result, &res); err != nil || len(res.Steps()) != len(steps) {
		t.Fatalf("result %d steps, store %d (%v)", len(res.Steps()), len(steps), err)
	}
	if n := e.events(id, "aws_call"); n == 0 {
		t.Error("no AWS call audited")
	}
	e.verifyAudit()
	if rejected := e.slack.Rejected(); len(rejected) > 0 {
		t.Fatalf("Slack rejected %d call(s): %s %s", len(rejected), rejected[0].Method, rejected[0].Error)
	}

	// status shows it
	if st := e.slash(requester, "status "+id, "s"); !strings.Contains(st.Text, "succeeded") || !strings.Contains(st.Text, acct) {
		t.Errorf("status: %q", st.Text)
	}
	if st := e.slash(requester, "status", "s"); !strings.Contains(st.Text, id) {
		t.Errorf("status list: %q", st.Text)
	}

	// undo: its own card, its own approval
	alice, _ := e.org.UserARN(acct, "alice")
	if ack := e.slash(approver, "undo "+id+" contained, restoring access", "undo"); !strings.Contains(ack.Text, "Preparing the undo of "+id) {
		t.Fatalf("undo ack %q", ack.Text)
	}
	undoCard := e.card(1)
	undoID := undoCard.Buttons()[bot.ActionApprove]
	if undoID == "" || undoID == id || !strings.Contains(undoCard.AllText(), "undo") || !strings.Contains(undoCard.AllText(), "cannot be undone") {
		t.Fatalf("undo card %s:\n%s", undoID, undoCard.AllText())
	}
	if code := e.click(approver, bot.ActionApprove, undoID, undoCard.TS); code != http.StatusOK {
		t.Fatal(code)
	}
	e.ephemeralTo(approver, "cannot approve your own request")
	if code := e.click(approver2, bot.ActionApprove, undoID, undoCard.TS); code != http.StatusOK {
		t.Fatal(code)
	}
	undone := e.waitState(undoID, store.Succeeded, store.Partial, store.Failed)
	if undone.State == store.Failed {
		t.Fatalf("undo failed: %s", undone.Error)
	}
	active := 0
	for _, k := range e.org.AccessKeyIDs(acct, "alice") {
		if e.org.Authorize(sim.Credential{Account: acct, Principal: alice, AccessKeyID: k}, "iam:CreateUser", "*") == nil {
			active++
		}
	}
	if active == 0 {
		t.Error("the undo did not bring alice's access key back")
	}
	e.slack.Wait(t, 30*time.Second, "the undo result with the lost-password warning", func([]slackfake.Call) bool {
		for _, c := range e.slack.Thread(undoCard.TS) {
			if strings.Contains(c.AllText(), "undo of lockdown") && strings.Contains(strings.ToLower(c.AllText()), "password") {
				return true
			}
		}
		return false
	})
	e.verifyAudit()
}

func TestApprovalRefusalsRunNothing(t *testing.T) {
	e := newEnv(t, options{required: 2})
	request := func(n int) (string, string) {
		e.slash(requester, "revoke-sessions --all --incident INC-8 stolen session cookies", "r")
		c := e.card(n)
		return c.Buttons()[bot.ActionApprove], c.TS
	}
	mustRefuse := func(user, action, id, ts, want string) {
		t.Helper()
		before := len(e.slack.Of(slackfake.PostEphemeral))
		if code := e.click(user, action, id, ts); code != http.StatusOK {
			t.Fatalf("click: %d", code)
		}
		e.slack.Wait(t, 30*time.Second, "the refusal "+want, func([]slackfake.Call) bool {
			for _, c := range e.slack.Of(slackfake.PostEphemeral)[before:] {
				if c.User == user && strings.Contains(c.Text, want) {
					return true
				}
			}
			return false
		})
	}

	id, ts := request(0)
	mustRefuse(requester, bot.ActionApprove, id, ts, "cannot approve your own request")
	mustRefuse(outsider, bot.ActionApprove, id, ts, "not an approver")
	if code := e.click(approver, bot.ActionApprove, id, ts); code != http.StatusOK {
		t.Fatal(code)
	}
	mustRefuse(approver, bot.ActionApprove, id, ts, "already approved")
	if r := e.waitState(id, store.Pending); r.State != store.Pending {
		t.Fatal(r.State)
	}
	as, _ := e.st.Approvals(context.Background(), id)
	if len(as) != 1 {
		t.Fatalf("%d approvals, want 1", len(as))
	}

	// expired (the clock moves past the expiry)
	id2, ts2 := request(1)
	e.clock.Advance(16 * time.Minute)
	mustRefuse(approver, bot.ActionApprove, id2, ts2, "expired")
	e.waitState(id2, store.Expired)
	e.slack.Wait(t, 30*time.Second, "the expired card", func([]slackfake.Call) bool {
		l, ok := e.slack.Latest(ts2)
		return ok && strings.Contains(l.AllText(), "expired") && len(l.Buttons()) == 0
	})
	e.waitState(id, store.Expired) // the sweeper expires the first one too

	// rejected
	id3, ts3 := request(2)
	if code := e.click(approver2, bot.ActionReject, id3, ts3); code != http.StatusOK {
		t.Fatal(code)
	}
	e.waitState(id3, store.Rejected)
	mustRefuse(approver, bot.ActionApprove, id3, ts3, "it is rejected")
	e.slack.Wait(t, 30*time.Second, "the rejected card", func([]slackfake.Call) bool {
		l, ok := e.slack.Latest(ts3)
		return ok && strings.Contains(l.AllText(), "Rejected by <@"+approver2+">") && len(l.Buttons()) == 0
	})

	// cancelled
	id4, ts4 := request(3)
	if r := e.slash(requester, "cancel "+id4, "c"); !strings.Contains(r.Text, "Cancelled "+id4) {
		t.Fatalf("cancel: %q", r.Text)
	}
	mustRefuse(approver, bot.ActionApprove, id4, ts4, "it is cancelled")
	e.slack.Wait(t, 30*time.Second, "the cancelled card", func([]slackfake.Call) bool {
		l, ok := e.slack.Latest(ts4)
		return ok && strings.Contains(l.AllText(), "cancelled") && len(l.Buttons()) == 0
	})
	if r := e.slash(outsider, "cancel "+id4, "c"); !strings.Contains(r.Text, "not on this killswitch's responder list") {
		t.Fatalf("outsider cancel: %q", r.Text)
	}

	time.Sleep(200 * time.Millisecond)
	if m := mutatingCalls(e.org); total(m) > 0 {
		t.Fatalf("something ran: %v", m)
	}
	for _, r := range e.requests() {
		if steps, _ := e.st.Steps(context.Background(), r.ID); len(steps) > 0 {
			t.Fatalf("request %s (%s) has %d steps", r.ID, r.State, len(steps))
		}
		if n := e.events(r.ID, bot.EventApplyStarted); n > 0 {
			t.Fatalf("request %s started", r.ID)
		}
	}
	e.verifyAudit()
}

// singleRunMutations is what one lockdown of a fresh codespaces org changes.
func singleRunMutations(t *testing.T) map[string]int {
	org, err := sim.Builtin("codespaces")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{BreakGlassPatterns: breakGlass, BreakGlassTag: "killswitch:break-glass"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Apply(context.Background(), actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ref"}, nil); err != nil {
		t.Fatal(err)
	}
	return mutatingCalls(org)
}

func TestConcurrentApprovalsRunOnce(t *testing.T) {
	e := newEnv(t, options{required: 1})
	e.slash(requester, "lockdown --all --incident INC-9 attacker deleting backups", "r")
	card := e.card(0)
	id := card.Buttons()[bot.ActionApprove]
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		user := approver
		if i%2 == 1 {
			user = approver2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if code := e.click(user, bot.ActionApprove, id, card.TS); code != http.StatusOK {
				t.Errorf("click: %d", code)
			}
		}()
	}
	close(start)
	wg.Wait()
	r := e.waitState(id, store.Succeeded, store.Partial, store.Failed)
	if r.State != store.Succeeded {
		t.Fatalf("%s: %s", r.State, r.Error)
	}
	// let every click's background work finish
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.events(id, bot.EventApplyStarted); n != 1 {
		t.Errorf("%d apply_started events, want 1", n)
	}
	if n := e.events(id, "running"); n != 1 {
		t.Errorf("%d running events, want 1", n)
	}
	if n := e.events(id, "approved"); n != 1 {
		t.Errorf("%d approved events, want 1", n)
	}
	steps, err := e.st.Steps(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range steps {
		if seen[s.Key] {
			t.Errorf("step %s recorded twice", s.Key)
		}
		seen[s.Key] = true
	}
	// each step is audited twice: started (before its AWS call) and its outcome
	stepEvents := e.events(id, bot.EventStep)
	if stepEvents != 2*len(steps) {
		t.Errorf("%d step events for %d steps, want 2 each", stepEvents, len(steps))
	}
	got, want := mutatingCalls(e.org), singleRunMutations(t)
	if total(got) != total(want) || len(got) != len(want) {
		t.Errorf("mutating calls %v, one run makes %v", got, want)
	}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s: %d calls, one run makes %d", op, got[op], n)
		}
	}
	e.verifyAudit()
}

func TestAckArrivesBeforeTheSlowPlan(t *testing.T) {
	// every IAM GetAccountAuthorizationDetails call (the inventory's read of
	// the account's principals) takes 2 s: the plan takes at least that long
	e := newEnv(t, options{faults: []sim.Fault{{Operation: "IAM.GetAccountAuthorizationDetails", Latency: 2 * time.Second}}})
	start := time.Now()
	ack := e.slash(requester, "lockdown --all --incident INC-7 attacker in prod", "slow")
	elapsed := time.Since(start)
	plansAtAck := e.engine.plansDone.Load()
	if plansAtAck != 0 {
		t.Fatalf("the acknowledgement came after the plan finished (%d plans done)", plansAtAck)
	}
	if len(e.slack.Of(slackfake.PostMessage)) != 0 {
		t.Fatal("the card was posted before the acknowledgement")
	}
	if !strings.Contains(ack.Text, "Planning lockdown") {
		t.Fatalf("ack %q", ack.Text)
	}
	t.Logf("acknowledged in %s; the plan was still running", elapsed.Round(time.Millisecond))
	card := e.card(0)
	if e.engine.plansDone.Load() != 1 {
		t.Fatal("card posted without a plan")
	}
	_ = card
	// plan command too
	e.slash(requester, "plan deny-delete --all", "plan")
	if e.engine.plansDone.Load() != 1 {
		t.Fatal("the plan command answered after planning")
	}
	msg := e.hookMessage("plan", "plan deny-delete")
	if !strings.Contains(msg.Text, "read-only") {
		t.Errorf("plan reply %q", msg.Text)
	}
}
