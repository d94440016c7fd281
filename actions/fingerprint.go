package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// A principal that looks exempt (a break-glass tag or pattern) is exempt
// only if the exemption baseline recorded it, and recorded it as it is now:
// the baseline keeps a fingerprint of each such principal — a user's access
// key ids and when its console password was set, a role's trust policy — so
// an intruder who, before the request, added a key or a password to a
// break-glass user or made a break-glass role trust itself does not inherit
// the exemption. A changed principal is contained, and quarantined by the
// guardrail if a pattern would exempt it.

// fingerprintSep separates a principal's ARN from its fingerprint in a
// baseline entry ("ARN fp=HEX"); an entry without one matches any state.
const fingerprintSep = " fp="

// fingerprints reads the fingerprint of every principal that claims an
// exemption (run once per principal and run: cached like tags). A principal
// whose fingerprint cannot be read gets the error, like unreadable tags:
// reported and left alone.
func (a *acct) fingerprints(ctx context.Context, ps []*principal) error {
	for _, p := range ps {
		if p.err != nil || a.claim(p) == "" || a.isCaller(p) {
			continue
		}
		if fp, ok := a.cachedFingerprint(p.arn); ok {
			p.fp = fp
			continue
		}
		fp, err := a.fingerprint(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			p.err = err
			continue
		}
		p.fp = fp
		a.cacheFingerprint(p.arn, fp)
	}
	return nil
}

func (a *acct) fingerprint(ctx context.Context, p *principal) (string, error) {
	var parts []string
	switch p.kind {
	case "user":
		keys, err := a.accessKeys(ctx, p)
		if err != nil {
			return "", err
		}
		for _, k := range keys {
			parts = append(parts, "key:"+aws.ToString(k.AccessKeyId))
		}
		has, lp, err := a.loginProfile(ctx, p)
		if err != nil {
			return "", err
		}
		if has && lp != nil {
			parts = append(parts, "password:"+aws.ToTime(lp.CreateDate).UTC().Format(time.RFC3339))
		}
	case "role":
		var doc any
		if json.Unmarshal([]byte(p.trust), &doc) == nil {
			canon, _ := json.Marshal(doc) // map keys sorted: equal documents, equal bytes
			parts = append(parts, "trust:"+string(canon))
		} else {
			parts = append(parts, "trust:"+p.trust)
		}
	}
	sort.Strings(parts)
	h := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(h[:8]), nil
}

func (a *acct) cachedFingerprint(arn string) (string, bool) {
	a.tagMu.Lock()
	defer a.tagMu.Unlock()
	fp, ok := a.fps[arn]
	return fp, ok
}

func (a *acct) cacheFingerprint(arn, fp string) {
	a.tagMu.Lock()
	defer a.tagMu.Unlock()
	if a.fps == nil {
		a.fps = map[string]string{}
	}
	a.fps[arn] = fp
}

// baselineEntry is how a baseline records p.
func baselineEntry(p *principal) string {
	if p.fp == "" {
		return p.arn
	}
	return p.arn + fingerprintSep + p.fp
}

// parseEntry splits a baseline entry into ARN and fingerprint ("" = any).
func parseEntry(e string) (arn, fp string) {
	arn, fp, _ = strings.Cut(e, fingerprintSep)
	return arn, fp
}

// BaselineARN is the principal ARN of a baseline entry (without its
// fingerprint), for display.
func BaselineARN(entry string) string {
	arn, _ := parseEntry(entry)
	return arn
}
