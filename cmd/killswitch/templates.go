package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/policies"
)

// CloudFormation templates of the roles killswitch needs, rendered from the
// same policy documents the tests and `policy show` use (never a second
// copy): the responder role (trust: responder-trust, permissions:
// bot-policy) and the guardrail canary beside it.
//
//   - templateMembers is for a service-managed StackSet across the
//     Organization (StackSets never deploy to the management account);
//   - templateManagement is the same roles for the management account (one
//     stack there): the responder role there is the one that attaches SCPs
//     and RCPs to the members.

// Template file names (deploy-templates writes them).
const (
	templateMembers    = "killswitch-responder-stackset.template.json"
	templateManagement = "killswitch-management.template.json"
)

// Template parameter and resource names.
const (
	cfnParamBot        = "BotPrincipalArn"
	cfnParamExternalID = "ExternalId"
	cfnCondExternalID  = "HasExternalId"
	cfnResponder       = "ResponderRole"
	cfnCanary          = "CanaryRole"
	// responderPolicyName is the inline policy of the responder role (as
	// test/awsint's seed names it).
	responderPolicyName = "KillSwitchResponderPolicy"
	canaryPolicyName    = "KillSwitchCanaryDryRun"
)

// sentinels stand for the template parameters while the trust document is
// rendered; they are replaced by {"Ref": ...} in the rendered tree.
const (
	sentinelBot        = "arn:aws:iam::000000000000:role/KillSwitchTemplateBotPrincipal"
	sentinelExternalID = "killswitch-template-external-id"
)

// templateSpec is what a template is rendered for.
type templateSpec struct {
	management   bool
	params       policies.Params // this configuration's (policyParams)
	botPrincipal string          // default of BotPrincipalArn ("" = required at deploy)
}

// cfnTemplate renders one template as indented JSON (CloudFormation reads
// JSON and YAML; JSON is YAML).
func cfnTemplate(spec templateSpec) ([]byte, error) {
	botPolicy, err := policies.Render("bot-policy", spec.params)
	if err != nil {
		return nil, fmt.Errorf("template: bot policy: %w", err)
	}
	trust, err := trustTemplate(spec.params)
	if err != nil {
		return nil, err
	}
	var permissions any
	if err := json.Unmarshal([]byte(botPolicy), &permissions); err != nil {
		return nil, fmt.Errorf("template: bot policy: %w", err)
	}
	role := spec.params.RoleName
	if role == "" {
		role = policies.DefaultRoleName
	}
	where := "every member account of the Organization: deploy with a service-managed StackSet (auto-deployment on) to the organization root or OUs"
	if spec.management {
		where = "the management account (StackSets do not deploy there): one stack; this responder role attaches the guardrail SCPs and RCPs to the members"
	}
	botParam := map[string]any{
		"Type":           "String",
		"Description":    "ARN of the principal killswitch serve runs as (the only one that may assume the responder role)",
		"AllowedPattern": `^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$`,
	}
	if spec.botPrincipal != "" {
		botParam["Default"] = spec.botPrincipal
	}
	t := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              fmt.Sprintf("killswitch %s responder role and guardrail canary, for %s. Rendered by killswitch deploy-templates from its policy documents; do not edit.", role, where),
		"Parameters": map[string]any{
			cfnParamBot: botParam,
			cfnParamExternalID: map[string]any{
				"Type":        "String",
				"Default":     spec.params.ExternalID,
				"Description": "sts:ExternalId the bot presents (aws.external_id); empty: none",
			},
		},
		"Conditions": map[string]any{
			cfnCondExternalID: map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": cfnParamExternalID}, ""}}}},
		},
		"Resources": map[string]any{
			cfnResponder: map[string]any{
				"Type": "AWS::IAM::Role",
				"Properties": map[string]any{
					"RoleName":                 role,
					"Description":              "killswitch responder: assumed by the bot to contain an account takeover",
					"MaxSessionDuration":       3600,
					"AssumeRolePolicyDocument": trust,
					"Policies":                 []any{map[string]any{"PolicyName": responderPolicyName, "PolicyDocument": permissions}},
				},
			},
			cfnCanary: map[string]any{
				"Type":      "AWS::IAM::Role",
				"DependsOn": cfnResponder,
				"Properties": map[string]any{
					"RoleName":                 awsapi.CanaryRoleName,
					"Description":              "killswitch guardrail canary: not exempt; its dry-run delete is refused once the guardrail is in effect",
					"MaxSessionDuration":       3600,
					"AssumeRolePolicyDocument": canaryTrust(),
					"Policies":                 []any{map[string]any{"PolicyName": canaryPolicyName, "PolicyDocument": canaryPolicy()}},
				},
			},
		},
		"Outputs": map[string]any{
			"ResponderRoleArn": map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{cfnResponder, "Arn"}}},
			"CanaryRoleArn":    map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{cfnCanary, "Arn"}}},
		},
	}
	out, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// trustTemplate renders responder-trust with the parameters as sentinels
