// Package audit is killswitch's append-only, hash-chained audit log and its
// verifier. Every request transition and every AWS call is written here
// before the Slack message changes.
//
// # Chain
//
// Entry n stores Hash_n = hex(SHA-256(PrevHash_n || C_n)), where PrevHash_n
// is Hash_(n-1) as its 64 lowercase hex characters (64 "0"s for entry 1) and
// C_n is the canonical JSON encoding of the entry:
//
//	{"seq":N,"at":"RFC3339Nano in UTC","actor":"...","request_id":"...","event":"...","data":DATA}
//
// with exactly these keys in this order and no whitespace. DATA is the
// entry's JSON re-encoded canonically: objects with keys sorted (by bytes),
// no insignificant whitespace, numbers verbatim, strings as Go's
// encoding/json writes them without HTML escaping; absent data is null.
// Strings are encoded the same way. Seqs are contiguous from 1.
//
// Verify recomputes every hash, so it detects edited fields, edited hashes,
// deleted entries (a seq gap) and reordered entries, and names the first bad
// entry. Deleting entries at the end of the log, emptying it, appending
// entries with recomputed hashes or rewriting it whole leave a valid chain:
// only a head recorded outside the database catches those. The Log signs
// such heads (Checkpoint, SetCheckpoints: Ed25519), and VerifyAnchored
// checks the chain against one, naming truncation, emptying, rewriting and
// entries no checkpoint covers (unanchored) as such.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/killswitch/killswitch/bot/store"
)

// GenesisHash is the PrevHash of the first entry.
var GenesisHash = strings.Repeat("0", 64)

// EventAWSCall is the event of an entry written by Call.
const EventAWSCall = "aws_call"

// ErrSecret is returned (wrapped) by Event for data that looks like it
// contains a secret. The error never repeats the secret.
var ErrSecret = errors.New("audit data looks like it contains a secret")

// Log writes and verifies the audit chain kept in a store.
type Log struct {
	st     store.Store
	now    func() time.Time
	cp     atomic.Pointer[Checkpoints] // nil: checkpoints off
	lastCP atomic.Int64                // seq of the last checkpoint written here
}

// New returns a Log on st; now defaults to time.Now.
func New(st store.Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{st: st, now: now}
}

// Event appends one entry. data is JSON-encoded; it must not contain secrets
// (see ErrSecret). The entry is durable when Event returns nil.
func (l *Log) Event(ctx context.Context, actor, requestID, event string, data any) error {
	if actor == "" || event == "" {
		return fmt.Errorf("audit event %q of request %q: actor and event are required", event, requestID)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit event %q of request %q: encode data: %w", event, requestID, err)
	}
	canon, err := canonicalJSON(raw)
	if err != nil {
		return fmt.Errorf("audit event %q of request %q: encode data: %w", event, requestID, err)
	}
	probe, err := encode(entry{Actor: actor, RequestID: requestID, Event: event, Data: canon})
	if err != nil {
		return fmt.Errorf("audit event %q of request %q: %w", event, requestID, err)
	}
	if kind := secretKind(probe); kind != "" {
		return fmt.Errorf("audit event %q of request %q: %w (%s)", event, requestID, ErrSecret, kind)
	}
	rec, err := l.st.AppendAudit(ctx, func(prev *store.AuditRecord) (store.AuditRecord, error) {
		rec := store.AuditRecord{
			Seq:       1,
			At:        l.now().UTC(),
			Actor:     actor,
			RequestID: requestID,
			Event:     event,
			Data:      canon,
			PrevHash:  GenesisHash,
		}
		if prev != nil {
			rec.Seq, rec.PrevHash = prev.Seq+1, prev.Hash
		}
		h, err := Hash(rec)
		if err != nil {
			return store.AuditRecord{}, err
		}
		rec.Hash = h
		return rec, nil
	})
	if err != nil {
		return fmt.Errorf("audit event %q of request %q: %w", event, requestID, err)
	}
	l.afterAppend(rec)
	return nil
}

// Call is one AWS call made for a request.
type Call struct {
	Service   string `json:"service"`
	Operation string `json:"operation"`
	Account   string `json:"account"`
	Target    string `json:"target,omitempty"`
	Outcome   string `json:"outcome"`
	Error     string `json:"error,omitempty"`
}

// Call appends an "aws_call" entry.
func (l *Log) Call(ctx context.Context, actor, requestID string, c Call) error {
	return l.Event(ctx, actor, requestID, EventAWSCall, c)
}

// Entries returns the entries of one request (all entries for ""), oldest first.
func (l *Log) Entries(ctx context.Context, requestID string) ([]store.AuditRecord, error) {
	recs, err := l.st.Audit(ctx, store.AuditFilter{RequestID: requestID})
	if err != nil {
		return nil, fmt.Errorf("audit entries of request %q: %w", requestID, err)
	}
	return recs, nil
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Entries  int    // entries read
	OK       bool   // the chain is intact
	Kind     string // what went wrong: one of the Problem kinds; "" when OK
	FirstBad int64  // seq of the first bad (or missing) entry; 0 when OK
	Problem  string // what is wrong with it
	Head     string // hash of the last entry (GenesisHash when empty); anchor it elsewhere
	Anchored int64  // with an anchor: the last entry it covers
}

