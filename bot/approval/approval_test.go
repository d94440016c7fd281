package approval_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

var ctx = context.Background()

// Users: U1, U2 request; U2, U3, U4 approve; U9 is nobody.
const (
	requester = "U1"
	both      = "U2"
	approverA = "U3"
	approverB = "U4"
	stranger  = "U9"
)

type event struct{ actor, id, name string }

// recorder is an Auditor that keeps events in order and fails on demand.
type recorder struct {
	mu     sync.Mutex
	events []event
	failOn map[string]bool
}

func (r *recorder) Event(_ context.Context, actor, id, name string, _ any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOn[name] {
		return errors.New("disk full")
	}
	r.events = append(r.events, event{actor, id, name})
	return nil
}

// of returns the events of request id as "actor:event".
func (r *recorder) of(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.id == id {
			out = append(out, e.actor+":"+e.name)
		}
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc   *approval.Service
	st    store.Store
	audit *recorder
	clock *clock
}

func newFixture(t *testing.T, driver string, required int) *fixture {
	t.Helper()
	return newFixtureOn(t, storetest.Open(t, driver), required)
}

func newFixtureOn(t *testing.T, st store.Store, required int) *fixture {
	t.Helper()
	f := &fixture{st: st, audit: &recorder{}, clock: &clock{t: time.Date(2014, 6, 17, 9, 0, 0, 0, time.UTC)}}
	f.svc = &approval.Service{
		Store: st,
		Policy: approval.Policy{
			Requesters: []string{requester, both},
			Approvers:  []string{both, approverA, approverB},
			Required:   required,
			Expiry:     15 * time.Minute,
		},
		Audit: f.audit,
		Now:   f.clock.Now,
	}
	return f
}

func (f *fixture) submit(t *testing.T, who string) *store.Request {
	t.Helper()
	r, err := f.svc.Submit(ctx, approval.NewRequest{
		Kind: store.KindAction, Action: "lockdown", Accounts: []string{"111122223333"},
		Reason: "console takeover", Incident: "INC-7", Requester: who, Team: "T0001", Plan: []byte(`{"p":1}`),
	})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return r
}

func (f *fixture) state(t *testing.T, id string) store.State {
	t.Helper()
	r, err := f.st.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

// refused checks err is a *Refusal whose message contains want.
func refused(t *testing.T, err error, want string) {
	t.Helper()
	var r *approval.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("err = %v (%T), want a Refusal containing %q", err, err, want)
	}
	if !strings.Contains(r.Msg, want) {
		t.Fatalf("refusal %q, want it to contain %q", r.Msg, want)
	}
}

func TestSubmit(t *testing.T) {
	long := strings.Repeat("é", approval.MaxReason+1)
	cases := []struct {
		name    string
		req     approval.NewRequest
		refusal string // "" = accepted
		err     bool   // an internal error, not a refusal
	}{
		{"ok", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "takeover", Requester: requester}, "", false},
		{"requester who is also approver", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "takeover", Requester: both}, "", false},
		{"max length reason", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: long[:len(long)-2], Requester: requester}, "", false},
		{"not a requester", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "takeover", Requester: approverA}, "not allowed to request", false},
		{"stranger", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "takeover", Requester: stranger}, "ask a responder listed in approval.requesters", false},
		{"no reason", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "  ", Requester: requester}, "a reason is required", false},
		{"long reason", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: long, Requester: requester}, "keep it to 500", false},
		{"control chars", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "a\nb", Requester: requester}, "one line", false},
		{"escape sequence", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "a\x1b[31mb", Requester: requester}, "one line", false},
		{"long incident", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "x", Incident: strings.Repeat("i", 101), Requester: requester}, "incident id", false},
		{"unknown kind", approval.NewRequest{Kind: "nuke", Action: "deny-delete", Reason: "x", Requester: requester}, "", true},
		{"no action", approval.NewRequest{Kind: "action", Reason: "x", Requester: requester}, "", true},
		{"no requester", approval.NewRequest{Kind: "action", Action: "deny-delete", Reason: "x"}, "", true},
	}
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 1)
		for _, c := range cases {
			r, err := f.svc.Submit(ctx, c.req)
			switch {
			case c.err:
				var ref *approval.Refusal
				if err == nil || errors.As(err, &ref) {
					t.Errorf("%s: err = %v, want an internal error", c.name, err)
				}
			case c.refusal != "":
				if err == nil {
					t.Errorf("%s: accepted, want refusal %q", c.name, c.refusal)
					continue
				}
				refused(t, err, c.refusal)
			default:
				if err != nil {
					t.Errorf("%s: %v", c.name, err)
					continue
				}
				now := f.clock.Now()
				if r.State != store.Pending || !r.CreatedAt.Equal(now) || !r.ExpiresAt.Equal(now.Add(15*time.Minute)) || r.Requester != c.req.Requester {
					t.Errorf("%s: created %+v", c.name, r)
				}
				if got := f.audit.of(r.ID); strings.Join(got, ",") != c.req.Requester+":requested" {
					t.Errorf("%s: events %v", c.name, got)
				}
			}
		}
	})
}

