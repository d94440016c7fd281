package actions

import (
	"fmt"
	"regexp"
	"strings"
)

// warningNames is how many principals a grouped warning names before
// "(and N more)"; every one of them is still a target of the plan.
const warningNames = 5

// principalInWarning finds the IAM principal a warning is about.
var principalInWarning = regexp.MustCompile(`arn:aws[a-z-]*:iam::\d{12}:(user|role|group)/[^\s,;:()]+`)

// keyLimit is rotate-keys' warning about a user at IAM's two-key limit.
var keyLimit = regexp.MustCompile(`^user \x00 already has (\d+) access keys \(IAM's limit\): its active keys are deactivated without a replacement; (.*)$`)

// tidyWarnings is an account's plan warnings without repeats, and with the
// warnings that differ only by the principal they name grouped into one
// line with a count ("12 users already have 2 access keys …: alice, bob, …
// (and 7 more)"), in the order they first appear.
func tidyWarnings(ws []string) []string {
	type group struct {
		template, kind string
		names          []string
	}
	var order []*group
	byTemplate := map[string]*group{}
	seen := map[string]bool{}
	for _, w := range ws {
		if seen[w] {
			continue
		}
		seen[w] = true
		m := principalInWarning.FindAllStringSubmatchIndex(w, -1)
		if len(m) != 1 {
			order = append(order, &group{template: w})
			continue
		}
		arn, kind := w[m[0][0]:m[0][1]], w[m[0][2]:m[0][3]]
		t := w[:m[0][0]] + "\x00" + w[m[0][1]:]
		g := byTemplate[t]
		if g == nil {
			g = &group{template: t, kind: kind}
			byTemplate[t] = g
			order = append(order, g)
		}
		g.names = append(g.names, arn)
	}
	out := make([]string, 0, len(order))
	for _, g := range order {
		switch {
		case g.names == nil:
			out = append(out, g.template)
		case len(g.names) == 1:
			out = append(out, strings.Replace(g.template, "\x00", g.names[0], 1))
		default:
			out = append(out, groupedWarning(g.template, g.kind, g.names))
		}
	}
	return out
}

func groupedWarning(template, kind string, arns []string) string {
	names := make([]string, len(arns))
	for i, arn := range arns {
		names[i] = arn[strings.Index(arn, ":"+kind+"/")+len(kind)+2:]
	}
	list := strings.Join(names, ", ")
	if len(names) > warningNames+1 {
		list = fmt.Sprintf("%s, … (and %d more)", strings.Join(names[:warningNames], ", "), len(names)-warningNames)
	}
	if m := keyLimit.FindStringSubmatch(template); m != nil {
		return fmt.Sprintf("%d users already have %s access keys (IAM's limit): %s; their active keys are deactivated without a replacement; %s", len(names), m[1], list, m[2])
	}
	who := kind + " …"
	if strings.Contains(template, kind+" \x00") { // "exempt role \x00 trusts": the kind is already there
		who = "…"
	}
	return fmt.Sprintf("%s — %d %ss: %s", strings.Replace(template, "\x00", who, 1), len(names), kind, list)
}

// fallbackWarning starts deny-delete's warning that an account gets the
// IAM managed-policy fallback instead of the SCP.
const fallbackWarning = "deny-delete uses the IAM managed policy fallback"

// tidyPlan finishes an account's plan: in a member account where
// deny-delete is the SCP, IAM Identity Center roles are bound by it like
// every other role, so deny-delete does not list them as exempt; and
// repeated warnings are grouped (tidyWarnings).
func tidyPlan(action string, ap *AccountPlan) {
	if action == DenyDelete && ap.Kind == KindMember && ap.Error == "" {
		scp := true
		for _, w := range ap.Warnings {
			scp = scp && !strings.HasPrefix(w, fallbackWarning)
		}
		if scp {
			kept, bound := ap.Exempt[:0], 0
			for _, x := range ap.Exempt {
				if x.Reason == reasonSSO {
					bound++
					continue
				}
				kept = append(kept, x)
			}
			ap.Exempt = kept
			if bound > 0 {
				for i, w := range ap.Warnings {
					if w == fmt.Sprintf(ssoWarning, bound) {
						ap.Warnings[i] = fmt.Sprintf("%d IAM Identity Center role(s) are bound by the SCP like every other principal of the account (not exempt); their users' sessions and assignments are contained in IAM Identity Center", bound)
					}
				}
			}
		}
	}
	ap.Warnings = tidyWarnings(ap.Warnings)
}
