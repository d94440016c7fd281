package awsint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/policies"
)

// iamPrefix maps the SDK's service ids (what RecordOperations reports) and
// the SigV4 signing names (what the shim sees on the wire) to IAM action
// prefixes.
var iamPrefix = map[string]string{
	"IAM":             "iam",
	"Organizations":   "organizations",
	"STS":             "sts",
	"Secrets Manager": "secretsmanager",
	"iam":             "iam",
	"organizations":   "organizations",
	"sts":             "sts",
	"secretsmanager":  "secretsmanager",
	"SSO Admin":       "sso", // the SDK's service id; on the wire the target prefix is sso
	"sso":             "sso",
	"identitystore":   "identitystore",
	"EC2":             "ec2", // backup-readiness's reads
	"ec2":             "ec2",
	"rbin":            "rbin",
	"Backup":          "backup",
	"backup":          "backup",
	"S3":              "s3",
	"s3":              "s3",
}

// iamActionOf names the IAM action of an operation where the two differ.
var iamActionOf = map[string]string{
	"s3:ListBuckets":                "s3:ListAllMyBuckets",
	"s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}

// botPolicyAllows returns the actions the rendered bot-policy allows.
func botPolicyAllows() (map[string]bool, error) {
	p := policies.DefaultParams()
	p.RoleName = ResponderRole
	doc, err := policies.Render("bot-policy", p)
	if err != nil {
		return nil, err
	}
	var pol struct {
		Statement []struct {
			Effect string
			Action json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(doc), &pol); err != nil {
		return nil, fmt.Errorf("bot-policy: %w", err)
	}
	allowed := map[string]bool{}
	for _, s := range pol.Statement {
		if s.Effect != "Allow" {
			continue
		}
		var list []string
		if json.Unmarshal(s.Action, &list) != nil {
			var one string
			if err := json.Unmarshal(s.Action, &one); err != nil {
				return nil, fmt.Errorf("bot-policy: action %s: %w", s.Action, err)
			}
			list = []string{one}
		}
		for _, a := range list {
			allowed[a] = true
		}
	}
	return allowed, nil
}

// leastPrivilegeProblems names every recorded "Service:Operation" the
// rendered bot-policy does not allow.
func leastPrivilegeProblems(ops map[string]int) []string {
	if len(ops) == 0 {
		return nil
	}
	allowed, err := botPolicyAllows()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	if got, want := sortedKeys(allowed), policies.BotOperations(); !slices.Equal(got, want) {
		out = append(out, fmt.Sprintf("the rendered bot-policy allows %v but policies.BotOperations says %v", got, want))
	}
	for _, op := range sortedKeys(ops) {
		if op == "EC2:DeleteSnapshot" || op == "ec2:DeleteSnapshot"+CanaryDryRun {
			// the guardrail canary's dry run, made as the canary role
			// (awsapi.CanaryRoleName), not as the bot; on the wire the shim
			// counts it apart only when it is a dry run on the canary's
			// snapshot id, so a real DeleteSnapshot is still flagged
			continue
		}
		service, name, _ := strings.Cut(op, ":")
		if service == awsapi.RootSessionService { // a root session: its task policy decides (root_test.go)
			if !slices.Contains(awsapi.RootTaskActions[awsapi.TaskDeleteRootCredentials], "iam:"+name) {
				out = append(out, fmt.Sprintf("%s (%d calls): iam:%s is not allowed by the root task policies", op, ops[op], name))
			}
			continue
		}
		prefix, ok := iamPrefix[service]
		if !ok {
			out = append(out, fmt.Sprintf("%s (%d calls): service %q is not one the bot may call", op, ops[op], service))
			continue
		}
		action := prefix + ":" + name
		if a, ok := iamActionOf[action]; ok {
			action = a
		}
		if !allowed[action] {
			out = append(out, fmt.Sprintf("%s (%d calls): %s is not allowed", op, ops[op], action))
		}
	}
	return out
}

// TestLeastPrivilegeCheck checks the check that TestMain runs on every
// operation the bot made in this test binary (as its factories recorded
// them, and as the shim saw them on the wire, the CLI's included): it passes
// the calls the bot must make and flags any other one.
func TestLeastPrivilegeCheck(t *testing.T) {
	ok := map[string]int{"STS:AssumeRole": 3, "STS:GetCallerIdentity": 3, "IAM:ListUsers": 1, "IAM:UpdateAccessKey": 2,
		"Organizations:AttachPolicy": 1, "Secrets Manager:CreateSecret": 1, "S3:ListBuckets": 1, "s3:GetObjectLockConfiguration": 1, "rbin:CreateRule": 1}
	if p := leastPrivilegeProblems(ok); len(p) > 0 {
		t.Errorf("calls the bot must make are flagged: %v", p)
	}
	for op, why := range map[string]string{
		"IAM:DeleteUser":                  "iam:DeleteUser is not allowed",
		"IAM:DeleteAccessKey":             "iam:DeleteAccessKey is not allowed",
		"Secrets Manager:GetSecretValue":  "secretsmanager:GetSecretValue is not allowed",
		"S3:DeleteBucket":                 "s3:DeleteBucket is not allowed",
		"ec2:DeleteSnapshot":              "ec2:DeleteSnapshot is not allowed", // on the wire, not the canary's dry run
		"rbin:DeleteRule":                 "rbin:DeleteRule is not allowed",
		"s3:DELETE /prod-backups":         "s3:DELETE /prod-backups is not allowed",
		"Lambda:Invoke":                   `service "Lambda"`,
		"Organizations:LeaveOrganization": "organizations:LeaveOrganization is not allowed",
	} {
		p := leastPrivilegeProblems(map[string]int{"IAM:ListUsers": 1, op: 1})
		if len(p) != 1 || !strings.Contains(p[0], why) {
			t.Errorf("%s: problems %v, want one saying %q", op, p, why)
		}
	}
	if p := leastPrivilegeProblems(map[string]int{"sts:AssumeRole": 1, "iam:ListUsers": 2, "organizations:ListAccounts": 1, "secretsmanager:TagResource": 1}); len(p) > 0 {
		t.Errorf("calls on the wire the bot must make are flagged: %v", p)
	}
	if p := leastPrivilegeProblems(map[string]int{"SSO Admin:DeleteAccountAssignment": 1, "identitystore:ListUsers": 1, "sso:ListInstances": 1}); len(p) > 0 {
		t.Errorf("Identity Center calls the bot must make are flagged: %v", p)
	}
	if p := leastPrivilegeProblems(map[string]int{"SSO Admin:CreatePermissionSet": 1}); len(p) != 1 || !strings.Contains(p[0], "sso:CreatePermissionSet is not allowed") {
		t.Errorf("sso:CreatePermissionSet: %v", p)
	}
	if p := leastPrivilegeProblems(map[string]int{"iam:CreateUser": 1}); len(p) != 1 || !strings.Contains(p[0], "iam:CreateUser is not allowed") {
		t.Errorf("iam:CreateUser on the wire: %v", p)
	}
	if p := leastPrivilegeProblems(map[string]int{awsapi.RootSessionService + ":ListMFADevices": 1, awsapi.RootSessionService + ":DeleteLoginProfile": 1, "STS:AssumeRoot": 1}); len(p) > 0 {
		t.Errorf("root-session calls the task policies allow are flagged: %v", p)
	}
	if p := leastPrivilegeProblems(map[string]int{awsapi.RootSessionService + ":CreateLoginProfile": 1}); len(p) != 1 || !strings.Contains(p[0], "root task policies") {
		t.Errorf("a root-session call no task policy allows: %v", p)
	}
	if p := leastPrivilegeProblems(nil); p != nil {
		t.Errorf("no calls: %v", p)
	}
}