func TestApproveRefusals(t *testing.T) {
	type setup func(t *testing.T, f *fixture, id string)
	cases := []struct {
		name     string
		required int
		setup    setup
		user     string
		refusal  string
		after    store.State
	}{
		{"self approval", 1, nil, requester, "you cannot approve your own request; ask another approver", store.Pending},
		{"unlisted approver", 1, nil, stranger, "you are not an approver", store.Pending},
		{"same approver twice", 2, func(t *testing.T, f *fixture, id string) {
			if _, err := f.svc.Approve(ctx, id, approverA); err != nil {
				t.Fatal(err)
			}
		}, approverA, "you already approved request ks-", store.Pending},
		{"after expiry", 1, func(t *testing.T, f *fixture, id string) { f.clock.Add(15 * time.Minute) }, approverA, "expired at 09:15:00 UTC", store.Expired},
		{"after reject", 1, func(t *testing.T, f *fixture, id string) {
			if _, err := f.svc.Reject(ctx, id, approverB); err != nil {
				t.Fatal(err)
			}
		}, approverA, "it is rejected", store.Rejected},
		{"after cancel", 1, func(t *testing.T, f *fixture, id string) {
			if _, err := f.svc.Cancel(ctx, id, requester); err != nil {
				t.Fatal(err)
			}
		}, approverA, "it is cancelled", store.Cancelled},
		{"after approval", 1, func(t *testing.T, f *fixture, id string) {
			if _, err := f.svc.Approve(ctx, id, approverB); err != nil {
				t.Fatal(err)
			}
		}, approverA, "already approved", store.Approved},
	}
	storetest.Each(t, func(t *testing.T, driver string) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				f := newFixture(t, driver, c.required)
				r := f.submit(t, requester)
				if c.setup != nil {
					c.setup(t, f, r.ID)
				}
				out, err := f.svc.Approve(ctx, r.ID, c.user)
				refused(t, err, c.refusal)
				if out.Approved {
					t.Fatal("refused approval reported Approved")
				}
				if got := f.state(t, r.ID); got != c.after {
					t.Fatalf("state %s, want %s", got, c.after)
				}
			})
		}
		t.Run("requester_who_is_an_approver", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			r := f.submit(t, both)
			_, err := f.svc.Approve(ctx, r.ID, both)
			refused(t, err, "you cannot approve your own request; ask another approver")
		})
		t.Run("unknown_request", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			_, err := f.svc.Approve(ctx, "ks-00000000", approverA)
			refused(t, err, "request ks-00000000 not found")
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatal("refusal does not wrap ErrNotFound")
			}
		})
		t.Run("expiry_is_audited", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			r := f.submit(t, requester)
			f.clock.Add(time.Hour)
			_, err := f.svc.Approve(ctx, r.ID, approverA)
			refused(t, err, "expired")
			if got := strings.Join(f.audit.of(r.ID), ","); got != "U1:requested,killswitch:expired,U3:refused" {
				t.Fatalf("events %s", got)
			}
		})
	})
}

func TestRequiredApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Run("two", func(t *testing.T) {
			f := newFixture(t, driver, 2)
			r := f.submit(t, requester)
			out, err := f.svc.Approve(ctx, r.ID, approverA)
			if err != nil || out.Approved || len(out.Approvals) != 1 {
				t.Fatalf("first approval: %+v, %v", out, err)
			}
			_, err = f.svc.Approve(ctx, r.ID, approverA)
			refused(t, err, "it needs 1 more approval(s) from another approver")
			out, err = f.svc.Approve(ctx, r.ID, both)
			if err != nil || !out.Approved || out.Request.State != store.Approved || len(out.Approvals) != 2 ||
				out.Approvals[0].Approver != approverA || out.Approvals[1].Approver != both {
				t.Fatalf("second approval: %+v, %v", out, err)
			}
			want := "U1:requested,U3:approval,U3:refused,U2:approval,U2:approved"
			if got := strings.Join(f.audit.of(r.ID), ","); got != want {
				t.Fatalf("events %s, want %s", got, want)
			}
		})
		for _, req := range []int{0, -3} {
			t.Run(fmt.Sprintf("required_%d_counts_as_one", req), func(t *testing.T) {
				f := newFixture(t, driver, req)
				r := f.submit(t, requester)
				if r.State != store.Pending {
					t.Fatalf("submitted as %s", r.State)
				}
				_, err := f.svc.Approve(ctx, r.ID, requester)
				refused(t, err, "own request")
				out, err := f.svc.Approve(ctx, r.ID, approverA)
				if err != nil || !out.Approved {
					t.Fatalf("approval: %+v, %v", out, err)
				}
			})
		}
		t.Run("approver_removed_from_policy_does_not_count", func(t *testing.T) {
			f := newFixture(t, driver, 2)
			r := f.submit(t, requester)
			if _, err := f.svc.Approve(ctx, r.ID, approverA); err != nil {
				t.Fatal(err)
			}
			f.svc.Policy.Approvers = []string{both, approverB} // U3 removed
			out, err := f.svc.Approve(ctx, r.ID, approverB)
			if err != nil || out.Approved {
				t.Fatalf("approval: %+v, %v; want still pending", out, err)
			}
		})
	})
}

func TestConcurrentApproveAndStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		for _, required := range []int{1, 2} {
			t.Run(fmt.Sprintf("required_%d_two_replicas", required), func(t *testing.T) {
				dsn := storetest.NewDSN(t, driver)
				f1 := newFixtureOn(t, storetest.OpenDSN(t, driver, dsn), required)
				f2 := newFixtureOn(t, storetest.OpenDSN(t, driver, dsn), required)
				svcs := []*approval.Service{f1.svc, f2.svc}
				r := f1.submit(t, requester)

				var approved atomic.Int64
				var winner atomic.Pointer[store.Request]
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range 50 {
					wg.Go(func() {
						<-start
						user := []string{approverA, approverB}[i%2]
						out, err := svcs[i%2].Approve(ctx, r.ID, user)
						var ref *approval.Refusal
						if err != nil && !errors.As(err, &ref) {
							t.Errorf("Approve: %v", err)
						}
						if out.Approved {
							approved.Add(1)
							winner.Store(out.Request)
						}
					})
				}
				close(start)
				wg.Wait()
				if approved.Load() != 1 {
					t.Fatalf("%d Approve calls reported Approved, want exactly 1", approved.Load())
				}
				if w := winner.Load(); w.State != store.Approved {
					t.Fatalf("winner's request is %s", w.State)
				}

				var started atomic.Int64
				start = make(chan struct{})
				for i := range 10 {
					wg.Go(func() {
						<-start
						_, err := svcs[i%2].Start(ctx, r.ID)
						switch {
						case err == nil:
							started.Add(1)
						case errors.Is(err, store.ErrConflict):
							refused(t, err, "cannot start request")
						default:
							t.Errorf("Start: %v", err)
						}
					})
				}
				close(start)
				wg.Wait()
				if started.Load() != 1 {
					t.Fatalf("%d Start calls succeeded, want exactly 1", started.Load())
				}
				if got := f1.state(t, r.ID); got != store.Running {
					t.Fatalf("state %s, want running", got)
				}
			})
		}
	})
}

func TestLifecycleAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 1)
		r := f.submit(t, requester)
		f.clock.Add(time.Minute)
		out, err := f.svc.Approve(ctx, r.ID, approverA)
		if err != nil || !out.Approved {
			t.Fatalf("Approve: %+v, %v", out, err)
		}
		f.clock.Add(time.Second)
		startedAt := f.clock.Now()
		run, err := f.svc.Start(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !run.PinnedAt.Equal(startedAt) || run.State != store.Running {
			t.Fatalf("started: pinned %v state %s, want %v running", run.PinnedAt, run.State, startedAt)
		}
		if _, err := f.svc.Start(ctx, r.ID); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second Start = %v, want conflict", err)
		}
		if _, err := f.svc.Finish(ctx, r.ID, store.Cancelled, nil, ""); err == nil {
			t.Fatal("Finish as cancelled succeeded")
		}
		done, err := f.svc.Finish(ctx, r.ID, store.Partial, []byte(`{"accounts":1}`), "444455556666: AccessDenied")
		if err != nil {
			t.Fatal(err)
		}
		if done.State != store.Partial || string(done.Result) != `{"accounts":1}` || done.Error == "" || !done.PinnedAt.Equal(startedAt) {
			t.Fatalf("finished: %+v", done)
		}
		if _, err := f.svc.Finish(ctx, r.ID, store.Succeeded, nil, ""); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second Finish = %v, want ErrConflict", err)
		}
		want := "U1:requested,U3:approval,U3:approved,killswitch:running,killswitch:partial"
		if got := strings.Join(f.audit.of(r.ID), ","); got != want {
			t.Fatalf("events %s, want %s", got, want)
		}
	})
}

func TestRejectAndCancel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 1)

		r := f.submit(t, requester)
		_, err := f.svc.Reject(ctx, r.ID, requester)
		refused(t, err, "cancel it")
		_, err = f.svc.Reject(ctx, r.ID, stranger)
		refused(t, err, "only approvers can reject")
		_, err = f.svc.Cancel(ctx, r.ID, stranger)
		refused(t, err, "only the requester or an approver can cancel")
		got, err := f.svc.Reject(ctx, r.ID, approverA)
		if err != nil || got.State != store.Rejected {
			t.Fatalf("Reject: %+v, %v", got, err)
		}
		_, err = f.svc.Reject(ctx, r.ID, approverB)
		refused(t, err, "it is rejected")
		_, err = f.svc.Cancel(ctx, r.ID, requester)
		refused(t, err, "it is rejected")
		if got := strings.Join(f.audit.of(r.ID), ","); got != "U1:requested,U1:refused,U9:refused,U9:refused,U3:rejected,U4:refused,U1:refused" {
			t.Fatalf("events %s", got)
		}

		// The requester cancels an approved request before it starts.
		r = f.submit(t, requester)
		if _, err := f.svc.Approve(ctx, r.ID, approverA); err != nil {
			t.Fatal(err)
		}
		if got, err := f.svc.Cancel(ctx, r.ID, requester); err != nil || got.State != store.Cancelled {
			t.Fatalf("Cancel approved: %+v, %v", got, err)
		}
		_, err = f.svc.Start(ctx, r.ID)
		refused(t, err, "it is cancelled")
		if got := strings.Join(f.audit.of(r.ID), ","); got != "U1:requested,U3:approval,U3:approved,U1:cancelled" {
			t.Fatalf("events %s", got)
		}

		// An approver cancels a pending one; nobody cancels a running one.
		r = f.submit(t, requester)
		if got, err := f.svc.Cancel(ctx, r.ID, approverB); err != nil || got.State != store.Cancelled {
			t.Fatalf("Cancel by approver: %+v, %v", got, err)
		}
		r = f.submit(t, requester)
		if _, err := f.svc.Approve(ctx, r.ID, approverA); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Start(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Cancel(ctx, r.ID, requester)
		refused(t, err, "already running; wait for it to finish, then undo it")

		// Reject after expiry expires it.
		r = f.submit(t, requester)
		f.clock.Add(time.Hour)
		_, err = f.svc.Reject(ctx, r.ID, approverA)
		refused(t, err, "expired")
		if f.state(t, r.ID) != store.Expired {
			t.Fatal("not expired")
		}
	})
}

