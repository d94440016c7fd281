package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

var ctx = context.Background()

func newRequest(requester string) *store.Request {
	now := time.Now().UTC()
	return &store.Request{
		Kind:      store.KindAction,
		Action:    "deny-delete",
		Accounts:  []string{"111122223333", "444455556666"},
		Reason:    "console takeover",
		Incident:  "INC-1",
		Requester: requester,
		Team:      "T0001",
		Plan:      []byte(`{"action":"deny-delete"}`),
		CreatedAt: now,
		ExpiresAt: now.Add(15 * time.Minute),
	}
}

func mustCreate(t *testing.T, st store.Store, r *store.Request) *store.Request {
	t.Helper()
	if err := st.CreateRequest(ctx, r); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return r
}

func TestOpenUnknownDriver(t *testing.T) {
	_, err := store.Open(ctx, "mysql", "x")
	if err == nil || !strings.Contains(err.Error(), `unknown driver "mysql"`) {
		t.Fatalf("Open(mysql) = %v, want unknown driver error", err)
	}
	if _, err := store.Open(ctx, "sqlite", " "); err == nil {
		t.Fatal("Open(sqlite, blank dsn) succeeded")
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		a := storetest.OpenDSN(t, driver, dsn)
		mustCreate(t, a, newRequest("U1"))
		a.Close()
		b := storetest.OpenDSN(t, driver, dsn) // second Open: nothing to apply, data kept
		if got, err := b.ListRequests(ctx, store.Filter{}); err != nil || len(got) != 1 {
			t.Fatalf("after reopen: %d requests, %v; want 1", len(got), err)
		}
		db := b.(*store.SQLStore).DB()
		var n, v int
		if err := db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if n != len(allVersions()) || v != store.SchemaVersion() {
			t.Fatalf("schema_migrations: %d rows, max %d; want %d rows, max %d", n, v, len(allVersions()), store.SchemaVersion())
		}
	})
}

func allVersions() []int {
	return store.Versions()
}

func TestMigrationsConcurrentOpen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				st, err := store.Open(ctx, driver, dsn)
				if err != nil {
					errs <- err
					return
				}
				errs <- st.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
			}
		}
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		st := storetest.OpenDSN(t, driver, dsn)
		storetest.Exec(t, st, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, store.SchemaVersion()+1)
		_, err := store.Open(ctx, driver, dsn)
		if err == nil || !strings.Contains(err.Error(), "newer than this build") {
			t.Fatalf("Open on a newer schema = %v, want refusal", err)
		}
	})
}

func TestRequestRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := mustCreate(t, st, newRequest("U1"))
		if !regexp.MustCompile(`^ks-[0-9a-f]{8}$`).MatchString(r.ID) {
			t.Errorf("generated id %q, want ks-xxxxxxxx", r.ID)
		}
		if r.State != store.Pending || r.Version != 1 {
			t.Errorf("created state %s version %d, want pending 1", r.State, r.Version)
		}
		got, err := st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Action != r.Action || got.Reason != r.Reason || got.Incident != r.Incident || got.Requester != "U1" ||
			got.Team != "T0001" || strings.Join(got.Accounts, ",") != "111122223333,444455556666" ||
			string(got.Plan) != string(r.Plan) || got.Result != nil || got.Kind != store.KindAction {
			t.Errorf("round trip: got %+v, want %+v", got, r)
		}
		if !got.CreatedAt.Equal(r.CreatedAt) || !got.ExpiresAt.Equal(r.ExpiresAt) || !got.PinnedAt.IsZero() {
			t.Errorf("times: got created %v expires %v pinned %v; want %v %v zero", got.CreatedAt, got.ExpiresAt, got.PinnedAt, r.CreatedAt, r.ExpiresAt)
		}

		if _, err := st.GetRequest(ctx, "ks-00000000"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRequest(unknown) = %v, want ErrNotFound", err)
		}
		dup := newRequest("U1")
		dup.ID = r.ID
		if err := st.CreateRequest(ctx, dup); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("CreateRequest(same id) = %v, want ErrDuplicate", err)
		}
		bad := newRequest("U1")
		bad.Kind = "nuke"
		if err := st.CreateRequest(ctx, bad); err == nil {
			t.Error("CreateRequest(kind nuke) succeeded")
		}
	})
}

func TestListRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		base := time.Now().UTC()
		var ids []string
		for i, who := range []string{"U1", "U2", "U1", "U1"} {
			r := newRequest(who)
			r.CreatedAt = base.Add(time.Duration(i) * time.Second)
			mustCreate(t, st, r)
			ids = append(ids, r.ID)
		}
		if _, err := st.Transition(ctx, ids[2], []store.State{store.Pending}, store.Rejected, nil); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			f    store.Filter
			want []string
		}{
			{"all newest first", store.Filter{}, []string{ids[3], ids[2], ids[1], ids[0]}},
			{"requester", store.Filter{Requester: "U1"}, []string{ids[3], ids[2], ids[0]}},
			{"states", store.Filter{States: []store.State{store.Pending}}, []string{ids[3], ids[1], ids[0]}},
			{"two states and requester", store.Filter{States: []store.State{store.Pending, store.Rejected}, Requester: "U1"}, []string{ids[3], ids[2], ids[0]}},
			{"limit", store.Filter{Limit: 2}, []string{ids[3], ids[2]}},
			{"none", store.Filter{States: []store.State{store.Running}}, nil},
		}
		for _, c := range cases {
			got, err := st.ListRequests(ctx, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: got %v, want %v", c.name, gotIDs, c.want)
			}
		}
	})
}

func TestTransition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := mustCreate(t, st, newRequest("U1"))

		// Wrong source state: ErrConflict, and the current request.
		cur, err := st.Transition(ctx, r.ID, []store.State{store.Approved}, store.Running, nil)
		if !errors.Is(err, store.ErrConflict) || cur == nil || cur.State != store.Pending {
			t.Fatalf("Transition from approved = %v, %v; want ErrConflict with the pending request", cur, err)
		}
		if _, err := st.Transition(ctx, "ks-nope", []store.State{store.Pending}, store.Approved, nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Transition(unknown) = %v, want ErrNotFound", err)
		}
		// A pinned field cannot change.
		if _, err := st.Transition(ctx, r.ID, []store.State{store.Pending}, store.Approved, func(r *store.Request) { r.Action = "lockdown" }); err == nil || !strings.Contains(err.Error(), "Action") {
			t.Fatalf("Transition changing Action = %v, want pinned-field error", err)
		}

		got, err := st.Transition(ctx, r.ID, []store.State{store.Pending}, store.Approved, func(r *store.Request) { r.MessageTS = "1.2" })
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.Approved || got.Version != 2 || got.MessageTS != "1.2" {
			t.Fatalf("after approve: %s v%d ts %q", got.State, got.Version, got.MessageTS)
		}
		pin := time.Now().UTC().Add(-time.Minute)
		got, err = st.Transition(ctx, r.ID, []store.State{store.Approved}, store.Running, func(r *store.Request) { r.PinnedAt = pin })
		if err != nil {
			t.Fatal(err)
		}
		// PinnedAt is set once.
		if _, err := st.Transition(ctx, r.ID, []store.State{store.Running}, store.Succeeded, func(r *store.Request) { r.PinnedAt = time.Now() }); err == nil {
			t.Fatal("re-pinning PinnedAt succeeded")
		}
		got, err = st.Transition(ctx, r.ID, []store.State{store.Running}, store.Partial, func(r *store.Request) {
			r.Result = []byte(`{"ok":1}`)
			r.Error = "account 444455556666: access denied"
		})
		if err != nil {
			t.Fatal(err)
		}
		again, err := st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.State != store.Partial || !again.PinnedAt.Equal(pin) || string(again.Result) != `{"ok":1}` ||
			again.Error != got.Error || again.Version != 4 || again.MessageTS != "1.2" {
			t.Fatalf("stored after run: %+v", again)
		}
	})
}

// race runs n goroutines released together, each calling fn(i).
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func TestTransitionRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		// Two stores on one database: two replicas.
		replicas := []store.Store{storetest.OpenDSN(t, driver, dsn), storetest.OpenDSN(t, driver, dsn)}
		for _, tc := range []struct {
			name     string
			replicas []store.Store
		}{{"one store", replicas[:1]}, {"two replicas", replicas}} {
			t.Run(tc.name, func(t *testing.T) {
				r := mustCreate(t, replicas[0], newRequest("U1"))
				var wins, conflicts atomic.Int64
				race(50, func(i int) {
					st := tc.replicas[i%len(tc.replicas)]
					_, err := st.Transition(ctx, r.ID, []store.State{store.Pending}, store.Approved, nil)
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, store.ErrConflict):
						conflicts.Add(1)
					default:
						t.Errorf("Transition: %v", err)
					}
				})
				if wins.Load() != 1 || conflicts.Load() != 49 {
					t.Fatalf("wins %d conflicts %d, want 1 and 49", wins.Load(), conflicts.Load())
				}
				got, err := replicas[1%len(replicas)].GetRequest(ctx, r.ID)
				if err != nil || got.State != store.Approved || got.Version != 2 {
					t.Fatalf("after race: %v %v", got, err)
				}
			})
		}
	})
}

func TestUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := mustCreate(t, st, newRequest("U1"))
		stale := r.Clone()

		r.Channel, r.MessageTS = "C1", "1700000000.000100"
		if err := st.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Version != 2 {
			t.Fatalf("version after Update = %d, want 2", r.Version)
		}
		stale.MessageTS = "9"
		if err := st.Update(ctx, stale); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale Update = %v, want ErrConflict", err)
		}
		r.Reason = "changed my mind"
		if err := st.Update(ctx, r); err == nil || !strings.Contains(err.Error(), "Reason") {
			t.Fatalf("Update changing Reason = %v, want pinned-field error", err)
		}
		r.Reason = stale.Reason
		r.State = store.Approved
		if err := st.Update(ctx, r); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Update changing State = %v, want ErrConflict", err)
		}
		got, _ := st.GetRequest(ctx, r.ID)
		if got.MessageTS != "1700000000.000100" || got.Channel != "C1" || got.State != store.Pending {
			t.Fatalf("stored: %+v", got)
		}
		missing := newRequest("U1")
		missing.ID = "ks-missing"
		if err := st.Update(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Update(unknown) = %v, want ErrNotFound", err)
		}
	})
}

// An Update of a non-state field racing a Transition must not make the
// transition lose: only a state change can.
func TestTransitionSurvivesUpdateRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := mustCreate(t, st, newRequest("U1"))
		var transErr error
		race(2, func(i int) {
			if i == 0 {
				_, transErr = st.Transition(ctx, r.ID, []store.State{store.Pending}, store.Approved, nil)
				return
			}
			for range 20 {
				cur, err := st.GetRequest(ctx, r.ID)
				if err != nil {
					t.Error(err)
					return
				}
				cur.MessageTS = fmt.Sprint(time.Now().UnixNano())
				if err := st.Update(ctx, cur); err != nil && !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			}
		})
		if transErr != nil {
			t.Fatalf("Transition lost to Update: %v", transErr)
		}
	})
}

func TestApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := mustCreate(t, st, newRequest("U1"))
		t0 := time.Now().UTC()
		for i, who := range []string{"U3", "U2"} {
			if err := st.AddApproval(ctx, store.Approval{RequestID: r.ID, Approver: who, At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.AddApproval(ctx, store.Approval{RequestID: r.ID, Approver: "U3", At: t0}); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("same approver twice = %v, want ErrDuplicate", err)
		}
		if err := st.AddApproval(ctx, store.Approval{RequestID: "ks-nope", Approver: "U3"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("approval of unknown request = %v, want ErrNotFound", err)
		}
		got, err := st.Approvals(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Approver != "U3" || got[1].Approver != "U2" || !got[0].At.Equal(t0) {
			t.Fatalf("Approvals = %+v, want U3 then U2", got)
		}

		// Concurrent duplicates: exactly one insert wins.
		var ok atomic.Int64
		race(20, func(int) {
			err := st.AddApproval(ctx, store.Approval{RequestID: r.ID, Approver: "U9"})
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, store.ErrDuplicate) {
				t.Error(err)
			}
		})
		if ok.Load() != 1 {
			t.Fatalf("%d concurrent identical approvals succeeded, want 1", ok.Load())
		}
	})
}

