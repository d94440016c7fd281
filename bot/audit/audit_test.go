package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

var ctx = context.Background()

func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		err := l.Event(ctx, "U1", fmt.Sprintf("ks-%08d", i%3), "approval", map[string]any{"n": i, "note": "<&> ünïcode"})
		if err != nil {
			t.Fatalf("Event %d: %v", i, err)
		}
	}
}

func mustVerify(t *testing.T, l *audit.Log) audit.VerifyResult {
	t.Helper()
	res, err := l.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func TestEmptyLogVerifies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		l := audit.New(storetest.Open(t, driver), nil)
		res := mustVerify(t, l)
		if !res.OK || res.Entries != 0 || res.FirstBad != 0 || res.Head != audit.GenesisHash {
			t.Fatalf("empty log: %+v", res)
		}
	})
}

func TestChainIntact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		a := audit.New(storetest.OpenDSN(t, driver, dsn), nil)
		b := audit.New(storetest.OpenDSN(t, driver, dsn), nil) // a second replica
		fill(t, a, 50)
		var wg sync.WaitGroup
		for i := range 60 {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() {
				c := audit.Call{Service: "iam", Operation: "UpdateAccessKey", Account: "111122223333", Target: "alice", Outcome: "ok"}
				if err := l.Call(ctx, "killswitch", "ks-00000001", c); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		fill(t, b, 10)
		res := mustVerify(t, a)
		if !res.OK || res.Entries != 120 || res.Head == audit.GenesisHash {
			t.Fatalf("intact chain: %+v", res)
		}
		entries, err := a.Entries(ctx, "ks-00000001")
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		for i, e := range entries {
			if i > 0 && e.Seq <= entries[i-1].Seq {
				t.Fatalf("entries not oldest first: %d after %d", e.Seq, entries[i-1].Seq)
			}
			if e.RequestID != "ks-00000001" {
				t.Fatalf("entry of %q in Entries(ks-00000001)", e.RequestID)
			}
			if e.Event == audit.EventAWSCall {
				calls++
				if string(e.Data) != `{"account":"111122223333","operation":"UpdateAccessKey","outcome":"ok","service":"iam","target":"alice"}` {
					t.Fatalf("aws_call data %s", e.Data)
				}
			}
		}
		if calls != 60 {
			t.Fatalf("%d aws_call entries, want 60", calls)
		}
	})
}

func TestEntryFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		at := time.Date(2014, 6, 17, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
		l := audit.New(storetest.Open(t, driver), func() time.Time { return at })
		if err := l.Event(ctx, "U2", "ks-1", "approved", nil); err != nil {
			t.Fatal(err)
		}
		e, err := l.Entries(ctx, "")
		if err != nil || len(e) != 1 {
			t.Fatalf("Entries = %v, %v", e, err)
		}
		r := e[0]
		if r.Seq != 1 || !r.At.Equal(at) || r.At.Location() != time.UTC || r.Actor != "U2" || r.RequestID != "ks-1" ||
			r.Event != "approved" || string(r.Data) != "null" || r.PrevHash != audit.GenesisHash || len(r.Hash) != 64 {
			t.Fatalf("entry = %+v", r)
		}
		// The hash is over the documented encoding.
		h, err := audit.Hash(r)
		if err != nil || h != r.Hash {
			t.Fatalf("Hash = %s, %v; stored %s", h, err, r.Hash)
		}
		if err := l.Event(ctx, "", "ks-1", "x", nil); err == nil {
			t.Fatal("Event without actor succeeded")
		}
		if err := l.Event(ctx, "U2", "ks-1", "x", func() {}); err == nil {
			t.Fatal("Event with unencodable data succeeded")
		}
	})
}

