package bot

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

// upperHex writes a signature's hex in upper case: the same signature to
// Slack's verifier, which compares bytes.
func upperHex(sig string) string { return "v0=" + strings.ToUpper(strings.TrimPrefix(sig, "v0=")) }

// A captured request is refused when replayed with its hex in another
// letter case, after a restart, and at another replica.
func TestReplayRefusedEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.NewDSN(t, driver)
		a := newFixtureOn(t, stubEngine{}, storetest.OpenDSN(t, driver, dsn))
		b := newFixtureOn(t, stubEngine{}, storetest.OpenDSN(t, driver, dsn)) // a replica
		body := slackfake.SlashBody(team, requester, channel, "help", "")
		captured := slackfake.SignedRequest(t, a.srv.URL+"/slack/commands", testSecret, time.Now(), body)
		send := func(f *fixture, mutate func(h http.Header)) int {
			t.Helper()
			r := slackfake.SignedRequest(t, f.srv.URL+"/slack/commands", testSecret, time.Now(), body)
			r.Header = captured.Header.Clone()
			if mutate != nil {
				mutate(r.Header)
			}
			code, _ := f.do(t, r)
			return code
		}
		upper := func(h http.Header) { h.Set("X-Slack-Signature", upperHex(h.Get("X-Slack-Signature"))) }
		if code := send(a, upper); code != http.StatusOK {
			t.Fatalf("first use (upper-case hex): %d, want 200", code)
		}
		if code := send(a, nil); code != http.StatusUnauthorized {
			t.Errorf("replay in lower case: %d, want 401", code)
		}
		if code := send(b, nil); code != http.StatusUnauthorized {
			t.Errorf("replay at another replica: %d, want 401", code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.svc.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		a.st.Close()
		restarted := newFixtureOn(t, stubEngine{}, storetest.OpenDSN(t, driver, dsn))
		if code := send(restarted, upper); code != http.StatusUnauthorized {
			t.Errorf("replay after a restart: %d, want 401", code)
		}
		if !strings.Contains(b.logs.String(), "replayed request") || !strings.Contains(restarted.logs.String(), "replayed request") {
			t.Error("the replay refusals are not logged as such")
		}
	})
}

func TestReplayKey(t *testing.T) {
	for in, want := range map[string]string{
		"v0=ABCdef01": "v0=abcdef01",
		"v0=abcdef01": "v0=abcdef01",
	} {
		if got, err := replayKey(in); err != nil || got != want {
			t.Errorf("replayKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "v0=", "v0=zz", "v0=abc"} {
		if _, err := replayKey(bad); err == nil {
			t.Errorf("replayKey(%q) accepted", bad)
		}
	}
}

// The SQLite file deleted under the running service: /readyz fails, a new
// request is refused with a message that says why, and nothing is recreated.
func TestStoreDeletedUnderTheService(t *testing.T) {
	dsn := storetest.NewDSN(t, store.DriverSQLite)
	f := newFixtureOn(t, stubEngine{}, storetest.OpenDSN(t, store.DriverSQLite, dsn))
	for _, p := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
		_ = os.Remove(p)
	}
	resp, err := http.Get(f.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with the store deleted: %d, want 503", resp.StatusCode)
	}
	code, r := f.slash(t, requester, "deny-delete --all attacker deleting snapshots")
	if code != http.StatusOK || !strings.Contains(r.Text, "database is gone") || !strings.Contains(r.Text, "nothing was done") {
		t.Fatalf("a request with the store deleted: %d %q", code, r.Text)
	}
	time.Sleep(100 * time.Millisecond)
	if calls := f.slack.Of(slackfake.PostMessage); len(calls) > 0 {
		t.Errorf("an approval card was posted with the store gone: %+v", calls)
	}
	if _, err := os.Stat(dsn); !os.IsNotExist(err) {
		t.Errorf("the database file was recreated (%v)", err)
	}
}