func TestSteps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := mustCreate(t, st, newRequest("U1"))
		other := mustCreate(t, st, newRequest("U1"))
		put := func(id, key, data string) {
			t.Helper()
			if err := st.PutStep(ctx, store.Step{RequestID: id, Key: key, Data: []byte(data)}); err != nil {
				t.Fatal(err)
			}
		}
		put(r.ID, "222:deny-delete", `{"v":1}`)
		put(r.ID, "222:revoke", `{"v":1}`)
		put(other.ID, "x", `{}`)
		put(r.ID, "222:deny-delete", `{"v":2}`) // upsert keeps Seq 1
		put(r.ID, "222:disable", `{"v":1}`)

		got, err := st.Steps(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			key  string
			seq  int64
			data string
		}{{"222:deny-delete", 1, `{"v":2}`}, {"222:revoke", 2, `{"v":1}`}, {"222:disable", 3, `{"v":1}`}}
		if len(got) != len(want) {
			t.Fatalf("Steps = %+v", got)
		}
		for i, w := range want {
			if got[i].Key != w.key || got[i].Seq != w.seq || string(got[i].Data) != w.data || got[i].RequestID != r.ID {
				t.Errorf("step %d = %+v, want %+v", i, got[i], w)
			}
		}
		if err := st.PutStep(ctx, store.Step{RequestID: "ks-nope", Key: "k"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("PutStep(unknown request) = %v, want ErrNotFound", err)
		}

		// Concurrent new keys get distinct, contiguous Seqs.
		c := mustCreate(t, st, newRequest("U1"))
		race(30, func(i int) {
			if err := st.PutStep(ctx, store.Step{RequestID: c.ID, Key: fmt.Sprintf("k%02d", i), Data: []byte(`{}`)}); err != nil {
				t.Error(err)
			}
		})
		steps, err := st.Steps(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) != 30 {
			t.Fatalf("%d steps, want 30", len(steps))
		}
		for i, s := range steps {
			if s.Seq != int64(i+1) {
				t.Fatalf("step %d has seq %d", i, s.Seq)
			}
		}
	})
}

func TestOneActiveUndo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		orig := mustCreate(t, st, newRequest("U1"))
		undo := func() *store.Request {
			u := newRequest("U1")
			u.Kind, u.UndoOf = store.KindUndo, orig.ID
			return u
		}
		first := mustCreate(t, st, undo())
		if err := st.CreateRequest(ctx, undo()); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("second active undo = %v, want ErrDuplicate", err)
		}
		if got, err := st.ListRequests(ctx, store.Filter{UndoOf: orig.ID}); err != nil || len(got) != 1 || got[0].ID != first.ID {
			t.Fatalf("ListRequests(UndoOf) = %v, %v", got, err)
		}
		if _, err := st.Transition(ctx, first.ID, []store.State{store.Pending}, store.Cancelled, nil); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, st, undo()) // the cancelled one no longer counts
	})
}

// chainBuilder is a minimal hash chain (the audit package has the real one).
func chainBuilder(actor string) func(prev *store.AuditRecord) (store.AuditRecord, error) {
	return func(prev *store.AuditRecord) (store.AuditRecord, error) {
		rec := store.AuditRecord{Seq: 1, At: time.Now().UTC(), Actor: actor, Event: "test", Data: []byte(`{}`), PrevHash: strings.Repeat("0", 64)}
		if prev != nil {
			rec.Seq, rec.PrevHash = prev.Seq+1, prev.Hash
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s", rec.PrevHash, rec.Seq, rec.Actor))
		rec.Hash = hex.EncodeToString(sum[:])
		return rec, nil
	}
}

func TestAuditAppendConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		replicas := []store.Store{storetest.OpenDSN(t, driver, dsn), storetest.OpenDSN(t, driver, dsn)}
		race(100, func(i int) {
			if _, err := replicas[i%2].AppendAudit(ctx, chainBuilder(fmt.Sprint("actor", i))); err != nil {
				t.Error(err)
			}
		})
		recs, err := replicas[0].Audit(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 100 {
			t.Fatalf("%d records, want 100", len(recs))
		}
		prev := strings.Repeat("0", 64)
		for i, r := range recs {
			if r.Seq != int64(i+1) || r.PrevHash != prev {
				t.Fatalf("record %d: seq %d prev %s, want seq %d prev %s", i, r.Seq, r.PrevHash, i+1, prev)
			}
			prev = r.Hash
		}
	})
}

func TestAuditAppendRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		first, err := st.AppendAudit(ctx, chainBuilder("a"))
		if err != nil || first.Seq != 1 {
			t.Fatalf("first append = %+v, %v", first, err)
		}
		wrongSeq := func(prev *store.AuditRecord) (store.AuditRecord, error) {
			r, _ := chainBuilder("a")(prev)
			r.Seq += 5
			return r, nil
		}
		if _, err := st.AppendAudit(ctx, wrongSeq); err == nil {
			t.Error("append with a seq gap succeeded")
		}
		fork := func(prev *store.AuditRecord) (store.AuditRecord, error) {
			r, _ := chainBuilder("a")(prev)
			r.PrevHash = strings.Repeat("f", 64)
			return r, nil
		}
		if _, err := st.AppendAudit(ctx, fork); err == nil {
			t.Error("append not linked to the previous hash succeeded")
		}
		boom := errors.New("boom")
		if _, err := st.AppendAudit(ctx, func(*store.AuditRecord) (store.AuditRecord, error) { return store.AuditRecord{}, boom }); !errors.Is(err, boom) {
			t.Errorf("build error = %v, want boom", err)
		}
		withReq := func(prev *store.AuditRecord) (store.AuditRecord, error) {
			r, err := chainBuilder("b")(prev)
			r.RequestID = "ks-1"
			return r, err
		}
		if _, err := st.AppendAudit(ctx, withReq); err != nil {
			t.Fatal(err)
		}
		recs, err := st.Audit(ctx, store.AuditFilter{RequestID: "ks-1"})
		if err != nil || len(recs) != 1 || recs[0].Seq != 2 || recs[0].Actor != "b" {
			t.Fatalf("Audit(ks-1) = %+v, %v", recs, err)
		}

		// The table is append-only for anyone who does not drop the triggers.
		db := st.(*store.SQLStore)
		if _, err := db.DB().Exec(`UPDATE audit SET actor = 'mallory'`); err == nil {
			t.Error("UPDATE audit succeeded")
		}
		if _, err := db.DB().Exec(`DELETE FROM audit`); err == nil {
			t.Error("DELETE FROM audit succeeded")
		}
	})
}

func TestPing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOpenSQLiteDSNs(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{":memory:", dir + "/plain.db", dir + "/q.db?_pragma=synchronous(NORMAL)", "file:" + dir + "/uri.db?cache=private"} {
		st, err := store.Open(ctx, store.DriverSQLite, dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		r := newRequest("U1")
		if err := st.CreateRequest(ctx, r); err != nil {
			t.Fatalf("%s: CreateRequest: %v", dsn, err)
		}
		var fk int
		if err := st.(*store.SQLStore).DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("%s: foreign_keys = %d, %v", dsn, fk, err)
		}
		var mode string
		if err := st.(*store.SQLStore).DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || (dsn != ":memory:" && mode != "wal") {
			t.Errorf("%s: journal_mode = %q, %v; want wal", dsn, mode, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunLock: two replicas that both try to run one request never hold the
// right at once; releasing (or the holder's death) frees it.
func TestRunLock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		a := storetest.OpenDSN(t, driver, dsn)
		b := storetest.OpenDSN(t, driver, dsn)
		ctx := context.Background()
		relA, ok, err := a.TryRunLock(ctx, "ks-00000001")
		if err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		if _, ok, err := b.TryRunLock(ctx, "ks-00000001"); err != nil || ok {
			t.Fatalf("a second replica got the lock: %v %v", ok, err)
		}
		if _, ok, err := a.TryRunLock(ctx, "ks-00000001"); err != nil || ok {
			t.Fatalf("the same store got the lock twice: %v %v", ok, err)
		}
		relOther, ok, err := b.TryRunLock(ctx, "ks-00000002")
		if err != nil || !ok {
			t.Fatalf("another request's lock: %v %v", ok, err)
		}
		relOther()
		relA()
		relB, ok, err := b.TryRunLock(ctx, "ks-00000001")
		if err != nil || !ok {
			t.Fatalf("after release: %v %v", ok, err)
		}
		relB()
		if _, _, err := a.TryRunLock(ctx, "../etc/passwd"); driver == store.DriverSQLite && err == nil {
			t.Fatal("a hostile id was accepted as a lock file name")
		}
	})
}

// TestRunLockReleasedWhenTheHolderDies: PostgreSQL drops the lock with the
// holder's connection (a crashed replica must not block the survivor).
func TestRunLockReleasedWhenTheHolderDies(t *testing.T) {
	dsn := storetest.NewDSN(t, store.DriverPostgres)
	a, err := store.Open(context.Background(), store.DriverPostgres, dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.OpenDSN(t, store.DriverPostgres, dsn)
	if _, ok, err := a.TryRunLock(context.Background(), "ks-0000dead"); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	// the holder dies without releasing: its server connection ends
	key := "ks-0000dead"
	var pid int
	row := b.(*store.SQLStore).DB().QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND ((classid::bigint << 32) | objid::bigint) = ($1::bigint & x'ffffffffffffffff'::bigint)`, store.RunLockKey(key))
	if err := row.Scan(&pid); err != nil {
		t.Fatalf("find the lock holder: %v", err)
	}
	storetest.Exec(t, b, `SELECT pg_terminate_backend(?)`, pid)
	defer a.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rel, ok, err := b.TryRunLock(context.Background(), "ks-0000dead")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			rel()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead holder's lock was never released")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
