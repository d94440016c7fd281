package audit

import (
	"context"
	"fmt"

	"github.com/killswitch/killswitch/bot/store"
)

// Anchor is a head recorded outside the database: a verified checkpoint,
// or a hash given by hand. Seq 0 with a hash other than GenesisHash means
// the entry is unknown and is looked up by its hash.
type Anchor struct {
	Seq  int64
	Hash string
}

// AnchorOf is the anchor of a (verified) checkpoint.
func AnchorOf(c Checkpoint) Anchor { return Anchor{Seq: c.Seq, Hash: c.Hash} }

// VerifyAnchored is Verify, then checks the chain against a: the entry it
// names must be there with its hash (else truncated, emptied or rewritten),
// and no entry may follow it (else unanchored: a valid chain that no signed
// checkpoint covers is what an attacker appending forged entries leaves).
func (l *Log) VerifyAnchored(ctx context.Context, a Anchor) (VerifyResult, error) {
	res, recs, err := l.verify(ctx)
	if err != nil || !res.OK {
		return res, err
	}
	return checkAnchor(res, recs, a), nil
}

func checkAnchor(res VerifyResult, recs []store.AuditRecord, a Anchor) VerifyResult {
	n := int64(len(recs))
	bad := func(kind string, seq int64, format string, args ...any) VerifyResult {
		res.OK, res.Kind, res.FirstBad, res.Problem = false, kind, seq, fmt.Sprintf(format, args...)
		return res
	}
	if a.Seq == 0 && a.Hash != GenesisHash {
		seq, ok := seqOfHash(recs, a.Hash)
		if !ok {
			return bad(KindRewritten, 1, "no entry has the head hash %s: the log was truncated or rewritten (it has %d entries)", short(a.Hash), n)
		}
		a.Seq = seq
	}
	switch {
	case a.Seq > n && n == 0:
		return bad(KindEmptied, 1, "the log is empty but the checkpoint names entry %d: the log was emptied", a.Seq)
	case a.Seq > n:
		return bad(KindTruncated, n+1, "the log ends at entry %d but the checkpoint names entry %d: the log was truncated", n, a.Seq)
	case a.Seq > 0 && recs[a.Seq-1].Hash != a.Hash:
		return bad(KindRewritten, a.Seq, "entry %d's hash differs from the checkpoint (%s, the checkpoint says %s): the log was rewritten", a.Seq, short(recs[a.Seq-1].Hash), short(a.Hash))
	}
	res.Anchored = a.Seq
	if n > a.Seq {
		return bad(KindUnanchored, a.Seq+1, "entries %d to %d follow the checkpoint's entry %d and no signed checkpoint covers them: unanchored (they may be forged); verify with a newer checkpoint", a.Seq+1, n, a.Seq)
	}
	return res
}

func seqOfHash(recs []store.AuditRecord, hash string) (int64, bool) {
	for _, r := range recs {
		if r.Hash == hash {
			return r.Seq, true
		}
	}
	return 0, false
}