// ran creates a request and drives it to a finished state.
func (f *fixture) ran(t *testing.T, st store.State) *store.Request {
	t.Helper()
	r := f.submit(t, requester)
	if _, err := f.svc.Approve(ctx, r.ID, approverA); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	done, err := f.svc.Finish(ctx, r.ID, st, []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func TestUndo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 1)
		undo := func(who, of string) (*store.Request, error) {
			return f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindUndo, UndoOf: of, Reason: "false positive", Requester: who})
		}

		done := f.ran(t, store.Succeeded)
		pending := f.submit(t, requester)
		rejected := f.submit(t, requester)
		if _, err := f.svc.Reject(ctx, rejected.ID, approverA); err != nil {
			t.Fatal(err)
		}

		_, err := undo(requester, "ks-00000000")
		refused(t, err, "not found")
		_, err = undo(requester, "")
		refused(t, err, "say which request to undo")
		_, err = undo(requester, pending.ID)
		refused(t, err, "cancel it instead")
		_, err = undo(requester, rejected.ID)
		refused(t, err, "nothing to undo")
		_, err = undo(stranger, done.ID)
		refused(t, err, "not allowed to request an undo")
		_, err = f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindUndo, UndoOf: done.ID, Action: "deny-delete", Reason: "x", Requester: requester})
		refused(t, err, "its undo cannot be deny-delete")
		_, err = f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindUndo, UndoOf: done.ID, Accounts: []string{"999999999999"}, Reason: "x", Requester: requester})
		refused(t, err, "account 999999999999 was not in request")

		// An approver who is not a requester may undo.
		u, err := undo(approverA, done.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Kind != store.KindUndo || u.UndoOf != done.ID || u.Action != done.Action || strings.Join(u.Accounts, ",") != "111122223333" || u.Incident != "INC-7" {
			t.Fatalf("undo request %+v", u)
		}
		_, err = undo(requester, done.ID)
		refused(t, err, "already being undone by "+u.ID)
		_, err = undo(requester, u.ID)
		refused(t, err, "is itself an undo")
		// Running: still blocks. Finished: a new undo is allowed.
		if _, err := f.svc.Approve(ctx, u.ID, approverB); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Start(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = undo(requester, done.ID)
		refused(t, err, "already being undone")
		if _, err := f.svc.Finish(ctx, u.ID, store.Partial, nil, "one account failed"); err != nil {
			t.Fatal(err)
		}
		if _, err := undo(requester, done.ID); err != nil {
			t.Fatalf("undo after a partial undo: %v", err)
		}
		// partial and failed requests can be undone too.
		for _, st := range []store.State{store.Partial, store.Failed} {
			if _, err := undo(requester, f.ran(t, st).ID); err != nil {
				t.Fatalf("undo of a %s request: %v", st, err)
			}
		}
	})
}

func TestConcurrentUndoSubmit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 1)
		done := f.ran(t, store.Succeeded)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				_, err := f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindUndo, UndoOf: done.ID, Reason: "x", Requester: requester})
				if err == nil {
					ok.Add(1)
					return
				}
				var ref *approval.Refusal
				if !errors.As(err, &ref) {
					t.Errorf("Submit undo: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d concurrent undos accepted, want 1", ok.Load())
		}
	})
}

func TestExpireDueAndResumable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 1)
		old := f.submit(t, requester)
		f.clock.Add(10 * time.Minute)
		younger := f.submit(t, requester)
		approved := f.submit(t, requester)
		if _, err := f.svc.Approve(ctx, approved.ID, approverA); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(time.Minute)
		running := f.submit(t, requester)
		if _, err := f.svc.Approve(ctx, running.ID, approverA); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Start(ctx, running.ID); err != nil {
			t.Fatal(err)
		}
		f.ran(t, store.Succeeded)

		f.clock.Add(5 * time.Minute) // old is 16 minutes old, younger 6
		exp, err := f.svc.ExpireDue(ctx)
		if err != nil || len(exp) != 1 || exp[0].ID != old.ID || exp[0].State != store.Expired {
			t.Fatalf("ExpireDue = %v, %v; want only %s", exp, err, old.ID)
		}
		if got := strings.Join(f.audit.of(old.ID), ","); got != "U1:requested,killswitch:expired" {
			t.Fatalf("events %s", got)
		}
		if f.state(t, younger.ID) != store.Pending {
			t.Fatal("younger request expired early")
		}
		f.clock.Add(10 * time.Minute)
		if exp, err := f.svc.ExpireDue(ctx); err != nil || len(exp) != 1 || exp[0].ID != younger.ID {
			t.Fatalf("second ExpireDue = %v, %v", exp, err)
		}

		res, err := f.svc.Resumable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || res[0].ID != approved.ID || res[1].ID != running.ID {
			var ids []string
			for _, r := range res {
				ids = append(ids, r.ID+"/"+string(r.State))
			}
			t.Fatalf("Resumable = %v, want %s then %s", ids, approved.ID, running.ID)
		}
	})
}