// The documented encoding, pinned: changing it breaks every existing log.
func TestHashEncodingIsStable(t *testing.T) {
	r := store.AuditRecord{
		Seq:       7,
		At:        time.Date(2014, 6, 17, 12, 0, 0, 500, time.UTC),
		Actor:     "U1",
		RequestID: "ks-7f3a9c2e",
		Event:     "approval",
		Data:      []byte(`{ "b": 1.50, "a": "<x>" }`),
		PrevHash:  audit.GenesisHash,
	}
	got, err := audit.Hash(r)
	if err != nil {
		t.Fatal(err)
	}
	// sha256(64 zeros || {"seq":7,"at":"2014-06-17T12:00:00.0000005Z","actor":"U1","request_id":"ks-7f3a9c2e","event":"approval","data":{"a":"<x>","b":1.50}})
	const want = "8272b251f4e1769f3f7ebbaaebfc9827f034be324f6317c735ffe757ca6ed613"
	if got != want {
		t.Logf("Hash = %s (want the Python-computed value: the encoding drifted from the documented one)", got)
		t.Fail()
	}
}

func TestTamperingDetected(t *testing.T) {
	cases := []struct {
		name     string
		tamper   []string // raw SQL, `?`-free
		firstBad int64
		problem  string
	}{
		{"edited actor", []string{`UPDATE audit SET actor = 'mallory' WHERE seq = 4`}, 4, "entry 4 was modified"},
		{"edited request", []string{`UPDATE audit SET request_id = 'ks-other' WHERE seq = 2`}, 2, "entry 2 was modified"},
		{"edited event", []string{`UPDATE audit SET event = 'rejected' WHERE seq = 7`}, 7, "entry 7 was modified"},
		{"edited time", []string{`UPDATE audit SET at = at + 1000 WHERE seq = 6`}, 6, "entry 6 was modified"},
		{"edited data", []string{`UPDATE audit SET data = (SELECT data FROM audit WHERE seq = 1) WHERE seq = 5`}, 5, "entry 5 was modified"},
		{"edited hash", []string{`UPDATE audit SET hash = '` + strings.Repeat("a", 64) + `' WHERE seq = 9`}, 9, "entry 9 was modified"},
		{"edited prev hash", []string{`UPDATE audit SET prev_hash = '` + strings.Repeat("b", 64) + `' WHERE seq = 8`}, 8, "entry 8 does not link to entry 7"},
		{"deleted row", []string{`DELETE FROM audit WHERE seq = 5`}, 5, "entry 5 is missing"},
		{"deleted first row", []string{`DELETE FROM audit WHERE seq = 1`}, 1, "entry 1 is missing"},
		{"deleted rows", []string{`DELETE FROM audit WHERE seq IN (3, 4, 8)`}, 3, "entry 3 is missing"},
		{"reordered rows", []string{
			`UPDATE audit SET seq = 1000 WHERE seq = 3`,
			`UPDATE audit SET seq = 3 WHERE seq = 4`,
			`UPDATE audit SET seq = 4 WHERE seq = 1000`,
		}, 3, "entry 3 does not link to entry 2"},
		{"shifted after delete", []string{
			`DELETE FROM audit WHERE seq = 5`,
			`UPDATE audit SET seq = seq - 1 WHERE seq > 5`,
		}, 5, "entry 5 does not link to entry 4"},
	}
	storetest.Each(t, func(t *testing.T, driver string) {
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				st := storetest.Open(t, driver)
				l := audit.New(st, nil)
				fill(t, l, 10)
				if res := mustVerify(t, l); !res.OK {
					t.Fatalf("before tampering: %+v", res)
				}
				storetest.AllowAuditTampering(t, st)
				for _, q := range c.tamper {
					if n := storetest.Exec(t, st, q); n == 0 {
						t.Fatalf("%s: no row changed", q)
					}
				}
				res := mustVerify(t, l)
				if res.OK || res.FirstBad != c.firstBad || !strings.Contains(res.Problem, c.problem) {
					t.Fatalf("Verify = %+v, want first bad %d with %q", res, c.firstBad, c.problem)
				}
			})
		}
	})
}