// and swaps them for CloudFormation references: the bot principal for
// {"Ref": BotPrincipalArn}, the external id condition for one that is
// there only when ExternalId is set (as Render drops it when empty).
func trustTemplate(p policies.Params) (any, error) {
	p.BotPrincipal, p.ExternalID = sentinelBot, sentinelExternalID
	doc, err := policies.Render("responder-trust", p)
	if err != nil {
		return nil, fmt.Errorf("template: responder trust: %w", err)
	}
	var tree map[string]any
	if err := json.Unmarshal([]byte(doc), &tree); err != nil {
		return nil, fmt.Errorf("template: responder trust: %w", err)
	}
	stmts, _ := tree["Statement"].([]any)
	bots, exts := 0, 0
	for _, s := range stmts {
		st, ok := s.(map[string]any)
		if !ok {
			return nil, errors.New("template: responder trust: a statement is not an object")
		}
		bots += replaceString(st, sentinelBot, map[string]any{"Ref": cfnParamBot})
		cond, ok := st["Condition"].(map[string]any)
		if !ok || replaceString(cond, sentinelExternalID, map[string]any{"Ref": cfnParamExternalID}) == 0 {
			continue
		}
		if len(cond) != 1 || len(onlyValue(cond)) != 1 {
			return nil, errors.New("template: responder trust: the external id condition shares its block: cannot make it optional")
		}
		exts++
		st["Condition"] = map[string]any{"Fn::If": []any{cfnCondExternalID, cond, map[string]any{"Ref": "AWS::NoValue"}}}
	}
	if bots == 0 || exts == 0 {
		return nil, fmt.Errorf("template: responder trust: expected the bot principal and the external id in it (found %d, %d)", bots, exts)
	}
	return tree, nil
}

func onlyValue(m map[string]any) map[string]any {
	for _, v := range m {
		sub, _ := v.(map[string]any)
		return sub
	}
	return nil
}

// replaceString replaces every string equal to old under v (maps and
// lists) by repl and returns how many it replaced.
func replaceString(v any, old string, repl any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s == old {
				x[k] = repl
				n++
				continue
			}
			n += replaceString(e, old, repl)
		}
	case []any:
		for i, e := range x {
			if s, ok := e.(string); ok && s == old {
				x[i] = repl
				n++
				continue
			}
			n += replaceString(e, old, repl)
		}
	}
	return n
}

// canaryTrust lets only the responder role of the same account assume the
// canary (the client factory assumes it with the responder's credentials).
func canaryTrust() map[string]any {
	return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "ResponderOnly", "Effect": "Allow", "Action": "sts:AssumeRole",
		"Principal": map[string]any{"AWS": map[string]any{"Fn::GetAtt": []any{cfnResponder, "Arn"}}},
	}}}
}

// canaryPolicy allows the one call the canary makes, on a snapshot that
// does not exist: the bot only ever sends it as a dry run.
func canaryPolicy() map[string]any {
	return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "DryRunDeleteOfANonexistentSnapshot", "Effect": "Allow", "Action": "ec2:DeleteSnapshot",
		"Resource": "arn:aws:ec2:*::snapshot/" + awsapi.CanarySnapshotID,
	}}}
}

