package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

func simEngine(t *testing.T) (*sim.Org, *actions.Engine) {
	t.Helper()
	org, err := sim.Builtin("codespaces")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: []string{"arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::*:user/breakglass-*"},
		BreakGlassTag:      "killswitch:break-glass",
	})
	if err != nil {
		t.Fatal(err)
	}
	return org, eng
}

var errKilled = errors.New("killed")

// dyingRecorder stores steps as the service does and dies after n
// records (kill -9: nothing more is recorded, and the run stops).
type dyingRecorder struct {
	mu   sync.Mutex // the engine records different principals' steps in parallel
	st   store.Store
	id   string
	n    int
	kill context.CancelFunc
}

func (d *dyingRecorder) Record(ctx context.Context, s actions.Step) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n <= 0 {
		d.kill()
		return errKilled
	}
	d.n--
	data, _ := json.Marshal(s)
	return d.st.PutStep(ctx, store.Step{RequestID: d.id, Key: s.Key, Data: data, At: s.At})
}

// TestResumedRunReportsEveryStep: a lockdown killed part way and resumed
// after a restart reports every change of the request, the ones recorded
// before the kill and the resumed run's, in the thread and in status, as
// many as an uninterrupted lockdown makes.
func TestResumedRunReportsEveryStep(t *testing.T) {
	ctx := context.Background()
	// what an uninterrupted lockdown makes
	fresh, freshEng := simEngine(t)
	whole, err := freshEng.Apply(ctx, actions.Lockdown, fresh.Accounts(), actions.Options{RequestID: "ks-whole"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := countSteps(whole.Steps())

	org, eng := simEngine(t)
	st := storetest.Open(t, store.DriverSQLite)
	appr := &approval.Service{Store: st, Audit: audit.New(st, nil), Policy: approval.Policy{
		Requesters: []string{requester, approver}, Approvers: []string{approver, approver2}, Required: 1, Expiry: 15 * time.Minute}}
	r, err := appr.Submit(ctx, approval.NewRequest{Kind: store.KindAction, Action: actions.Lockdown, Accounts: org.Accounts(),
		Reason: "attacker", Requester: requester, Team: team, Plan: []byte(`{"action":"lockdown","accounts":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appr.Approve(ctx, r.ID, approver); err != nil {
		t.Fatal(err)
	}
	r, err = appr.Start(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// the first process: 48 records (a record before and after each change;
	// parallel principals' starts interleave), then kill -9
	const records = 48
	runCtx, kill := context.WithCancel(ctx)
	_, _ = eng.Apply(runCtx, actions.Lockdown, r.Accounts, actions.Options{RequestID: r.ID, RevokeBefore: r.PinnedAt},
		&dyingRecorder{st: st, id: r.ID, n: records, kill: kill})
	kill()
	recs, err := st.Steps(ctx, r.ID)
	before := len(recs)
	if err != nil || before < records/2 || before > records || before >= want {
		t.Fatalf("recorded before the kill: %d steps, %v; want %d to %d of %d", before, err, records/2, records, want)
	}

	// the restart resumes it
	f := newFixtureOn(t, eng, st)
	var got store.Request
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.State.Terminal() {
			got = *cur
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resumed request never finished: %s", cur.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.State != store.Succeeded {
		t.Fatalf("resumed lockdown: %s %s", got.State, got.Error)
	}
	result := f.slack.WaitNth(t, 10*time.Second, "the result", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && strings.Contains(c.Text, "change(s) made")
	})
	if m := regexp.MustCompile(`(\d+) change\(s\) made`).FindStringSubmatch(result.Text); m == nil || m[1] != fmt.Sprint(want) {
		t.Errorf("the result after the resume says %q; want %d change(s) made (%d before the kill)", result.Text, want, before)
	}
	// a step recorded as started only is redone by the resumed run, unless
	// its change went through: the result counts it from before the restart
	done := 0
	for _, rec := range recs {
		var s actions.Step
		if json.Unmarshal(rec.Data, &s) == nil && s.Status == actions.StepDone {
			done++
		}
	}
	all := result.AllText()
	m := regexp.MustCompile(`Counting (\d+) steps recorded before the restart`).FindStringSubmatch(all)
	if !strings.Contains(all, fmt.Sprintf("%d done, 0 failed", want)) || m == nil || !between(m[1], done, before) {
		t.Errorf("the result's blocks:\n%s\nwant %d done and %d to %d steps counted from before the restart", all, want, done, before)
	}
	rep := f.svc.status(ctx, r.ID)
	if !strings.Contains(rep.Text, fmt.Sprintf("%d done, 0 failed", want)) {
		t.Errorf("status after the resume:\n%s\nwant %d done", rep.Text, want)
	}
	if s, _ := st.Steps(ctx, r.ID); len(s) != want {
		t.Errorf("the store holds %d steps, an uninterrupted lockdown makes %d", len(s), want)
	}
}

func between(n string, lo, hi int) bool {
	var v int
	_, err := fmt.Sscan(n, &v)
	return err == nil && lo <= v && v <= hi
}