// An attacker who edits an entry and recomputes its hash is caught at the
// next link; one who truncates the tail is caught only against a known head.
func TestRehashedAndTruncated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		l := audit.New(st, nil)
		fill(t, l, 10)
		before := mustVerify(t, l)

		storetest.AllowAuditTampering(t, st)
		recs, err := l.Entries(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		r := recs[8] // seq 9
		r.Actor = "mallory"
		h, err := audit.Hash(r)
		if err != nil {
			t.Fatal(err)
		}
		storetest.Exec(t, st, `UPDATE audit SET actor = 'mallory', hash = ? WHERE seq = 9`, h)
		res := mustVerify(t, l)
		if res.OK || res.FirstBad != 10 || !strings.Contains(res.Problem, "entry 10 does not link to entry 9") {
			t.Fatalf("rehashed entry 9: %+v", res)
		}

		storetest.Exec(t, st, `DELETE FROM audit WHERE seq >= 9`)
		res = mustVerify(t, l)
		if !res.OK || res.Entries != 8 || res.Head == before.Head {
			t.Fatalf("truncated: %+v (head before %s)", res, before.Head)
		}
	})
}

func TestSecretsRefused(t *testing.T) {
	const awsKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	type keyPair struct {
		AccessKeyID     string
		SecretAccessKey string
	}
	cases := []struct {
		name string
		data any
		kind string // "" = allowed
	}{
		{"AWS key struct", keyPair{"AKIAIOSFODNN7EXAMPLE", awsKey}, "AWS secret access key"},
		{"AWS key map", map[string]string{"aws_secret_access_key": awsKey}, "AWS secret access key"},
		{"AWS key nested", map[string]any{"x": []any{map[string]string{"Secret": awsKey}}}, "AWS secret access key"},
		{"AWS key in text", map[string]string{"error": "bad config: aws_secret_access_key=" + awsKey + " rejected"}, "AWS secret access key"},
		{"AWS key in embedded JSON", map[string]string{"raw": `{"SecretAccessKey":"` + awsKey + `"}`}, "AWS secret access key"},
		{"Slack bot token", map[string]string{"error": "auth failed for xoxb-1234567890-abcdefghij"}, "Slack token"},
		{"Slack user token", []string{"xoxp-1111-2222-3333-abcd"}, "Slack token"},
		{"Slack app token", "xapp-1-A0123456789-1234-abcdef", "Slack token"},
		{"signing secret field", map[string]string{"signing_secret": "x"}, "signing secret field"},
		{"signing secret field camel", struct{ SlackSigningSecret string }{""}, "signing secret field"},
		{"signing secret assignment", "SLACK_SIGNING_SECRET=abc", "signing secret field"},

		{"access key id", map[string]string{"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}, ""},
		{"secret ARN", map[string]string{"secret_arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:killswitch/alice-AbCdEf"}, ""},
		{"secret name", map[string]string{"secret_name": "killswitch/rotated/111122223333/alice"}, ""},
		{"40-char lowercase under secret key", map[string]string{"secret_id": "killswitch/rotated/111122223333/alice123"}, ""},
		{"sha1 not under secret key", map[string]string{"commit": "3f786850e387550fdab836ed7e6dc881de23001b"}, ""},
		{"mentions signing secret", map[string]string{"error": "the signing secret is not configured"}, ""},
		{"plain", map[string]any{"accounts": []string{"111122223333"}, "reason": "takeover"}, ""},
	}
	storetest.Each(t, func(t *testing.T, driver string) {
		l := audit.New(storetest.Open(t, driver), nil)
		for _, c := range cases {
			err := l.Event(ctx, "U1", "ks-1", "test", c.data)
			if c.kind == "" {
				if err != nil {
					t.Errorf("%s: refused: %v", c.name, err)
				}
				continue
			}
			if !errors.Is(err, audit.ErrSecret) || !strings.Contains(err.Error(), c.kind) {
				t.Errorf("%s: Event = %v, want ErrSecret (%s)", c.name, err, c.kind)
			}
			if err != nil && (strings.Contains(err.Error(), awsKey) || strings.Contains(err.Error(), "xox")) {
				t.Errorf("%s: the error repeats the secret: %v", c.name, err)
			}
		}
		// Refused events are not written; the chain stays intact.
		res := mustVerify(t, l)
		if !res.OK || res.Entries != 7 {
			t.Fatalf("after refusals: %+v, want 7 entries", res)
		}
	})
}

// *audit.Log satisfies approval.Auditor (declared here to keep the import
// graph one-way).
var _ interface {
	Event(ctx context.Context, actor, requestID, event string, data any) error
} = (*audit.Log)(nil)
