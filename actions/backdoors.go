package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// buildFindBackdoors is read-only: it reports what an intruder typically
// leaves behind. Break-glass principals are reported too (an intruder may
// name or tag a backdoor to look like one), marked as such.
func (a *acct) buildFindBackdoors(ctx context.Context, opt Options) (*work, error) {
	inv, err := a.inventory(ctx, true, true, false)
	if err != nil {
		return nil, err
	}
	w := &work{readOnly: true}
	since := opt.Since.UTC()
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	found := map[string][]string{}
	note := func(p *principal) string {
		if r := a.exemption(p); r != "" && r != reasonSLR && r != reasonSSO {
			return " — exempt as " + r + ": verify it is genuine"
		}
		return ""
	}
	// A principal that cannot be read is reported by name; the others
	// are still searched. What could be read of it is still reported.
	for _, u := range inv.users {
		if a.isCaller(u) {
			continue // the bot itself (its identity, not its name)
		}
		if u.err != nil {
			w.fail(u, u.err)
			if noSuchEntity(u.err) {
				continue
			}
		}
		if u.created.After(since) {
			found[u.arn] = append(found[u.arn], "user created "+ts(u.created)+note(u))
		}
		keys, err := a.accessKeys(ctx, u)
		if err != nil {
			if err := w.skip(ctx, u, err); err != nil {
				return nil, err
			}
			if noSuchEntity(err) {
				continue
			}
		}
		for _, k := range keys {
			if t := aws.ToTime(k.CreateDate); t.After(since) {
				found[u.arn] = append(found[u.arn], fmt.Sprintf("access key %s (%s) created %s", mask(aws.ToString(k.AccessKeyId)), k.Status, ts(t)))
			}
		}
		ok, lp, err := a.loginProfile(ctx, u)
		if err != nil {
			if err := w.skip(ctx, u, err); err != nil {
				return nil, err
			}
		}
		if ok && lp != nil && aws.ToTime(lp.CreateDate).After(since) {
			found[u.arn] = append(found[u.arn], "console password created "+ts(aws.ToTime(lp.CreateDate)))
		}
	}
	for _, r := range inv.roles {
		if serviceLinked(r) || identityCenter(r) || a.isCaller(r) || a.isBotCanary(r) {
			continue
		}
		if r.err != nil {
			w.fail(r, r.err)
			if noSuchEntity(r.err) {
				continue
			}
		}
		if r.created.After(since) {
			found[r.arn] = append(found[r.arn], "role created "+ts(r.created)+note(r))
		}
		for _, who := range outsideTrust(r.trust, a.known) {
			found[r.arn] = append(found[r.arn], "trusts "+who+", outside the accounts in scope")
		}
	}
	var marker *string
	for {
		var out *iam.ListPoliciesOutput
		if err := a.call("IAM", "ListPolicies", "", func() (err error) {
			out, err = a.c.IAM.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal, Marker: marker})
			return err
		}); err != nil {
			return nil, fmt.Errorf("list customer managed policies in %s: %w", a.id, err)
		}
		for _, p := range out.Policies {
			if aws.ToString(p.PolicyName) == DenyDeletePolicyName {
				continue
			}
			arn := aws.ToString(p.Arn)
			switch {
			case aws.ToTime(p.CreateDate).After(since):
				found[arn] = append(found[arn], "policy created "+ts(aws.ToTime(p.CreateDate)))
			case aws.ToTime(p.UpdateDate).After(since):
				found[arn] = append(found[arn], "policy changed "+ts(aws.ToTime(p.UpdateDate)))
			}
		}
		if !out.IsTruncated || out.Marker == nil {
			break
		}
		marker = out.Marker
	}
	for p, f := range found {
		w.findings = append(w.findings, Target{Principal: p, Changes: f})
	}
	// outside trust first: it is the backdoor that survives every credential reset
	outside := func(t Target) bool {
		for _, c := range t.Changes {
			if strings.HasPrefix(c, "trusts ") {
				return true
			}
		}
		return false
	}
	sort.Slice(w.findings, func(i, j int) bool {
		if oi, oj := outside(w.findings[i]), outside(w.findings[j]); oi != oj {
			return oi
		}
		return w.findings[i].Principal < w.findings[j].Principal
	})
	if len(w.findings) == 0 && len(w.failures) == 0 {
		w.warnings = append(w.warnings, "nothing created or changed since "+ts(since))
	}
	a.rootFindings(ctx, w)
	return w, nil
}

// isBotCanary reports whether r is the guardrail canary of the responder
// template: named awsapi.CanaryRoleName and trusting no one but the bot
// (only the bot can become it, so it is no way in). A role of that name
// trusting anyone else is searched like any other.
func (a *acct) isBotCanary(r *principal) bool {
	if r.kind != "role" || r.name != awsapi.CanaryRoleName || a.caller == "" {
		return false
	}
	who, ok := trustedPrincipals(r.trust)
	if !ok || len(who) == 0 {
		return false
	}
	for _, p := range who {
		if p != a.caller {
			return false
		}
	}
	return true
}

// trustedPrincipals lists the principals of a trust policy's Allow
// statements; ok is false when the document has anything else to allow
// (a service, a federated provider, a wildcard, an unreadable statement).
func trustedPrincipals(doc string) (who []string, ok bool) {
	var pol struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &pol) != nil {
		return nil, false
	}
	type stmt struct {
		Effect    string
		Principal json.RawMessage
	}
	var stmts []stmt
	if json.Unmarshal(pol.Statement, &stmts) != nil {
		var one stmt
		if json.Unmarshal(pol.Statement, &one) != nil {
			return nil, false
		}
		stmts = []stmt{one}
	}
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		var p map[string]json.RawMessage
		if json.Unmarshal(s.Principal, &p) != nil || len(p) != 1 || p["AWS"] == nil {
			return nil, false
		}
		var list []string
		if json.Unmarshal(p["AWS"], &list) != nil {
			var one string
			if json.Unmarshal(p["AWS"], &one) != nil {
				return nil, false
			}
			list = []string{one}
		}
		who = append(who, list...)
	}
	return who, true
}

// outsideTrust returns the AWS principals a trust policy allows that are not
// in the known accounts ("*" included).
func outsideTrust(doc string, known map[string]bool) []string {
	var pol struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &pol) != nil {
		return nil
	}
	var stmts []struct {
		Effect    string
		Principal json.RawMessage
	}
	if json.Unmarshal(pol.Statement, &stmts) != nil {
		var one struct {
			Effect    string
			Principal json.RawMessage
		}
		if json.Unmarshal(pol.Statement, &one) != nil {
			return nil
		}
		stmts = append(stmts, one)
	}
	var out []string
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		var star string
		if json.Unmarshal(s.Principal, &star) == nil && star == "*" {
			out = append(out, "everyone (*)")
			continue
		}
		var p struct{ AWS json.RawMessage }
		if json.Unmarshal(s.Principal, &p) != nil || p.AWS == nil {
			continue
		}
		var list []string
		if json.Unmarshal(p.AWS, &list) != nil {
			var one string
			if json.Unmarshal(p.AWS, &one) != nil {
				continue
			}
			list = []string{one}
		}
		for _, who := range list {
			acct := who
			if strings.HasPrefix(who, "arn:") {
				if parts := strings.SplitN(who, ":", 6); len(parts) == 6 {
					acct = parts[4]
				}
			}
			if who == "*" || !known[acct] {
				out = append(out, who)
			}
		}
	}
	return out
}
