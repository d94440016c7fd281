package approval_test

import (
	"testing"

	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// TestRequesterApprovalNeverCounts: a requester who is also an approver
// and whose own approval record exists anyway (written past Approve's
// refusal: a bug, an older version, a hand-edited store) is skipped when
// the approvals are counted. With two approvals required, that record and
// one other approver leave the request pending; a second other approver
// approves it.
func TestRequesterApprovalNeverCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, 2)
		r := f.submit(t, both) // both is a requester and an approver
		if err := f.st.AddApproval(ctx, store.Approval{RequestID: r.ID, Approver: both, At: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		out, err := f.svc.Approve(ctx, r.ID, approverA)
		if err != nil {
			t.Fatalf("approval by %s: %v", approverA, err)
		}
		if out.Approved || f.state(t, r.ID) != store.Pending {
			t.Fatalf("the requester's own approval record counted: approved %v, state %s; want pending with 1 of 2", out.Approved, f.state(t, r.ID))
		}
		// a second click by the same approver is refused with what is missing
		_, err = f.svc.Approve(ctx, r.ID, approverA)
		refused(t, err, "it needs 1 more approval(s) from another approver")
		// the requester cannot add theirs either
		_, err = f.svc.Approve(ctx, r.ID, both)
		refused(t, err, "own request")
		out, err = f.svc.Approve(ctx, r.ID, approverB)
		if err != nil || !out.Approved || out.Request.State != store.Approved {
			t.Fatalf("approval by %s: %+v, %v; want approved by two approvers other than the requester", approverB, out, err)
		}
		if _, err := f.svc.Start(ctx, r.ID); err != nil {
			t.Fatalf("start: %v", err)
		}
	})
}
