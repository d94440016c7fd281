package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/policies"
)

func sameJSON(t *testing.T, what string, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// TestTemplatesCarryTheRenderedDocuments: deployed with any bot principal
// and external id (or none), the templates' responder role has exactly
// the trust and permissions policies.Render gives for this configuration,
// and the canary trusts only that role and may only dry-run delete the
// canary snapshot.
func TestTemplatesCarryTheRenderedDocuments(t *testing.T) {
	cfg, err := parseConfig([]byte("aws: {backend: sim, role_name: IRResponder, external_id: ext-123}\nbreak_glass: {principals: ['arn:aws:iam::*:role/Emergency*']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	params := policyParams(cfg)
	for _, mgmt := range []bool{false, true} {
		data, err := cfnTemplate(templateSpec{management: mgmt, params: params})
		if err != nil {
			t.Fatal(err)
		}
		var asYAML map[string]any
		if err := yaml.Unmarshal(data, &asYAML); err != nil {
			t.Fatalf("template does not parse as YAML: %v", err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(data, &tpl); err != nil {
			t.Fatal(err)
		}
		ps := tpl["Parameters"].(map[string]any)
		if ps[cfnParamExternalID].(map[string]any)["Default"] != "ext-123" {
			t.Errorf("ExternalId default %v", ps[cfnParamExternalID])
		}
		res := tpl["Resources"].(map[string]any)
		if len(res) != 2 {
			t.Errorf("resources %v", res)
		}
		responder := res[cfnResponder].(map[string]any)["Properties"].(map[string]any)
		canary := res[cfnCanary].(map[string]any)["Properties"].(map[string]any)
		if responder["RoleName"] != "IRResponder" || canary["RoleName"] != awsapi.CanaryRoleName {
			t.Errorf("role names %v %v", responder["RoleName"], canary["RoleName"])
		}
		for _, ext := range []string{"", "ext-456"} {
			bot := "arn:aws:iam::999988887777:role/ops/KillSwitchBot"
			ev := cfnEvaluator{params: map[string]string{cfnParamBot: bot, cfnParamExternalID: ext}, account: "222233334444",
				roles: map[string]string{cfnResponder: "IRResponder", cfnCanary: awsapi.CanaryRoleName}}
			p := params
			p.BotPrincipal, p.ExternalID = bot, ext
			wantTrust, err := policies.Render("responder-trust", p)
			if err != nil {
				t.Fatal(err)
			}
			gotTrust, err := ev.json(responder["AssumeRolePolicyDocument"])
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "responder trust with external id "+ext, gotTrust, wantTrust)
			wantPerm, err := policies.Render("bot-policy", params)
			if err != nil {
				t.Fatal(err)
			}
			pols := responder["Policies"].([]any)
			if len(pols) != 1 {
				t.Fatalf("responder policies %v", pols)
			}
			gotPerm, err := ev.json(pols[0].(map[string]any)["PolicyDocument"])
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "responder permissions", gotPerm, wantPerm)
			ct, err := ev.json(canary["AssumeRolePolicyDocument"])
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "canary trust", ct, `{"Version":"2012-10-17","Statement":[{"Sid":"ResponderOnly","Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::222233334444:role/IRResponder"}}]}`)
			cp, err := ev.json(canary["Policies"].([]any)[0].(map[string]any)["PolicyDocument"])
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "canary policy", cp, `{"Version":"2012-10-17","Statement":[{"Sid":"DryRunDeleteOfANonexistentSnapshot","Effect":"Allow","Action":"ec2:DeleteSnapshot","Resource":"arn:aws:ec2:*::snapshot/`+awsapi.CanarySnapshotID+`"}]}`)
		}
		if err := validateTemplate("t", data); err != nil {
			t.Errorf("valid template refused: %v", err)
		}
	}
}

// TestValidateTemplateRefusesBrokenPolicies: policy validate's template
// check fails on a template whose policy breaks the rules.
func TestValidateTemplateRefusesBrokenPolicies(t *testing.T) {
	data, err := cfnTemplate(templateSpec{params: policies.DefaultParams()})
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(data, []byte(`"Effect": "Allow"`), []byte(`"Effect": "Maybe"`), 1)
	if bytes.Equal(broken, data) {
		t.Fatal("nothing to break")
	}
	if err := validateTemplate("t", broken); err == nil {
		t.Error("a template with Effect Maybe passed")
	}
	code, out, _ := runCLI(t, "policy", "validate")
	if code != exitOK || !strings.Contains(out, "template "+templateMembers+": ok") || !strings.Contains(out, "template "+templateManagement+": ok") {
		t.Errorf("policy validate: %d\n%s", code, out)
	}
}

// TestDeployTemplates: the files are written, parse, and the manifests
// name the service's URLs and exactly the scopes the bot needs.
func TestDeployTemplates(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "deploy-templates", "--out", dir, "--public-url", "https://ks.example.com", "--bot-principal", "arn:aws:iam::111111111111:role/KillSwitchBot")
	if code != exitOK {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, f := range []string{manifestHTTP, manifestSocket, templateMembers, templateManagement} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.HasSuffix(f, ".yaml") {
			scopes := m["oauth_config"].(map[string]any)["scopes"].(map[string]any)["bot"].([]any)
			var got []string
			for _, s := range scopes {
				got = append(got, s.(string))
			}
			if !slices.Equal(got, bot.SlackScopes()) {
				t.Errorf("%s: scopes %v", f, got)
			}
			if (f == manifestHTTP) != strings.Contains(string(b), "https://ks.example.com/slack/commands") {
				t.Errorf("%s: command URL", f)
			}
		} else if !strings.Contains(string(b), `"Default": "arn:aws:iam::111111111111:role/KillSwitchBot"`) {
			t.Errorf("%s: no bot principal default", f)
		}
	}
	if code, _, _ := runCLI(t, "deploy-templates", "--out", dir, "--public-url", "http://insecure.example.com"); code != exitUsage {
		t.Errorf("http public URL: exit %d", code)
	}
}
