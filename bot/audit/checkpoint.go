package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/killswitch/killswitch/bot/store"
)

// EnvKey names the environment variable holding the checkpoint signing key:
// the base64 of a 32-byte Ed25519 seed. It is never logged or shown.
const EnvKey = "KILLSWITCH_AUDIT_KEY"

// DefaultCheckpointEvery is how many entries may pass between checkpoints.
const DefaultCheckpointEvery = 100

// Checkpoint is a signed statement of the chain's head, kept outside the
// database (the log stream, the request's Slack thread): entry Seq has hash
// Hash, as of At. Seq 0 (hash GenesisHash) is the empty log.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
	Sig  string    `json:"sig"` // base64 Ed25519 signature of message()
}

// message is the signed text; it names its purpose so a signature cannot be
// reused for anything else.
func (c Checkpoint) message() []byte {
	return fmt.Appendf(nil, "killswitch audit checkpoint v1\nseq %d\nhash %s\nat %s\n", c.Seq, c.Hash, c.At.UTC().Format(time.RFC3339Nano))
}

// SignCheckpoint signs the head (seq, hash) at time at.
func SignCheckpoint(key ed25519.PrivateKey, seq int64, hash string, at time.Time) Checkpoint {
	c := Checkpoint{Seq: seq, Hash: hash, At: at.UTC()}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.message()))
	return c
}

// Verify checks c's signature with pub.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	if err != nil || !ed25519.Verify(pub, c.message(), sig) {
		return fmt.Errorf("checkpoint of entry %d is not signed by the configured audit key", c.Seq)
	}
	return nil
}

// ParsePrivateKey reads a base64 Ed25519 seed. Its errors never repeat it.
func ParsePrivateKey(b64 string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is not the base64 of a %d-byte Ed25519 seed", EnvKey, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads a base64 Ed25519 public key.
func ParsePublicKey(b64 string) (ed25519.PublicKey, error) {
	pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("audit public key %q is not the base64 of a %d-byte Ed25519 public key", b64, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(pub), nil
}

// PublicKeyString is the base64 public key of key (for audit.public_key).
func PublicKeyString(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
}

// Checkpoints turns on signed checkpoints for a Log.
type Checkpoints struct {
	Key   ed25519.PrivateKey
	Every int64            // at least one checkpoint every Every entries (default DefaultCheckpointEvery)
	Sink  func(Checkpoint) // where each checkpoint is written (the log stream); may be nil
}

// SetCheckpoints turns on signed checkpoints: one every c.Every entries
// appended by this Log, and one at every call of Checkpoint.
func (l *Log) SetCheckpoints(c Checkpoints) {
	if c.Every <= 0 {
		c.Every = DefaultCheckpointEvery
	}
	l.cp.Store(&c)
}

// Checkpoint signs the current head, writes it to the sink and returns it;
// ok is false when checkpoints are off.
func (l *Log) Checkpoint(ctx context.Context) (cp Checkpoint, ok bool, err error) {
	c := l.cp.Load()
	if c == nil {
		return Checkpoint{}, false, nil
	}
	last, err := l.st.LastAudit(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit checkpoint: %w", err)
	}
	head := store.AuditRecord{Hash: GenesisHash}
	if last != nil {
		head = *last
	}
	return l.emit(c, head), true, nil
}

// afterAppend writes a checkpoint when Every entries passed since the last.
func (l *Log) afterAppend(rec store.AuditRecord) {
	c := l.cp.Load()
	if c == nil {
		return
	}
	last := l.lastCP.Load()
	if rec.Seq-last >= c.Every && l.lastCP.CompareAndSwap(last, rec.Seq) {
		l.emit(c, rec)
	}
}

func (l *Log) emit(c *Checkpoints, head store.AuditRecord) Checkpoint {
	cp := SignCheckpoint(c.Key, head.Seq, head.Hash, l.now())
	for {
		last := l.lastCP.Load()
		if head.Seq <= last || l.lastCP.CompareAndSwap(last, head.Seq) {
			break
		}
	}
	if c.Sink != nil {
		c.Sink(cp)
	}
	return cp
}

// ReadCheckpoints reads the checkpoints in r, one JSON object a line: a
// checkpoint, or a log line carrying one in its "checkpoint" field (the
// service's log stream). Other lines are skipped. A checkpoint whose
// signature does not verify with pub is an error: it was forged or altered.
func ReadCheckpoints(r io.Reader, pub ed25519.PublicKey) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		cp, ok := parseCheckpointLine(sc.Bytes())
		if !ok {
			continue
		}
		if err := cp.Verify(pub); err != nil {
			return nil, fmt.Errorf("line %d: %w: it was forged or altered", n, err)
		}
		out = append(out, cp)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}

func parseCheckpointLine(line []byte) (Checkpoint, bool) {
	var wrapped struct {
		Checkpoint *Checkpoint `json:"checkpoint"`
	}
	if json.Unmarshal(line, &wrapped) == nil && wrapped.Checkpoint != nil {
		return *wrapped.Checkpoint, wrapped.Checkpoint.Sig != ""
	}
	var cp Checkpoint
	if json.Unmarshal(line, &cp) != nil || cp.Sig == "" || cp.Hash == "" {
		return Checkpoint{}, false
	}
	return cp, true
}

// Newest returns the checkpoint of the highest entry.
func Newest(cps []Checkpoint) (Checkpoint, error) {
	if len(cps) == 0 {
		return Checkpoint{}, errors.New("no signed audit checkpoint found")
	}
	best := cps[0]
	for _, c := range cps[1:] {
		if c.Seq > best.Seq || c.Seq == best.Seq && c.At.After(best.At) {
			best = c
		}
	}
	return best, nil
}
