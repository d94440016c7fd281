package approval_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// Refused approvals, cancels and undos are decisions: each is in the audit
// log (what `audit show` prints) with who, the request, the verb and why.
func TestRefusalsAreAudited(t *testing.T) {
	st := storetest.Open(t, store.DriverSQLite)
	f := newFixtureOn(t, st, 2)
	log := audit.New(st, nil)
	f.svc.Audit = log
	r := f.submit(t, requester)
	if _, err := f.svc.Approve(ctx, r.ID, approverA); err != nil {
		t.Fatal(err)
	}
	_, errSelf := f.svc.Approve(ctx, r.ID, requester)
	_, errStranger := f.svc.Approve(ctx, r.ID, stranger)
	_, errTwice := f.svc.Approve(ctx, r.ID, approverA)
	_, errCancel := f.svc.Cancel(ctx, r.ID, stranger)
	_, errUndo := f.svc.Submit(ctx, approval.NewRequest{Kind: store.KindUndo, UndoOf: r.ID, Reason: "rollback", Requester: requester})
	for _, err := range []error{errSelf, errStranger, errTwice, errCancel, errUndo} {
		var ref *approval.Refusal
		if !errors.As(err, &ref) || ref.Unaudited != nil {
			t.Fatalf("want an audited refusal, got %v", err)
		}
	}
	recs, err := log.Entries(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs {
		if rec.Event != approval.EventRefused {
			continue
		}
		var d struct{ Verb, Refusal string }
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Actor+" "+d.Verb+": "+d.Refusal)
	}
	want := []string{
		"U1 approve: you cannot approve your own request",
		"U9 approve: you are not an approver",
		"U3 approve: you already approved request " + r.ID,
		"U9 cancel: only the requester or an approver can cancel",
		"U1 undo: request " + r.ID + " has not run",
	}
	if len(got) != len(want) {
		t.Fatalf("refusals in the audit log:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("refusal %d: %q, want it to start with %q", i, got[i], want[i])
		}
	}
	if res, err := log.Verify(ctx); err != nil || !res.OK {
		t.Fatalf("the chain with refusals: %+v, %v", res, err)
	}
}

// A refusal whose audit write fails still stands; the failure is carried
// for the caller to log.
func TestRefusalAuditFailureIsReported(t *testing.T) {
	f := newFixture(t, store.DriverSQLite, 1)
	r := f.submit(t, requester)
	f.audit.failOn = map[string]bool{approval.EventRefused: true}
	_, err := f.svc.Approve(ctx, r.ID, requester)
	var ref *approval.Refusal
	if !errors.As(err, &ref) || ref.Unaudited == nil || !errors.Is(ref.Unaudited, approval.ErrAudit) {
		t.Fatalf("err %v (unaudited %v), want a refusal carrying the audit failure", err, ref)
	}
}
