package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// TestGroupCommitKeepsTheChainAndTheGuard: 64 writers at once, each
// remembering a signature another writer remembers too and appending an
// audit entry (SQLite writes them in shared transactions): each signature
// is first exactly once, every entry is in the chain once, and the chain
// verifies.
func TestGroupCommitKeepsTheChainAndTheGuard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		al := audit.New(st, nil)
		const n = 64
		var firsts [n / 2]atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, err := st.Remember(ctx, fmt.Sprintf("v0=%02x", i/2), time.Now(), time.Minute)
				if err != nil {
					t.Errorf("remember %d: %v", i, err)
				}
				if first {
					firsts[i/2].Add(1)
				}
				if err := al.Event(ctx, "U0001", "", "command", map[string]any{"i": i}); err != nil {
					t.Errorf("audit %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		for k := range firsts {
			if got := firsts[k].Load(); got != 1 {
				t.Errorf("signature %02x was first %d times", k, got)
			}
		}
		entries, err := al.Entries(ctx, "")
		if err != nil || len(entries) != n {
			t.Fatalf("%d entries (%v), want %d", len(entries), err, n)
		}
		res, err := al.Verify(ctx)
		if err != nil || !res.OK || res.Entries != n {
			t.Fatalf("verify: %+v %v", res, err)
		}
	})
}

// TestGroupCommitFailsOnlyTheBadWrite: a builder that fails, in among
// good ones written at once, fails its own append only; the others are in
// the chain.
func TestGroupCommitFailsOnlyTheBadWrite(t *testing.T) {
	st := storetest.Open(t, store.DriverSQLite)
	al := audit.New(st, nil)
	errBad := errors.New("bad builder")
	var wg sync.WaitGroup
	var good atomic.Int32
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%8 == 0 {
				_, err := st.AppendAudit(ctx, func(*store.AuditRecord) (store.AuditRecord, error) { return store.AuditRecord{}, errBad })
				if !errors.Is(err, errBad) {
					t.Errorf("bad append %d: %v", i, err)
				}
				return
			}
			if err := al.Event(ctx, "U0001", "", "command", map[string]any{"i": i}); err != nil {
				t.Errorf("append %d: %v", i, err)
				return
			}
			good.Add(1)
		}()
	}
	wg.Wait()
	if res, err := al.Verify(ctx); err != nil || !res.OK || res.Entries != int(good.Load()) || good.Load() != 28 {
		t.Fatalf("verify: %+v %v (good %d)", res, err, good.Load())
	}
}

// TestGroupCommitHonoursAnEndedContext: a write whose context has ended is
// refused with the context's error.
func TestGroupCommitHonoursAnEndedContext(t *testing.T) {
	st := storetest.Open(t, store.DriverSQLite)
	c, cancel := context.WithCancel(ctx)
	cancel()
	_, err := st.Remember(c, "v0=aa", time.Now(), time.Minute)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("remember on an ended context: %v", err)
	}
	// whether it was written or not, the answer agrees with the store
	first, err2 := st.Remember(ctx, "v0=aa", time.Now(), time.Minute)
	if err2 != nil || first != (err != nil) {
		t.Fatalf("after: first %v (%v); the ended write returned %v", first, err2, err)
	}
}
