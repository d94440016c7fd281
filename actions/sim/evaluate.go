package sim

import (
	"fmt"
	"strings"
)

// EvalRequest is one call for EvaluatePolicy: who calls (a user, role or
// root ARN, as aws:PrincipalArn sees it), which action on which resource,
// the principal's tags, and any other request context keys
// (aws:RequestTag/K, aws:ResourceTag/K, aws:TagKeys, iam:PolicyARN,
// organizations:PolicyType, ...; one value per key).
type EvalRequest struct {
	Principal     string
	Action        string
	Resource      string
	PrincipalTags map[string]string
	Context       map[string]string
}

// EvalDecision is what one policy document says about one call.
type EvalDecision struct {
	// Allowed: an Allow statement applies and no Deny does.
	Allowed bool
	// Denied: an explicit Deny applies (it wins over every Allow).
	Denied bool
	// Statement is the Sid of the Deny that applies, or of the first Allow
	// when allowed ("" when the statement has none).
	Statement string
}

// EvaluatePolicy parses doc (an identity policy, or an SCP when scp is set:
// Resource optional) with the simulation's parser and answers for r with the
// same matcher the simulated organization authorizes every call with, so
// tests can check a policy document (the guardrail, the bot's own policy)
// without an organization. Conditions follow Authorize; keys in r.Context
// are present with their value, other keys Authorize does not compute are
// absent.
func EvaluatePolicy(doc string, scp bool, r EvalRequest) (EvalDecision, error) {
	kind := identityPolicy
	if scp {
		kind = scpPolicy
	}
	p, err := parsePolicy(doc, kind)
	if err != nil {
		return EvalDecision{}, fmt.Errorf("evaluate policy: %w", err)
	}
	ctx, err := evalContext(r)
	if err != nil {
		return EvalDecision{}, err
	}
	// Context keys are looked up through the principal-tag path of reqCtx
	// under a prefix no real tag can carry, so the conditions are evaluated
	// by the evaluator itself, not a copy of it.
	if len(r.Context) > 0 {
		p = withContextKeys(p, r.Context)
	}
	if st, ok := p.matchDeny(ctx); ok {
		return EvalDecision{Denied: true, Statement: st.sid}, nil
	}
	for i := range p.statements {
		st := &p.statements[i]
		if !st.deny && st.applies(ctx, false) {
			return EvalDecision{Allowed: true, Statement: st.sid}, nil
		}
	}
	return EvalDecision{}, nil
}

// ctxTagPrefix marks request context keys carried as principal tags; a NUL
// cannot occur in an IAM tag key.
const ctxTagPrefix = "\x00ctx\x00"

func evalContext(r EvalRequest) (*reqCtx, error) {
	parts := strings.SplitN(r.Principal, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return nil, fmt.Errorf("evaluate policy: principal %q is not an ARN", clip(r.Principal))
	}
	c := &reqCtx{
		action: strings.ToLower(r.Action), resource: r.Resource, principalARN: r.Principal,
		account: parts[4], userID: "AIDAEVALUATE", tags: map[string]string{},
	}
	if c.resource == "" {
		c.resource = "*"
	}
	switch res := parts[5]; {
	case res == "root":
		c.principalType = "Account"
	case strings.HasPrefix(res, "user/"):
		c.principalType, c.username = "User", res[strings.LastIndexByte(res, '/')+1:]
	case strings.HasPrefix(res, "role/"):
		c.principalType = "AssumedRole"
	default:
		return nil, fmt.Errorf("evaluate policy: principal %q is not a user, role or root ARN", clip(r.Principal))
	}
	for k, v := range r.PrincipalTags {
		c.tags[k] = v
	}
	for k, v := range r.Context {
		c.tags[ctxTagPrefix+strings.ToLower(k)] = v
	}
	return c, nil
}

// withContextKeys returns a copy of p whose conditions on the keys of ctx
// read them from the request's context entries.
func withContextKeys(p *policy, ctx map[string]string) *policy {
	keys := map[string]bool{}
	for k := range ctx {
		keys[strings.ToLower(k)] = true
	}
	out := &policy{statements: make([]statement, len(p.statements))}
	for i, st := range p.statements {
		st.conds = append([]condition(nil), st.conds...)
		for j := range st.conds {
			if keys[st.conds[j].key] {
				st.conds[j].key = "aws:principaltag/" + ctxTagPrefix + st.conds[j].key
			}
		}
		out.statements[i] = st
	}
	return out
}