// Problem kinds of VerifyResult.
const (
	KindBroken     = "broken"     // an entry edited, missing or out of order in the chain
	KindTruncated  = "truncated"  // entries the anchor covers were deleted at the end
	KindEmptied    = "emptied"    // the log is empty but the anchor names entries
	KindRewritten  = "rewritten"  // the anchored entry has another hash
	KindUnanchored = "unanchored" // entries past the anchor that no checkpoint covers
)

// Verify recomputes the whole chain. The error is for failing to read it;
// a broken chain is reported in the result.
func (l *Log) Verify(ctx context.Context) (VerifyResult, error) {
	res, _, err := l.verify(ctx)
	return res, err
}

func (l *Log) verify(ctx context.Context) (VerifyResult, []store.AuditRecord, error) {
	recs, err := l.st.Audit(ctx, store.AuditFilter{})
	if err != nil {
		return VerifyResult{}, nil, fmt.Errorf("verify audit log: %w", err)
	}
	res, err := verifyChain(recs)
	return res, recs, err
}

func verifyChain(recs []store.AuditRecord) (VerifyResult, error) {
	res := VerifyResult{Entries: len(recs), OK: true, Head: GenesisHash}
	bad := func(seq int64, format string, args ...any) (VerifyResult, error) {
		res.OK, res.Kind, res.FirstBad, res.Problem = false, KindBroken, seq, fmt.Sprintf(format, args...)
		return res, nil
	}
	prev := GenesisHash
	for i, r := range recs {
		want := int64(i + 1)
		switch {
		case r.Seq > want:
			return bad(want, "entry %d is missing (the next entry is %d)", want, r.Seq)
		case r.Seq < want:
			return bad(r.Seq, "entry %d is out of order (expected %d)", r.Seq, want)
		}
		if r.PrevHash != prev {
			return bad(r.Seq, "entry %d does not link to entry %d: prev_hash %s, want %s", r.Seq, r.Seq-1, short(r.PrevHash), short(prev))
		}
		h, err := Hash(r)
		if err != nil {
			return bad(r.Seq, "entry %d cannot be encoded: %v", r.Seq, err)
		}
		if h != r.Hash {
			return bad(r.Seq, "entry %d was modified: its hash is %s, its content hashes to %s", r.Seq, short(r.Hash), short(h))
		}
		prev = r.Hash
	}
	res.Head = prev
	return res, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// entry is the canonical form of a record (field order is the encoding).
type entry struct {
	Seq       int64           `json:"seq"`
	At        string          `json:"at"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"request_id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
}

// Hash computes the chain hash of r from r.PrevHash and r's content (not
// from r.Hash). See the package documentation for the encoding.
func Hash(r store.AuditRecord) (string, error) {
	data, err := canonicalJSON(r.Data)
	if err != nil {
		return "", fmt.Errorf("data: %w", err)
	}
	b, err := encode(entry{
		Seq:       r.Seq,
		At:        r.At.UTC().Format(time.RFC3339Nano),
		Actor:     r.Actor,
		RequestID: r.RequestID,
		Event:     r.Event,
		Data:      data,
	})
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(r.PrevHash))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// encode is json.Marshal without HTML escaping and without the newline.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalJSON re-encodes raw with sorted object keys, no whitespace and
// verbatim numbers; empty input is null.
func canonicalJSON(raw []byte) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: trailing data")
	}
	return encode(v)
}

var (
	// A 40-character AWS secret access key as the value of a key whose name
	// has "secret" in it: {"SecretAccessKey":"..."}, "aws_secret_access_key=..."
	// (also inside a string). ARNs ("...:secret:name") are not key names.
	awsSecretRE = regexp.MustCompile(`(?i)secret[a-z0-9_.\-]*(?:\\?"\s*:\s*\\?"|\s*=\s*\\?"?)([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`)
	// Slack bot, user, app-level, refresh, configuration and legacy tokens.
	slackTokenRE = regexp.MustCompile(`\bxox[abcdeprs]-[0-9A-Za-z-]{8,}|\bxapp-[0-9]+-[0-9A-Za-z-]{8,}`)
	// A field named like the Slack signing secret, whatever its value.
	signingSecretRE = regexp.MustCompile(`(?i)signing[_\-. ]?secret[a-z0-9_\-]*(?:\\?"\s*:|\s*=)`)
)

// secretKind names the kind of secret s seems to contain, or "".
func secretKind(s []byte) string {
	for _, m := range awsSecretRE.FindAllSubmatch(s, -1) {
		// Random base64 of 40 characters has both cases (all but ~1e-9 of
		// keys); paths and names that happen to be 40 characters rarely do.
		if bytes.ContainsFunc(m[1], isUpper) && bytes.ContainsFunc(m[1], isLower) {
			return "an AWS secret access key"
		}
	}
	if slackTokenRE.Match(s) {
		return "a Slack token"
	}
	if signingSecretRE.Match(s) {
		return "a signing secret field"
	}
	return ""
}

func isUpper(r rune) bool { return r >= 'A' && r <= 'Z' }
func isLower(r rune) bool { return r >= 'a' && r <= 'z' }
