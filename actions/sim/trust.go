package sim

import (
	"encoding/json"
	"strings"
)

// trustAllows reports whether a role's trust policy lets a principal of
// account acct (principalARN: a user or role ARN, the role of an assumed
// role) call sts:AssumeRole: an Allow statement for sts:AssumeRole whose
// Principal is "*", the account (id or root ARN) or the principal itself,
// and no such Deny. Conditions in trust policies are not evaluated (the
// simulated intruder is assumed to meet them).
func trustAllows(trust, acct, principalARN string) bool {
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(trust), &doc) != nil {
		return false
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(doc.Statement, &stmts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(doc.Statement, &one) != nil {
			return false
		}
		stmts = []map[string]json.RawMessage{one}
	}
	allowed := false
	for _, st := range stmts {
		var effect string
		_ = json.Unmarshal(st["Effect"], &effect)
		if !globAny(lowerAll(rawStrings(st["Action"])), "sts:assumerole") || !trustPrincipal(st["Principal"], acct, principalARN) {
			continue
		}
		switch effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func trustPrincipal(raw json.RawMessage, acct, principalARN string) bool {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, p := range rawStrings(m["AWS"]) {
		if p == "*" || p == acct || p == "arn:aws:iam::"+acct+":root" || p == principalARN {
			return true
		}
	}
	return false
}

// rawStrings reads a JSON string or array of strings.
func rawStrings(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}
