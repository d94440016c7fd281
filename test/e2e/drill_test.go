package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/slackfake"
)

// TestSlackDrillModeNeverCallsAWS: the built service configured with
// backend aws (every AWS endpoint a counter) plays /killswitch drill start
// codespaces in the channel: every message is labelled DRILL, the scorecard
// is posted in the thread, and the drill makes no AWS call at all.
func TestSlackDrillModeNeverCallsAWS(t *testing.T) {
	var calls atomic.Int64
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not AWS</Message></Error></ErrorResponse>`)
	}))
	defer aws.Close()
	fake := slackfake.New(t, botToken)
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, fake, fmt.Sprintf(`aws:
  backend: aws
  region: us-east-1
  endpoint_url: %q
  management_account: "111111111111"
  accounts: ["222222222222"]`, aws.URL))
	env := childEnv(append(slackEnv, "AWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE00", "AWS_SECRET_ACCESS_KEY=not-a-secret-at-all-0123456789abcdefghij",
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true")...)
	p := serve(t, cfg, env)
	settled := calls.Load() // the start-up baseline reads the accounts (and fails here)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		if n := calls.Load(); n == settled {
			break
		} else {
			settled = n
		}
	}

	code, body := p.post("/slack/commands", slackfake.SlashBody(team, requester, channel, "drill start codespaces", fake.HookURL("drill")))
	if code != http.StatusOK {
		t.Fatalf("drill start: %d %s", code, body)
	}
	score := fake.WaitNth(t, 60*time.Second, "the drill's scorecard", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && c.ThreadTS != "" && strings.Contains(c.Text, "scorecard")
	})
	if !strings.Contains(score.Text, "CONTAINED") || !strings.Contains(score.Text, "resources lost: 0 of") {
		t.Errorf("scorecard: %s", score.Text)
	}
	for _, c := range fake.Of(slackfake.PostMessage) {
		if !strings.Contains(c.Text, "DRILL") {
			t.Errorf("a drill message is not labelled DRILL: %.200s", c.Text)
		}
	}
	if n := calls.Load() - settled; n != 0 {
		t.Fatalf("the drill made %d call(s) to the configured AWS endpoint", n)
	}
	if code, _ := p.post("/slack/commands", slackfake.SlashBody(team, requester, channel, "drill stop", fake.HookURL("stop"))); code != http.StatusOK {
		t.Errorf("drill stop: %d", code)
	}
}
