package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// The replay guard is in the database: a second store on it (a restart, a
// replica) sees the signatures the first one remembered.
func TestRememberIsSharedAndExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		a := storetest.OpenDSN(t, driver, dsn)
		b := storetest.OpenDSN(t, driver, dsn)
		now := time.Now()
		remember := func(st store.Store, sig string, at time.Time) bool {
			t.Helper()
			first, err := st.Remember(ctx, sig, at, 5*time.Minute)
			if err != nil {
				t.Fatalf("Remember(%s): %v", sig, err)
			}
			return first
		}
		if !remember(a, "v0=aa", now) {
			t.Fatal("a new signature is not first")
		}
		if remember(a, "v0=aa", now.Add(time.Second)) || remember(b, "v0=aa", now.Add(4*time.Minute)) {
			t.Fatal("a signature seen within the window is first again")
		}
		if !remember(b, "v0=aa", now.Add(6*time.Minute)) {
			t.Fatal("an expired signature is still remembered")
		}
		if !remember(b, "v0=bb", now.Add(20*time.Minute)) { // prunes v0=aa
			t.Fatal("another signature is not first")
		}
		var n int
		if err := b.(*store.SQLStore).DB().QueryRow(`SELECT COUNT(*) FROM replay_guard`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("replay_guard holds %d rows (%v) after pruning, want 1", n, err)
		}
	})
}

// Two replicas remembering the same signature at once: exactly one wins.
func TestRememberConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		sts := []store.Store{storetest.OpenDSN(t, driver, dsn), storetest.OpenDSN(t, driver, dsn)}
		var wins atomic.Int32
		var wg sync.WaitGroup
		now := time.Now()
		for i := range 8 {
			wg.Go(func() {
				first, err := sts[i%2].Remember(ctx, "v0=cc", now, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if first {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d first uses of one signature, want 1", wins.Load())
		}
	})
}

// A SQLite file deleted or replaced under the running store: Ping and every
// write fail with ErrGone, and no new file is created.
func TestSQLiteFileDeletedOrReplaced(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			dsn := storetest.NewDSN(t, store.DriverSQLite)
			st := storetest.OpenDSN(t, store.DriverSQLite, dsn)
			r := mustCreate(t, st, newRequest("U1"))
			for _, f := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			}
			if how == "replaced" {
				other := filepath.Join(t.TempDir(), "other.db")
				o, err := store.Open(ctx, store.DriverSQLite, other)
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
				if err := os.Rename(other, dsn); err != nil {
					t.Fatal(err)
				}
			}
			checks := map[string]error{
				"Ping":          st.Ping(ctx),
				"CreateRequest": st.CreateRequest(ctx, newRequest("U1")),
				"AddApproval":   st.AddApproval(ctx, store.Approval{RequestID: r.ID, Approver: "U2"}),
				"PutStep":       st.PutStep(ctx, store.Step{RequestID: r.ID, Key: "k"}),
			}
			_, checks["Transition"] = st.Transition(ctx, r.ID, []store.State{store.Pending}, store.Cancelled, nil)
			_, checks["AppendAudit"] = st.AppendAudit(ctx, func(*store.AuditRecord) (store.AuditRecord, error) {
				return store.AuditRecord{Seq: 1, Hash: "h"}, nil
			})
			_, checks["Remember"] = st.Remember(ctx, "v0=dd", time.Now(), time.Minute)
			_, _, checks["TryRunLock"] = st.TryRunLock(ctx, r.ID)
			for name, err := range checks {
				if !errors.Is(err, store.ErrGone) {
					t.Errorf("%s after the file was %s: %v, want ErrGone", name, how, err)
				}
			}
			if _, err := os.Stat(dsn); how == "deleted" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the deleted database file was recreated (%v)", err)
			}
		})
	}
}

func TestOpenExistingRefusesAMissingFile(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "nowhere.db")
	_, err := store.OpenExisting(ctx, store.DriverSQLite, dsn)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenExisting(missing) = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenExisting created %s", dsn)
	}
	st := storetest.OpenDSN(t, store.DriverSQLite, dsn)
	if !st.(*store.SQLStore).Created() {
		t.Error("Created() is false for a new file")
	}
	st.Close()
	again, err := store.OpenExisting(ctx, store.DriverSQLite, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.(*store.SQLStore).Created() {
		t.Error("Created() is true for an existing file")
	}
}
