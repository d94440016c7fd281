package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// auditSetup is a store with 10 audit entries, a checkpoint of entry 10 in
// a file (a line of the service's log stream) and a configuration naming
// the store and the public key.
type auditSetup struct {
	dir, cfg, dsn, cpFile string
	key                   ed25519.PrivateKey
	st                    store.Store
	cp                    audit.Checkpoint
}

func newAuditSetup(t *testing.T) *auditSetup {
	t.Helper()
	s := &auditSetup{dir: t.TempDir()}
	s.dsn = filepath.Join(s.dir, "killswitch.db")
	_, s.key, _ = ed25519.GenerateKey(nil)
	s.cfg = s.writeConfig(t, "audit:\n  public_key: "+audit.PublicKeyString(s.key)+"\n")
	s.st = storetest.OpenDSN(t, store.DriverSQLite, s.dsn)
	l := audit.New(s.st, nil)
	l.SetCheckpoints(audit.Checkpoints{Key: s.key})
	for i := 1; i <= 10; i++ {
		if err := l.Event(context.Background(), "U0001", "ks-00000001", "approval", map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if s.cp, _, err = l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(map[string]any{"level": "info", "msg": "audit checkpoint", "checkpoint": s.cp})
	s.cpFile = filepath.Join(s.dir, "checkpoints.log")
	if err := os.WriteFile(s.cpFile, append(line, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *auditSetup) writeConfig(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(s.dir, fmt.Sprintf("killswitch-%d.yaml", len(extra)))
	yaml := fmt.Sprintf("aws:\n  backend: sim\nstore:\n  driver: sqlite\n  dsn: %q\n%s", s.dsn, extra)
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuditVerifyAgainstACheckpoint(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, st store.Store)
		want   string
	}{
		{"truncated", func(t *testing.T, st store.Store) { storetest.Exec(t, st, `DELETE FROM audit WHERE seq > 7`) },
			"audit log truncated: the log ends at entry 7 but the checkpoint names entry 10"},
		{"emptied", func(t *testing.T, st store.Store) { storetest.Exec(t, st, `DELETE FROM audit`) },
			"audit log emptied: the log is empty but the checkpoint names entry 10"},
		{"forged entry appended", func(t *testing.T, st store.Store) {
			if err := audit.New(st, nil).Event(context.Background(), "mallory", "ks-00000001", "approved", nil); err != nil {
				t.Fatal(err)
			}
		}, "audit log unanchored: entries 11 to 11 follow the checkpoint's entry 10 and no signed checkpoint covers them"},
		{"rewritten", func(t *testing.T, st store.Store) {
			storetest.Exec(t, st, `DELETE FROM audit`)
			l := audit.New(st, nil)
			for i := 1; i <= 12; i++ {
				if err := l.Event(context.Background(), "mallory", "ks-00000001", "approval", map[string]any{"n": i}); err != nil {
					t.Fatal(err)
				}
			}
		}, "audit log rewritten: entry 10's hash differs from the checkpoint"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			s := newAuditSetup(t)
			storetest.AllowAuditTampering(t, s.st)
			c.tamper(t, s.st)
			if code, out, stderr := runCLI(t, "audit", "verify", "--config", s.cfg); code != 0 {
				t.Fatalf("the chain alone should look intact: exit %d %s%s", code, out, stderr)
			}
			code, _, stderr := runCLI(t, "audit", "verify", "--config", s.cfg, "--checkpoint", s.cpFile)
			if code != exitFailure || !strings.Contains(stderr, c.want) {
				t.Fatalf("verify --checkpoint: exit %d, stderr %q; want exit 1 and %q", code, stderr, c.want)
			}
		})
	}
	t.Run("intact", func(t *testing.T) {
		s := newAuditSetup(t)
		code, out, stderr := runCLI(t, "audit", "verify", "--config", s.cfg, "--checkpoint", s.cpFile)
		if code != 0 || !strings.Contains(out, "anchored by the checkpoint at entry 10") {
			t.Fatalf("exit %d %q %q", code, out, stderr)
		}
		head := fmt.Sprintf("10:%s", s.cp.Hash)
		if !strings.Contains(out, "head "+head) {
			t.Fatalf("verify does not print the head as --head takes it: %q", out)
		}
		if code, _, stderr := runCLI(t, "audit", "verify", "--config", s.cfg, "--head", head); code != 0 {
			t.Fatalf("--head %s: exit %d %q", head, code, stderr)
		}
		storetest.AllowAuditTampering(t, s.st)
		storetest.Exec(t, s.st, `DELETE FROM audit WHERE seq > 4`)
		code, _, stderr = runCLI(t, "audit", "verify", "--config", s.cfg, "--head", head)
		if code != exitFailure || !strings.Contains(stderr, "the log ends at entry 4 but the checkpoint names entry 10") {
			t.Fatalf("--head after truncation: exit %d %q", code, stderr)
		}
		code, _, stderr = runCLI(t, "audit", "verify", "--config", s.cfg, "--head", s.cp.Hash)
		if code != exitFailure || !strings.Contains(stderr, "truncated or rewritten") {
			t.Fatalf("--head HASH after truncation: exit %d %q", code, stderr)
		}
	})
	t.Run("forged_checkpoint", func(t *testing.T) {
		s := newAuditSetup(t)
		forged := s.cp
		forged.Seq = 4
		line, _ := json.Marshal(forged)
		os.WriteFile(s.cpFile, line, 0o600)
		code, _, stderr := runCLI(t, "audit", "verify", "--config", s.cfg, "--checkpoint", s.cpFile)
		if code != exitFailure || !strings.Contains(stderr, "not signed by the configured audit key") {
			t.Fatalf("exit %d %q", code, stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		s := newAuditSetup(t)
		noKey := s.writeConfig(t, "")
		for _, args := range [][]string{
			{"audit", "verify", "--config", noKey, "--checkpoint", s.cpFile},
			{"audit", "verify", "--config", s.cfg, "--checkpoint", s.cpFile, "--head", s.cp.Hash},
			{"audit", "verify", "--config", s.cfg, "--head", "nothex"},
		} {
			if code, _, stderr := runCLI(t, args...); code != exitUsage {
				t.Errorf("%v: exit %d %q, want 2", args, code, stderr)
			}
		}
	})
}

// audit verify and show refuse a missing database instead of creating an
// empty one that verifies.
func TestAuditRefusesAMissingDatabase(t *testing.T) {
	s := &auditSetup{dir: t.TempDir()}
	s.dsn = filepath.Join(s.dir, "gone.db")
	cfg := s.writeConfig(t, "")
	for _, verb := range []string{"verify", "show"} {
		code, _, stderr := runCLI(t, "audit", verb, "--config", cfg)
		if code != exitFailure || !strings.Contains(stderr, "no audit database at "+s.dsn+": give --config with the service's store") {
			t.Errorf("audit %s: exit %d %q", verb, code, stderr)
		}
	}
	if _, err := os.Stat(s.dsn); !os.IsNotExist(err) {
		t.Fatalf("audit created %s", s.dsn)
	}
}

func TestAuditShowListsRefusals(t *testing.T) {
	s := newAuditSetup(t)
	appr := &approval.Service{Store: s.st, Audit: audit.New(s.st, nil), Policy: approval.Policy{Requesters: []string{"U0001"}, Approvers: []string{"U0002"}}}
	r, err := appr.Submit(context.Background(), approval.NewRequest{Kind: store.KindAction, Action: "deny-delete", Reason: "attacker", Requester: "U0001"})
	if err != nil {
		t.Fatal(err)
	}
	appr.Approve(context.Background(), r.ID, "U0001")
	code, out, stderr := runCLI(t, "audit", "show", "--config", s.cfg, "--request", r.ID)
	if code != 0 || !strings.Contains(out, "refused") || !strings.Contains(out, "approve refused: you cannot approve your own request") {
		t.Fatalf("audit show: exit %d %q %q", code, out, stderr)
	}
}

func TestSetupCheckpointsKeys(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	seed := base64.StdEncoding.EncodeToString(key.Seed())
	_, other, _ := ed25519.GenerateKey(nil)
	log := logrus.New()
	var logs strings.Builder
	log.SetOutput(&logs)
	for _, c := range []struct {
		name, env, pub, want string
	}{
		{"matching", seed, audit.PublicKeyString(key), ""},
		{"mismatch", seed, audit.PublicKeyString(other), "does not match audit.public_key"},
		{"public key without the key", "", audit.PublicKeyString(key), "KILLSWITCH_AUDIT_KEY is not"},
		{"not a seed", "aGVsbG8=", "", "not the base64 of a 32-byte Ed25519 seed"},
		{"off", "", "", ""},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			t.Setenv(audit.EnvKey, c.env)
			cfg := &Config{Audit: AuditConfig{PublicKey: c.pub, CheckpointEvery: 10}}
			err := setupCheckpoints(cfg, audit.New(storetest.Open(t, store.DriverSQLite), nil), log)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), c.env) && c.env != "" {
				t.Fatalf("the error repeats the key: %v", err)
			}
		})
	}
	if strings.Contains(logs.String(), seed) {
		t.Fatal("the log contains the signing key")
	}
}

func TestAuditConfigValidated(t *testing.T) {
	s := &auditSetup{dir: t.TempDir()}
	s.dsn = filepath.Join(s.dir, "k.db")
	for extra, want := range map[string]string{
		"audit:\n  public_key: nope\n":                                         "audit.public_key",
		"audit:\n  checkpoint_every: -1\n":                                     "audit.checkpoint_every -1",
		"audit:\n  public_key: " + strings.Repeat("A", 43) + "=\n  bogus: 1\n": "bogus",
	} {
		if code, _, stderr := runCLI(t, "audit", "verify", "--config", s.writeConfig(t, extra)); code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d %q, want 2 and %q", extra, code, stderr, want)
		}
	}
}
