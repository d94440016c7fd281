package bot

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

const (
	csAccount = "111122223333"
	bgUserARN = "arn:aws:iam::111122223333:user/breakglass-admin"
	bgRoleARN = "arn:aws:iam::111122223333:role/BreakGlassAdmin"
)

func withBaselines(interval time.Duration) func(*Config) {
	return func(c *Config) { c.ExemptBaseline, c.BaselineInterval = true, interval }
}

// newest returns the account's newest baseline, waiting up to 10s for one.
func newest(t *testing.T, st store.Store) store.Baseline {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		bs, err := st.Baselines(context.Background(), csAccount)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) > 0 {
			return bs[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no exemption baseline was recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hookText waits for the n-th (0-based) response_url post to user.
func (f *fixture) hookText(t *testing.T, user string, n int) string {
	t.Helper()
	return f.slack.WaitNth(t, 20*time.Second, "a response to "+user, n, func(c slackfake.Call) bool {
		return c.Method == slackfake.ResponseURL && c.Hook == user
	}).AllText()
}

func TestBaselineIsRecordedOnlyWhileNothingIsPendingOrRunning(t *testing.T) {
	f := newFixture(t, nil, withBaselines(20*time.Millisecond))
	first := newest(t, f.st) // recorded at start: nothing pending
	if !slices.Equal(arnsOf(first.Principals), []string{bgRoleARN, bgUserARN}) {
		t.Fatalf("baseline %v", first.Principals)
	}
	if code, r := f.slash(t, requester, "lockdown --all --incident INC-1 attacker in the console"); code != http.StatusOK || !strings.Contains(r.Text, "Planning lockdown") {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	f.slack.WaitNth(t, 20*time.Second, "the approval card", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.Buttons()[ActionApprove] != ""
	})
	time.Sleep(50 * time.Millisecond) // a recording that began before the request ends
	pending := newest(t, f.st).Confirmed
	time.Sleep(200 * time.Millisecond) // ten intervals
	if got := newest(t, f.st).Confirmed; !got.Equal(pending) {
		t.Fatalf("a baseline was recorded at %s while a request was pending (last before: %s)", got, pending)
	}
	reqs, err := f.st.ListRequests(context.Background(), store.Filter{States: []store.State{store.Pending}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("pending requests: %v %v", reqs, err)
	}
	if _, r := f.slash(t, requester, "cancel "+reqs[0].ID); !strings.Contains(r.Text, "Cancelled") {
		t.Fatalf("cancel: %q", r.Text)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !newest(t, f.st).Confirmed.After(pending) {
		if time.Now().After(deadline) {
			t.Fatal("no baseline recorded once the request was cancelled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBaselineSlashCommand(t *testing.T) {
	f := newFixture(t, nil, withBaselines(time.Hour))
	newest(t, f.st)
	if err := f.org.AddRole(csAccount, sim.Role{Name: "BreakGlassOnCall"}); err != nil {
		t.Fatal(err)
	}
	if _, r := f.slash(t, approver2, "baseline"); !strings.Contains(r.Text, "Recording who is exempt") {
		t.Fatalf("an approver asks for a baseline: %q", r.Text)
	}
	text := f.hookText(t, approver2, 0)
	for _, want := range []string{"Exemption baseline", "`" + csAccount + "`: 3 principals exempt by tag or pattern", "new since the last baseline", "role/BreakGlassOnCall", "24h old"} {
		if !strings.Contains(text, want) {
			t.Errorf("the answer lacks %q:\n%s", want, text)
		}
	}
	if b := newest(t, f.st); !slices.Contains(arnsOf(b.Principals), "arn:aws:iam::111122223333:role/BreakGlassOnCall") {
		t.Errorf("the on-demand baseline was not stored: %v", b.Principals)
	}
	entries, err := f.audit.Entries(context.Background(), "")
	if err != nil || !slices.ContainsFunc(entries, func(e store.AuditRecord) bool { return e.Event == EventBaseline && e.Actor == approver2 }) {
		t.Errorf("the on-demand baseline is not in the audit log under %s (%v)", approver2, err)
	}
	for user, want := range map[string]string{outsider: "not on this killswitch's responder list"} {
		if _, r := f.slash(t, user, "baseline"); !strings.Contains(r.Text, want) {
			t.Errorf("%s: %q, want %q", user, r.Text, want)
		}
	}
	if _, r := f.slash(t, requester, "baseline now please"); !strings.Contains(r.Text, "baseline takes no arguments") {
		t.Errorf("baseline with arguments: %q", r.Text)
	}
	off := newFixture(t, nil)
	if _, r := off.slash(t, requester, "baseline"); !strings.Contains(r.Text, "not enabled") {
		t.Errorf("baselines off: %q", r.Text)
	}
}

func TestPlansAndRunsAreCheckedAgainstTheStoredBaseline(t *testing.T) {
	f := newFixture(t, nil, withBaselines(time.Hour))
	newest(t, f.st) // recorded now: too young to count
	// no baseline older than 24h: the plan says so; the tag protects nobody
	f.slash(t, requester, "plan disable-users")
	text := f.hookText(t, requester, 0)
	for _, want := range []string{"no exemption baseline older than 24h", "record one with `/killswitch baseline` when things are calm",
		bgUserARN + " is contained although it is exempt by break-glass", "list its ARN in break_glass.principals"} {
		if !strings.Contains(text, want) {
			t.Errorf("the plan lacks %q:\n%s", want, text)
		}
	}
	// a two-day-old baseline with the role only: the tagged user is contained
	if _, err := f.st.PutBaseline(context.Background(), csAccount, time.Now().Add(-48*time.Hour), []string{bgRoleARN}); err != nil {
		t.Fatal(err)
	}
	f.slash(t, requester, "disable-users --incident INC-2 attacker keys")
	card := f.slack.WaitNth(t, 20*time.Second, "the approval card", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.Buttons()[ActionApprove] != ""
	})
	if !strings.Contains(card.AllText(), "breakglass-admin is contained although") || strings.Contains(card.AllText(), "no exemption baseline older") {
		t.Errorf("the card does not name breakglass-admin as contained against the 48h-old baseline:\n%s", card.AllText())
	}
	id := card.Buttons()[ActionApprove]
	body := slackfake.BlockAction(team, approver, channel, card.TS, ActionApprove, id, "")
	if code, out := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/interactions", testSecret, time.Now(), body)); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := f.st.GetRequest(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s is %s", id, r.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	steps, err := f.svc.loadSteps(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(steps, func(s actions.Step) bool { return s.Principal == bgUserARN && s.Status == actions.StepDone }) {
		t.Errorf("the run did not contain %s, which the baseline does not list", bgUserARN)
	}
}

// arnsOf drops the fingerprints of baseline entries.
func arnsOf(entries []string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = actions.BaselineARN(e)
	}
	return out
}
