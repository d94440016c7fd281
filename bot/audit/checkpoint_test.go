package audit_test

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

func ctxTime() time.Time { return time.Date(2014, 6, 17, 9, 0, 0, 123456789, time.UTC) }

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sink collects checkpoints.
type sink struct {
	mu  sync.Mutex
	cps []audit.Checkpoint
}

func (s *sink) put(c audit.Checkpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cps = append(s.cps, c)
}

func TestCheckpointEveryNAndOnDemand(t *testing.T) {
	st := storetest.Open(t, store.DriverSQLite)
	l := audit.New(st, nil)
	key := testKey(t)
	var got sink
	l.SetCheckpoints(audit.Checkpoints{Key: key, Every: 5, Sink: got.put})
	fill(t, l, 12)
	cp, ok, err := l.Checkpoint(ctx)
	if err != nil || !ok {
		t.Fatalf("Checkpoint: %v %v", ok, err)
	}
	var seqs []int64
	for _, c := range got.cps {
		seqs = append(seqs, c.Seq)
		if err := c.Verify(key.Public().(ed25519.PublicKey)); err != nil {
			t.Error(err)
		}
	}
	if len(seqs) != 3 || seqs[0] != 5 || seqs[1] != 10 || seqs[2] != 12 {
		t.Fatalf("checkpoints at entries %v, want [5 10 12]", seqs)
	}
	head := mustVerify(t, l).Head
	if cp.Seq != 12 || cp.Hash != head {
		t.Fatalf("checkpoint %+v, want entry 12 with hash %s", cp, head)
	}
	res, err := l.VerifyAnchored(ctx, audit.AnchorOf(cp))
	if err != nil || !res.OK || res.Anchored != 12 {
		t.Fatalf("intact log against its checkpoint: %+v, %v", res, err)
	}
	if _, ok, _ := audit.New(st, nil).Checkpoint(ctx); ok {
		t.Fatal("a log without a key wrote a checkpoint")
	}
}

func TestCheckpointSignature(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	cp := audit.SignCheckpoint(key, 7, strings.Repeat("a", 64), ctxTime())
	if err := cp.Verify(pub); err != nil {
		t.Fatal(err)
	}
	for name, forged := range map[string]audit.Checkpoint{
		"seq":  {Seq: 8, Hash: cp.Hash, At: cp.At, Sig: cp.Sig},
		"hash": {Seq: 7, Hash: strings.Repeat("b", 64), At: cp.At, Sig: cp.Sig},
		"key":  audit.SignCheckpoint(testKey(t), 7, cp.Hash, cp.At),
	} {
		if forged.Verify(pub) == nil {
			t.Errorf("a checkpoint with another %s verifies", name)
		}
	}
}

// A checkpoint file may be the service's log stream (logrus JSON), a pasted
// Slack message or checkpoints one a line; a forged one is an error.
func TestReadCheckpoints(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	a := audit.SignCheckpoint(key, 3, strings.Repeat("c", 64), ctxTime())
	b := audit.SignCheckpoint(key, 9, strings.Repeat("d", 64), ctxTime())
	logLine, _ := json.Marshal(map[string]any{"level": "info", "msg": "audit checkpoint", "checkpoint": b})
	plain, _ := json.Marshal(a)
	text := "not json\n" + string(logLine) + "\n```\n" + string(plain) + "\n```\n{\"level\":\"info\",\"msg\":\"listening\"}\n"
	cps, err := audit.ReadCheckpoints(strings.NewReader(text), pub)
	if err != nil || len(cps) != 2 {
		t.Fatalf("ReadCheckpoints: %v, %v", cps, err)
	}
	if newest, err := audit.Newest(cps); err != nil || newest.Seq != 9 {
		t.Fatalf("Newest: %+v, %v", newest, err)
	}
	forged := a
	forged.Seq = 99
	line, _ := json.Marshal(forged)
	if _, err := audit.ReadCheckpoints(strings.NewReader(string(line)+"\n"), pub); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a forged checkpoint: %v", err)
	}
	if _, err := audit.Newest(nil); err == nil {
		t.Fatal("Newest of none")
	}
}

// With file access (the triggers dropped), an attacker truncates, empties,
// appends forged entries with recomputed hashes, or rewrites the whole
// chain: every one leaves a valid chain, and every one is named against the
// checkpoint.
func TestAnchorCatchesWhatTheChainCannot(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, st store.Store)
		kind    string
		problem string
	}{
		{"truncated", func(t *testing.T, st store.Store) {
			storetest.Exec(t, st, `DELETE FROM audit WHERE seq > 7`)
		}, audit.KindTruncated, "the log ends at entry 7 but the checkpoint names entry 10"},
		{"emptied", func(t *testing.T, st store.Store) {
			storetest.Exec(t, st, `DELETE FROM audit`)
		}, audit.KindEmptied, "the log is empty but the checkpoint names entry 10"},
		{"forged entry appended", func(t *testing.T, st store.Store) {
			if err := audit.New(st, nil).Event(ctx, "mallory", "ks-00000001", "approved", nil); err != nil {
				t.Fatal(err)
			}
		}, audit.KindUnanchored, "entries 11 to 11 follow the checkpoint's entry 10 and no signed checkpoint covers them"},
		{"rewritten", func(t *testing.T, st store.Store) {
			storetest.Exec(t, st, `DELETE FROM audit`)
			l := audit.New(st, nil) // as many entries again, every hash recomputed
			for i := 0; i < 10; i++ {
				if err := l.Event(ctx, "mallory", "ks-00000001", "approval", map[string]any{"n": i}); err != nil {
					t.Fatal(err)
				}
			}
		}, audit.KindRewritten, "entry 10's hash differs from the checkpoint"},
	}
	storetest.Each(t, func(t *testing.T, driver string) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				st := storetest.Open(t, driver)
				l := audit.New(st, nil)
				l.SetCheckpoints(audit.Checkpoints{Key: testKey(t)})
				fill(t, l, 10)
				cp, _, err := l.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				storetest.AllowAuditTampering(t, st)
				c.tamper(t, st)
				if plain := mustVerify(t, l); !plain.OK {
					t.Fatalf("the chain alone should look intact after %s: %+v", c.name, plain)
				}
				res, err := l.VerifyAnchored(ctx, audit.AnchorOf(cp))
				if err != nil {
					t.Fatal(err)
				}
				if res.OK || res.Kind != c.kind || !strings.Contains(res.Problem, c.problem) {
					t.Fatalf("%s: %+v, want kind %s with %q", c.name, res, c.kind, c.problem)
				}
				// a head recorded by hand (hash only) catches it too
				byHash, err := l.VerifyAnchored(ctx, audit.Anchor{Hash: cp.Hash})
				if err != nil || byHash.OK {
					t.Fatalf("%s against --head: %+v, %v", c.name, byHash, err)
				}
			})
		}
	})
}