func TestAuditFailureFailsClosed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Run("submit", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			f.audit.failOn = map[string]bool{approval.EventRequested: true}
			_, err := f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindAction, Action: "lockdown", Reason: "x", Requester: requester})
			if !errors.Is(err, approval.ErrAudit) {
				t.Fatalf("Submit = %v, want ErrAudit", err)
			}
			rs, _ := f.st.ListRequests(ctx, store.Filter{})
			if len(rs) != 1 || rs[0].State != store.Cancelled || rs[0].Error == "" {
				t.Fatalf("unaudited request left as %+v", rs)
			}
		})
		t.Run("approve", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			r := f.submit(t, requester)
			f.audit.failOn = map[string]bool{string(store.Approved): true}
			out, err := f.svc.Approve(ctx, r.ID, approverA)
			if !errors.Is(err, approval.ErrAudit) || out.Approved {
				t.Fatalf("Approve = %+v, %v; want ErrAudit and not Approved", out, err)
			}
			if got := f.state(t, r.ID); got != store.Cancelled {
				t.Fatalf("state %s, want cancelled", got)
			}
		})
		t.Run("start", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			r := f.submit(t, requester)
			if _, err := f.svc.Approve(ctx, r.ID, approverA); err != nil {
				t.Fatal(err)
			}
			f.audit.failOn = map[string]bool{string(store.Running): true}
			if _, err := f.svc.Start(ctx, r.ID); !errors.Is(err, approval.ErrAudit) {
				t.Fatalf("Start = %v, want ErrAudit", err)
			}
			if got := f.state(t, r.ID); got != store.Failed {
				t.Fatalf("state %s, want failed", got)
			}
			if res, _ := f.svc.Resumable(ctx); len(res) != 0 {
				t.Fatalf("an unaudited start is resumable: %v", res)
			}
		})
		t.Run("reject", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			r := f.submit(t, requester)
			f.audit.failOn = map[string]bool{string(store.Rejected): true}
			if _, err := f.svc.Reject(ctx, r.ID, approverA); !errors.Is(err, approval.ErrAudit) {
				t.Fatalf("Reject = %v, want ErrAudit", err)
			}
		})
		t.Run("no_auditor", func(t *testing.T) {
			f := newFixture(t, driver, 1)
			f.svc.Audit = nil
			_, err := f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindAction, Action: "lockdown", Reason: "x", Requester: requester})
			if !errors.Is(err, approval.ErrAudit) {
				t.Fatalf("Submit without auditor = %v, want ErrAudit", err)
			}
		})
	})
}

// An action that cannot be undone needs Policy.Extra more approvals; undo
// requests and other actions need Required; a request that could never
// gather its approvals is refused up front.
func TestExtraApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		extra := func(action string) int {
			if action == "remove-root-credentials" {
				return 1
			}
			return 0
		}
		submit := func(f *fixture, action, who string) (*store.Request, error) {
			return f.svc.Submit(ctx, approval.NewRequest{
				Kind: store.KindAction, Action: action, Accounts: []string{"111122223333"},
				Reason: "root keys leaked", Requester: who, Team: "T0001", Plan: []byte(`{}`),
			})
		}
		f := newFixture(t, driver, 1)
		f.svc.Policy.Extra = extra
		r, err := submit(f, "remove-root-credentials", requester)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.svc.Policy.RequiredFor(r); got != 2 {
			t.Fatalf("RequiredFor = %d, want 2", got)
		}
		out, err := f.svc.Approve(ctx, r.ID, approverA)
		if err != nil || out.Approved {
			t.Fatalf("first approval of an irreversible action: %+v, %v; want still pending", out, err)
		}
		if out, err = f.svc.Approve(ctx, r.ID, approverB); err != nil || !out.Approved {
			t.Fatalf("second approval: %+v, %v; want approved", out, err)
		}
		other := f.submit(t, requester) // lockdown: no extra
		if out, err := f.svc.Approve(ctx, other.ID, approverA); err != nil || !out.Approved {
			t.Fatalf("lockdown with one approval: %+v, %v; want approved", out, err)
		}

		few := newFixture(t, driver, 1)
		few.svc.Policy.Extra = extra
		few.svc.Policy.Approvers = []string{both, approverA}
		_, err = submit(few, "remove-root-credentials", both) // only U3 besides U2
		refused(t, err, "needs 2 approvals from approvers other than you, and approval.approvers lists only 1")
		if _, err := submit(few, "remove-root-credentials", requester); err != nil {
			t.Fatalf("requester with two other approvers: %v", err)
		}
	})
}
