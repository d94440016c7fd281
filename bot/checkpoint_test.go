package bot

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
)

// At the end of a request the audit head is signed, written to the sink
// (the log stream) and posted in the request's thread; the posted line
// verifies and anchors the whole log.
func TestCheckpointAtTheEndOfARequest(t *testing.T) {
	f := newFixture(t, stubEngine{})
	_, key, _ := ed25519.GenerateKey(nil)
	var (
		mu   sync.Mutex
		sunk []audit.Checkpoint
	)
	f.audit.SetCheckpoints(audit.Checkpoints{Key: key, Every: 1000, Sink: func(c audit.Checkpoint) {
		mu.Lock()
		defer mu.Unlock()
		sunk = append(sunk, c)
	}})
	if code, r := f.slash(t, requester, "deny-delete --all attacker deleting snapshots"); code != http.StatusOK {
		t.Fatalf("request: %d %q", code, r.Text)
	}
	id, ts := f.postedCard(t)
	f.click(t, approver, ts, ActionApprove, id)
	post := f.slack.WaitNth(t, 20*time.Second, "the checkpoint in the thread", 0, func(c slackfake.Call) bool {
		return c.ThreadTS == ts && strings.Contains(c.Text, "Audit checkpoint")
	})
	cps, err := audit.ReadCheckpoints(strings.NewReader(post.Text), key.Public().(ed25519.PublicKey))
	if err != nil || len(cps) != 1 {
		t.Fatalf("the posted checkpoint %q: %v, %v", post.Text, cps, err)
	}
	mu.Lock()
	logged := len(sunk)
	mu.Unlock()
	if logged != 1 {
		t.Errorf("%d checkpoints written to the log stream, want 1", logged)
	}
	res, err := f.audit.VerifyAnchored(context.Background(), audit.AnchorOf(cps[0]))
	if err != nil || !res.OK {
		t.Fatalf("the log against the posted checkpoint: %+v, %v", res, err)
	}
}
