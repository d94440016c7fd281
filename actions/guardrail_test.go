package actions_test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/policies"
)

// The guardrail measured against its catalogue (policies/dangerous-actions.tsv),
// with the simulation's evaluator: every listed action is denied to a
// non-exempt principal by some part of the rendered guardrail, and to no
// exempt one.

func guardrailParams() policies.Params {
	p := policies.DefaultParams()
	p.ExemptARNs = []string{"arn:aws:iam::111122223333:user/baseline-exempt"}
	return p
}

// deniedByParts evaluates a call against every part, as an SCP (whose
// Resource is optional) and as a managed policy; it returns whether some
// part denies it under each.
func deniedByParts(t *testing.T, parts []string, r sim.EvalRequest) (scp, managed bool) {
	t.Helper()
	for _, part := range parts {
		for _, asSCP := range []bool{true, false} {
			d, err := sim.EvaluatePolicy(part, asSCP, r)
			if err != nil {
				t.Fatalf("evaluate %s: %v", r.Action, err)
			}
			if d.Denied {
				if asSCP {
					scp = true
				} else {
					managed = true
				}
			}
		}
	}
	return scp, managed
}

// resourceFor is the resource a dangerous call names: sts:AssumeRole and
// iam:PassRole are denied by resource (into or of a non-exempt role, and
// of an exempt one), everything else on any resource.
func resourceFor(action string, exempt bool) string {
	switch strings.ToLower(action) {
	case "sts:assumerole":
		return "arn:aws:iam::111122223333:role/app-deploy"
	case "iam:passrole":
		return "arn:aws:iam::111122223333:role/BreakGlassAdmin"
	}
	return "*"
}

func TestGuardrailCoversTheCatalogue(t *testing.T) {
	catalogue, err := policies.DangerousActions()
	if err != nil {
		t.Fatal(err)
	}
	if len(catalogue) < 200 {
		t.Fatalf("only %d dangerous actions listed", len(catalogue))
	}
	for _, p := range []struct {
		name string
		p    policies.Params
	}{{"default", guardrailParams()}, {"six patterns", sixPatternGuardrail()}} {
		parts, err := policies.RenderParts("deny-delete", p.p)
		if err != nil {
			t.Fatal(err)
		}
		intruders := []string{
			"arn:aws:iam::111122223333:user/ops-admin",
			"arn:aws:iam::111122223333:role/app-deploy",
			"arn:aws:iam::111122223333:user/backdoor-made-mid-run",
			"arn:aws:iam::111122223333:root",
		}
		exempt := []string{
			"arn:aws:iam::111122223333:role/BreakGlassAdmin",
			"arn:aws:iam::222222222222:role/" + policies.DefaultRoleName,
			"arn:aws:iam::111122223333:user/baseline-exempt",
		}
		denied := 0
		for _, a := range catalogue {
			ok := true
			for _, who := range intruders {
				scp, managed := deniedByParts(t, parts, sim.EvalRequest{Principal: who, Action: a.Action, Resource: resourceFor(a.Action, false),
					PrincipalTags: map[string]string{"killswitch:break-glass": "true"}}) // a self-made tag exempts nobody
				if !scp || !managed {
					t.Errorf("%s: %s (%s) is not denied to %s (SCP %v, managed %v)", p.name, a.Action, a.Category, who, scp, managed)
					ok = false
				}
			}
			if ok {
				denied++
			}
			for _, who := range exempt {
				if scp, managed := deniedByParts(t, parts, sim.EvalRequest{Principal: who, Action: a.Action, Resource: resourceFor(a.Action, true)}); scp || managed {
					t.Errorf("%s: %s is denied to exempt %s", p.name, a.Action, who)
				}
			}
		}
		t.Logf("%s: the guardrail denies %d of the %d dangerous actions listed, in %d SCP(s)", p.name, denied, len(catalogue), len(parts))
	}
}

func sixPatternGuardrail() policies.Params {
	p := guardrailParams()
	p.ExemptPatterns = []string{
		"arn:aws:iam::*:role/BreakGlass*",
		"arn:aws:iam::*:role/" + policies.DefaultRoleName,
		"arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*",
		"arn:aws:iam::111122223333:user/breakglass-alice",
		"arn:aws:iam::*:role/OrganizationAccountAccessRole",
		"arn:aws:iam::*:role/IncidentResponse*",
	}
	return p
}

// Reads are never denied: the guardrail must not blind the responders, nor
// stop workloads from reading their data, nor keep anyone from entering the
// break-glass role.
func TestGuardrailLeavesReadsAndBreakGlassEntry(t *testing.T) {
	parts, err := policies.RenderParts("deny-delete", guardrailParams())
	if err != nil {
		t.Fatal(err)
	}
	who := "arn:aws:iam::111122223333:user/ops-admin"
	for _, c := range []struct{ action, resource string }{
		{"ec2:DescribeSnapshots", "*"}, {"s3:GetObject", "arn:aws:s3:::data/x"}, {"s3:PutObject", "arn:aws:s3:::data/x"},
		{"cloudtrail:LookupEvents", "*"}, {"iam:ListUsers", "*"}, {"iam:GetRole", "*"}, {"dynamodb:PutItem", "*"},
		{"sts:GetCallerIdentity", "*"}, {"sts:AssumeRole", "arn:aws:iam::111122223333:role/BreakGlassAdmin"},
		{"sts:AssumeRole", "arn:aws:iam::111122223333:role/" + policies.DefaultRoleName},
		{"iam:PassRole", "arn:aws:iam::111122223333:role/app-lambda"},
	} {
		if scp, managed := deniedByParts(t, parts, sim.EvalRequest{Principal: who, Action: c.action, Resource: c.resource}); scp || managed {
			t.Errorf("%s on %s is denied", c.action, c.resource)
		}
	}
}

// Every listed action, and every action pattern the guardrail denies, is
// in AWS's catalogue (policies/aws-actions.txt): a misspelt action would
// silently deny nothing.
func TestGuardrailActionsExistAtAWS(t *testing.T) {
	known := map[string]bool{}
	prefixes := map[string]bool{}
	f, err := os.Open("../policies/aws-actions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		known[strings.ToLower(line)] = true
		prefixes[strings.ToLower(strings.SplitN(line, ":", 2)[0])] = true
	}
	catalogue, err := policies.DangerousActions()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range catalogue {
		if !prefixes[strings.ToLower(strings.SplitN(a.Action, ":", 2)[0])] {
			t.Errorf("%s: unknown service prefix", a.Action)
		} else if !known[strings.ToLower(a.Action)] {
			t.Errorf("%s is not an action AWS defines (policies/aws-actions.txt)", a.Action)
		}
	}
	parts, err := policies.RenderParts("deny-delete", sixPatternGuardrail())
	if err != nil {
		t.Fatal(err)
	}
	actionRE := regexp.MustCompile(`"([a-z0-9-]+:[A-Za-z0-9*?]+)"`)
	for _, part := range parts {
		for _, m := range actionRE.FindAllStringSubmatch(part, -1) {
			pat := m[1]
			if strings.HasPrefix(pat, "aws:") {
				continue // a condition key
			}
			re := regexp.MustCompile("(?i)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pat)) + "$")
			hit := false
			for k := range known {
				if re.MatchString(k) {
					hit = true
					break
				}
			}
			if !hit {
				t.Errorf("the guardrail denies %s, which matches no action AWS defines", pat)
			}
		}
	}
}
