package policies

import (
	_ "embed"
	"fmt"
	"strings"
)

// DangerousAction is one line of dangerous-actions.tsv: an AWS action the
// deny-delete guardrail denies to every non-exempt principal, and why.
type DangerousAction struct {
	Action   string // service:Action, e.g. "ec2:DeleteSnapshot"
	Category string // destroy, blind, exfiltrate, persist or evade
	Why      string
	Source   string // the Service Authorization Reference page of the service
}

// Categories of dangerous actions.
var dangerCategories = map[string]bool{"destroy": true, "blind": true, "exfiltrate": true, "persist": true, "evade": true}

//go:embed dangerous-actions.tsv
var dangerousTSV string

// DangerousActions returns the catalogue of actions the guardrail must deny,
// in file order. Tests in actions/ evaluate the rendered guardrail against
// every entry.
func DangerousActions() ([]DangerousAction, error) {
	var out []DangerousAction
	seen := map[string]int{}
	header := false
	for i, line := range strings.Split(dangerousTSV, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !header {
			header = true
			if line != "action\tcategory\twhy\tsource" {
				return nil, fmt.Errorf("dangerous-actions.tsv line %d: want the header action, category, why, source", i+1)
			}
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("dangerous-actions.tsv line %d: %d fields, want 4", i+1, len(f))
		}
		a := DangerousAction{Action: f[0], Category: f[1], Why: f[2], Source: f[3]}
		switch {
		case !actionRE.MatchString(a.Action) || strings.ContainsAny(a.Action, "*?"):
			return nil, fmt.Errorf("dangerous-actions.tsv line %d: %s is not a service:Action name", i+1, quote(a.Action))
		case !dangerCategories[a.Category]:
			return nil, fmt.Errorf("dangerous-actions.tsv line %d: unknown category %s", i+1, quote(a.Category))
		case a.Why == "":
			return nil, fmt.Errorf("dangerous-actions.tsv line %d: %s says nothing about why it is dangerous", i+1, a.Action)
		case !strings.HasPrefix(a.Source, "https://docs.aws.amazon.com/service-authorization/latest/reference/list_"):
			return nil, fmt.Errorf("dangerous-actions.tsv line %d: source of %s is not a Service Authorization Reference page", i+1, a.Action)
		}
		if j, dup := seen[strings.ToLower(a.Action)]; dup {
			return nil, fmt.Errorf("dangerous-actions.tsv line %d: %s already on line %d", i+1, a.Action, j)
		}
		seen[strings.ToLower(a.Action)] = i + 1
		out = append(out, a)
	}
	return out, nil
}