// validateTemplate checks a rendered template: it parses, and every policy
// in it passes the policy rules of its kind once CloudFormation's
// references are filled in with example values.
func validateTemplate(name string, data []byte) error {
	var t map[string]any
	if err := json.Unmarshal(data, &t); err != nil {
		return fmt.Errorf("template %s: %w", name, err)
	}
	res, _ := t["Resources"].(map[string]any)
	if len(res) == 0 {
		return fmt.Errorf("template %s: no resources", name)
	}
	eval := cfnEvaluator{params: map[string]string{cfnParamBot: "arn:aws:iam::111111111111:role/KillSwitchBot", cfnParamExternalID: "example-external-id"},
		account: "222222222222"}
	var errs []error
	for _, id := range []string{cfnResponder, cfnCanary} {
		r, _ := res[id].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		if props == nil {
			errs = append(errs, fmt.Errorf("template %s: resource %s missing", name, id))
			continue
		}
		trust, err := eval.json(props["AssumeRolePolicyDocument"])
		if err == nil {
			err = policies.ValidateDocument(id+" trust", []policies.Kind{policies.KindTrust}, false, trust)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", name, err))
		}
		pols, _ := props["Policies"].([]any)
		total := 0
		for _, p := range pols {
			pm, _ := p.(map[string]any)
			doc, err := eval.json(pm["PolicyDocument"])
			if err == nil {
				total += policies.Size(policies.KindRoleInline, doc)
				err = policies.ValidateDocument(fmt.Sprintf("%s policy %v", id, pm["PolicyName"]), []policies.Kind{policies.KindRoleInline}, false, doc)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("template %s: %w", name, err))
			}
		}
		if total > policies.LimitRoleInline {
			errs = append(errs, fmt.Errorf("template %s: %s's inline policies total %d characters, over the %d AWS allows", name, id, total, policies.LimitRoleInline))
		}
	}
	return errors.Join(errs...)
}

// cfnEvaluator fills in the CloudFormation intrinsics the templates use
// (Ref, Fn::If, Fn::Equals, Fn::Not, Fn::GetAtt of a role's Arn) as
// CloudFormation would for given parameters in one account.
type cfnEvaluator struct {
	params  map[string]string
	account string
	roles   map[string]string // logical id -> role name
}

// noValue is AWS::NoValue: the property it stands in is removed.
type noValue struct{}

func (e cfnEvaluator) json(v any) (string, error) {
	out, err := e.eval(v)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func (e cfnEvaluator) eval(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		var out []any
		for _, el := range x {
			ev, err := e.eval(el)
			if err != nil {
				return nil, err
			}
			if _, drop := ev.(noValue); !drop {
				out = append(out, ev)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if r, ok, err := e.intrinsic(k, arg); ok {
					return r, err
				}
			}
		}
		out := map[string]any{}
		for k, el := range x {
			ev, err := e.eval(el)
			if err != nil {
				return nil, err
			}
			if _, drop := ev.(noValue); !drop {
				out[k] = ev
			}
		}
		return out, nil
	}
	return v, nil
}

func (e cfnEvaluator) intrinsic(fn string, arg any) (any, bool, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return noValue{}, true, nil
		}
		if name == "AWS::AccountId" {
			return e.account, true, nil
		}
		v, ok := e.params[name]
		if !ok {
			return nil, true, fmt.Errorf("Ref to unknown parameter %q", name)
		}
		return v, true, nil
	case "Fn::If":
		l, _ := arg.([]any)
		if len(l) != 3 || l[0] != cfnCondExternalID {
			return nil, true, fmt.Errorf("Fn::If %v: only %s is defined", arg, cfnCondExternalID)
		}
		if e.params[cfnParamExternalID] != "" {
			r, err := e.eval(l[1])
			return r, true, err
		}
		r, err := e.eval(l[2])
		return r, true, err
	case "Fn::GetAtt":
		l, _ := arg.([]any)
		if len(l) != 2 || l[1] != "Arn" {
			return nil, true, fmt.Errorf("Fn::GetAtt %v: only a role's Arn", arg)
		}
		id, _ := l[0].(string)
		name := e.roles[id]
		if name == "" {
			name = id
		}
		return "arn:aws:iam::" + e.account + ":role/" + name, true, nil
	}
	return nil, false, nil
}

// validateTemplates renders and checks both templates for params, printing
// one line each, and returns their errors.
func validateTemplates(out io.Writer, params policies.Params) []error {
	var errs []error
	for _, name := range []string{templateMembers, templateManagement} {
		t, err := cfnTemplate(templateSpec{management: name == templateManagement, params: params})
		if err == nil {
			err = validateTemplate(name, t)
		}
		status := "ok"
		if err != nil {
			status = "INVALID"
			errs = append(errs, err)
		}
		fmt.Fprintf(out, "template %s: %s\n", name, status)
	}
	return errs
}
