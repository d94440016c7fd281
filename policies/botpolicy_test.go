package policies

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var (
	interfaceRE = regexp.MustCompile(`(?ms)^type (\w+) interface \{\n(.*?)^\}`)
	// An aws-sdk-go-v2 method: Op(ctx context.Context, params *pkg.OpInput, optFns ...func(*pkg.Options)) ...
	sdkMethodRE = regexp.MustCompile(`(?m)^\s+(\w+)\(ctx context\.Context, params \*(\w+)\.(\w+)Input, optFns \.\.\.func\(\*(\w+)\.Options\)\)`)
	anyMethodRE = regexp.MustCompile(`(?m)^\s+([A-Z]\w*)\(`)
)

// iamActionOf names the IAM action of an SDK operation where the two
// differ (S3's).
var iamActionOf = map[string]string{
	"s3:ListBuckets":                "s3:ListAllMyBuckets",
	"s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}

// apiOperations parses the AWS operations the bot calls from
// actions/awsapi/api.go, grouped by interface, as IAM actions
// ("iam:ListUsers"). For every service killswitch uses, the SDK package name
// is the IAM service prefix and the SDK method name is the IAM action name.
func apiOperations(t *testing.T) map[string][]string {
	t.Helper()
	var src []byte
	for _, f := range []string{"../actions/awsapi/api.go", "../actions/awsapi/backups.go", "../actions/awsapi/identitycenter.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read the AWS interfaces: %v", err)
		}
		src = append(src, b...)
	}
	byInterface := map[string][]string{}
	for _, m := range interfaceRE.FindAllStringSubmatch(string(src), -1) {
		name, body := m[1], m[2]
		sdk := sdkMethodRE.FindAllStringSubmatch(body, -1)
		if len(sdk) == 0 {
			continue // not an AWS API interface (Provider)
		}
		if all := anyMethodRE.FindAllString(body, -1); len(all) != len(sdk) {
			t.Errorf("interface %s: %d methods but %d look like SDK operations; update this parser", name, len(all), len(sdk))
		}
		for _, op := range sdk {
			method, inPkg, input, optPkg := op[1], op[2], op[3], op[4]
			if inPkg != optPkg || input != method {
				t.Errorf("interface %s: method %s does not copy the SDK signature (%s.%sInput, %s.Options)", name, method, inPkg, input, optPkg)
			}
			action := iamPrefix(inPkg) + ":" + method
			if a, ok := iamActionOf[action]; ok {
				action = a
			}
			byInterface[name] = append(byInterface[name], action)
		}
	}
	for _, want := range []string{"IAM", "Organizations", "STS", "SecretsManager", "SSOAdmin", "IdentityStore"} {
		if len(byInterface[want]) == 0 {
			t.Errorf("found no operations in interface %s; the parser is out of date", want)
		}
	}
	return byInterface
}

// iamPrefix is the IAM service prefix of an SDK package: the package name,
// except for IAM Identity Center's administration API (ssoadmin: sso).
func iamPrefix(pkg string) string {
	if pkg == "ssoadmin" {
		return "sso"
	}
	return pkg
}

func TestBotPolicyMatchesAWSInterfaces(t *testing.T) {
	want := map[string]string{} // action -> interface
	for iface, ops := range apiOperations(t) {
		for _, op := range ops {
			want[op] = iface
		}
	}
	// The client factory assumes the responder role through the SDK's
	// credentials provider, not through an awsapi interface.
	const assumeRole = "sts:AssumeRole"
	// Creating a policy with tags also needs the tagging action (AWS's
	// dependent actions): the bot tags what it creates killswitch:managed.
	// A Recycle Bin rule created locked and tagged needs rbin:LockRule and
	// rbin:TagResource too.
	dependent := map[string]bool{"organizations:TagResource": true, "iam:TagPolicy": true, "rbin:LockRule": true, "rbin:TagResource": true}
	got := map[string]bool{}
	for _, op := range BotOperations() {
		got[op] = true
	}
	for op, iface := range want {
		if !got[op] {
			t.Errorf("bot-policy does not allow %s, which awsapi.%s calls", op, iface)
		}
	}
	for op := range got {
		if _, ok := want[op]; !ok && op != assumeRole && !dependent[op] {
			t.Errorf("bot-policy allows %s, which no awsapi interface calls", op)
		}
	}
	if !got[assumeRole] {
		t.Errorf("bot-policy does not allow %s", assumeRole)
	}
	t.Logf("bot-policy allows %d operations (%d through awsapi, plus %s)", len(got), len(want), assumeRole)
}

