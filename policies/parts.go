package policies

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// RenderParts renders the document called name with p and returns it as one
// or more documents, each valid and within the size limit of every kind the
// document is attached as (for deny-delete: an SCP's 5,120 characters, white
// space included, which is stricter than a managed policy's 6,144). A
// document that fits is returned as one part, identical to Render's result.
//
// Splitting keeps the statements in order and fills each part before
// starting the next; a statement whose Action list does not fit in what is
// left of a part is cut between two actions, the continuation's Sid getting
// a suffix ("ProtectData", "ProtectData2", ...). Every piece keeps its
// statement's Effect, Resource and Condition, so the parts together deny
// exactly what the whole document denies. The result is deterministic: the
// same name and parameters give the same parts, so a rerun finds every part
// unchanged.
//
// Each part is attached separately (SCP KillSwitchDenyDelete,
// KillSwitchDenyDelete-2, ...): AWS allows 5 SCPs per target, FullAWSAccess
// included, so every part is one slot fewer for the customer's own.
func RenderParts(name string, p Params) ([]string, error) {
	d, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("render %s: %w (have %s)", quote(name), ErrUnknownDocument, strings.Join(names(), ", "))
	}
	src, err := template(name)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", quote(name), err)
	}
	whole, problems := render(src, p)
	if len(problems) > 0 {
		return nil, &ValidationError{Document: name, Problems: problems}
	}
	// The grammar and deny rules are checked on the whole document, the
	// sizes on each part.
	if err := validate(d, whole, false); err != nil {
		return nil, err
	}
	doc, err := decodeTemplate([]byte(whole))
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", quote(name), err)
	}
	parts, err := split(*doc, d.Kinds)
	if err != nil {
		return nil, &ValidationError{Document: name, Problems: []string{err.Error()}}
	}
	out := make([]string, len(parts))
	for i, part := range parts {
		b, err := json.Marshal(part)
		if err != nil {
			return nil, fmt.Errorf("render %s part %d: %w", quote(name), i+1, err)
		}
		if err := Validate(d, string(b)); err != nil {
			return nil, fmt.Errorf("render %s part %d of %d: %w", quote(name), i+1, len(parts), err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// PartName returns the name of part i (0-based) of a document attached as
// base: base itself for the first part, base-2, base-3, ... after it.
func PartName(base string, i int) string {
	if i == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(i+1)
}

// fitsAll reports whether doc, marshalled, is within the limit of every kind.
func fitsAll(doc policyDoc, kinds []Kind) bool {
	b, err := json.Marshal(doc)
	if err != nil {
		return false
	}
	for _, k := range kinds {
		if Size(k, string(b)) > k.Limit() {
			return false
		}
	}
	return true
}

// split packs the statements of doc into as few documents as the limits of
// kinds allow, in order, cutting Action lists where needed.
func split(doc policyDoc, kinds []Kind) ([]policyDoc, error) {
	if fitsAll(doc, kinds) {
		return []policyDoc{doc}, nil
	}
	newPart := func() policyDoc { return policyDoc{Version: doc.Version, ID: doc.ID} }
	parts := []policyDoc{newPart()}
	with := func(s statement) policyDoc {
		cur := parts[len(parts)-1]
		cur.Statement = append(append([]statement(nil), cur.Statement...), s)
		return cur
	}
	for i, s := range doc.Statement {
		rest := s
		piece := 1
		for {
			if fitsAll(with(rest), kinds) {
				parts[len(parts)-1] = with(rest)
				break
			}
			acts := rest.Action.vals
			// the largest head of the Action list that still fits
			k := 0
			if len(acts) > 1 {
				lo, hi := 0, len(acts)-1
				for lo < hi {
					mid := (lo + hi + 1) / 2
					if fitsAll(with(withActions(rest, acts[:mid])), kinds) {
						lo = mid
					} else {
						hi = mid - 1
					}
				}
				k = lo
			}
			if k == 0 {
				if len(parts[len(parts)-1].Statement) == 0 {
					return nil, fmt.Errorf("statement %d (Sid %s) does not fit in one %s policy even with a single action", i+1, quote(s.Sid), strictest(kinds))
				}
				parts = append(parts, newPart())
				continue
			}
			parts[len(parts)-1] = with(withActions(rest, acts[:k]))
			piece++
			rest = withActions(rest, acts[k:])
			if rest.Sid != "" {
				rest.Sid = s.Sid + strconv.Itoa(piece)
			}
			parts = append(parts, newPart())
		}
	}
	return parts, nil
}

func withActions(s statement, acts []string) statement {
	s.Action = strList{vals: append([]string(nil), acts...), array: true}
	return s
}

func strictest(kinds []Kind) Kind {
	var best Kind
	for _, k := range kinds {
		if best == "" || k.Limit() < best.Limit() {
			best = k
		}
	}
	return best
}