func TestBotOperations(t *testing.T) {
	ops := BotOperations()
	if !sort.StringsAreSorted(ops) || len(slices.Compact(slices.Clone(ops))) != len(ops) {
		t.Errorf("BotOperations not sorted and unique: %v", ops)
	}
	if !slices.Contains(ops, "iam:ListUsers") {
		t.Errorf("BotOperations lacks iam:ListUsers: %v", ops)
	}
	ops[0] = "changed"
	if BotOperations()[0] == "changed" {
		t.Error("BotOperations shares its slice")
	}
	// BotOperations is exactly the Allow actions of the rendered policy.
	pol := parse(t, mustRender(t, "bot-policy", DefaultParams()))
	var allowed []string
	for _, s := range pol.Statement {
		if s.Effect == "Allow" {
			allowed = append(allowed, strs(s.Action)...)
		}
	}
	sort.Strings(allowed)
	if !slices.Equal(slices.Compact(allowed), BotOperations()) {
		t.Errorf("rendered Allow actions %v\n!= BotOperations %v", allowed, BotOperations())
	}
}

func TestBotPolicyIsNarrow(t *testing.T) {
	p := DefaultParams()
	p.RoleName = "Responder"
	out := mustRender(t, "bot-policy", p)
	pol := parse(t, out)
	for _, s := range pol.Statement {
		for _, a := range strs(s.Action) {
			if strings.ContainsAny(a, "*?") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
		}
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range strs(s.Action) {
			svc, verb, _ := strings.Cut(a, ":")
			_, readOnly := deniesReadOnly(a)
			readOnly = readOnly || verb == "GetCallerIdentity"
			if readOnly || svc == "organizations" {
				continue // reads, and SCP calls limited by a condition below
			}
			if slices.Contains(strs(s.Resource), "*") && !(a == "sts:AssumeRoot" && len(strs(s.Condition["ArnEquals"]["sts:TaskPolicyArn"])) > 0) {
				// sts:AssumeRoot's one resource type is a member's root user
				// (arn:aws:iam::ACCOUNT:root, which moto refuses in a pattern):
				// what bounds it is the task policy the session is limited to
				t.Errorf("%s: mutating action %s on Resource *", s.Sid, a)
			}
		}
		if s.Sid == "CreateKillSwitchSCPs" || s.Sid == "EnableServiceControlPolicies" {
			if got := strs(s.Condition["StringEquals"]["organizations:PolicyType"]); !slices.Equal(got, []string{"SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"}) {
				t.Errorf("%s not limited to SCPs and RCPs: %v", s.Sid, s.Condition)
			}
		}
		if s.Sid == "CreateKillSwitchSCPs" {
			if got := s.Condition["StringEquals"]["aws:RequestTag/"+ManagedTagKey]; got != "true" {
				t.Errorf("SCPs may be created without the %s tag: %v", ManagedTagKey, s.Condition)
			}
		}
	}
	for _, want := range []string{
		`"Action":"sts:AssumeRole","Resource":["arn:aws:iam::*:role/Responder","arn:aws:iam::*:role/KillSwitchCanary"]`,
		`"arn:aws:iam::*:policy` + ManagedPolicyPath + `KillSwitch*"`,
		`"iam:PolicyARN":"arn:aws:iam::*:policy` + ManagedPolicyPath + `KillSwitch*"`,
		`"aws:ResourceTag/` + ManagedTagKey + `":"true"`,
		`"Sid":"NeverTouchExemptPrincipals","Effect":"Deny"`,
		`"arn:aws:secretsmanager:*:*:secret:` + SecretNamePrefix + `*"`,
		`"Sid":"NeverChangeOwnRole","Effect":"Deny"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bot-policy lacks %s", want)
		}
	}
}
