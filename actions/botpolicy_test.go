package actions_test

import (
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/policies"
)

// The bot's own policy, evaluated with the simulation's evaluator: every call
// the bot makes is allowed on the resources the engine uses, and the calls
// a stolen bot credential must not make are refused.

const (
	botAcct   = "222222222222"
	botMgmt   = "111111111111"
	botOrgID  = "o-abcdefghij"
	killSCP   = "arn:aws:organizations::" + botMgmt + ":policy/" + botOrgID + "/service_control_policy/p-killswit"
	customSCP = "arn:aws:organizations::" + botMgmt + ":policy/" + botOrgID + "/service_control_policy/p-customer"
	acctARN   = "arn:aws:organizations::" + botMgmt + ":account/" + botOrgID + "/" + botAcct
	rootARN   = "arn:aws:organizations::" + botMgmt + ":root/" + botOrgID + "/r-ab12"
	ksPolicy  = "arn:aws:iam::" + botAcct + ":policy/killswitch/KillSwitchDenyDelete"
	ksPolicy2 = "arn:aws:iam::" + botAcct + ":policy/killswitch/KillSwitchDenyDelete-2"
	target    = "arn:aws:iam::" + botAcct + ":user/alice"
	targetR   = "arn:aws:iam::" + botAcct + ":role/app"
	botBGRole = "arn:aws:iam::" + botAcct + ":role/BreakGlassAdmin"
	botBGUser = "arn:aws:iam::" + botAcct + ":user/breakglass-admin"
	bkRule    = "arn:aws:rbin:us-east-1:" + botAcct + ":rule/a1B2c3D4e5F"
	// IAM Identity Center resources (Service Authorization Reference).
	icInstance = "arn:aws:sso:::instance/ssoins-1111222233334444"
	icPermSet  = "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-5555666677778888"
	icAccount  = "arn:aws:sso:::account/" + botAcct
	icStore    = "arn:aws:identitystore::" + botMgmt + ":identitystore/d-1234567890"
)

var managedTag = map[string]string{"aws:RequestTag/" + policies.ManagedTagKey: "true", "aws:TagKeys": policies.ManagedTagKey}

type botCall struct {
	action, resource string
	ctx              map[string]string
}

// botCalls are the calls the engine makes, per operation, on the resources
// it uses them on (and, for the SCP calls, with the tag it sets).
var botCalls = map[string][]botCall{
	"sts:AssumeRole":                {{resource: "arn:aws:iam::" + botAcct + ":role/" + policies.DefaultRoleName}},
	"sts:GetCallerIdentity":         {{resource: "*"}},
	"iam:GetAccountSummary":         {{resource: "*"}},
	"iam:ListOrganizationsFeatures": {{resource: "*"}},
	"sts:AssumeRoot": {{resource: "arn:aws:iam::222222222222:root", ctx: map[string]string{"sts:TaskPolicyArn": awsapi.TaskAuditRootCredentials}},
		{resource: "arn:aws:iam::222222222222:root", ctx: map[string]string{"sts:TaskPolicyArn": awsapi.TaskDeleteRootCredentials}}},
	"iam:ListUsers":                       {{resource: "*"}},
	"iam:GetAccountAuthorizationDetails":  {{resource: "*"}},
	"iam:ListRoles":                       {{resource: "*"}},
	"iam:ListGroups":                      {{resource: "*"}},
	"iam:ListPolicies":                    {{resource: "*"}},
	"iam:GetLoginProfile":                 {{resource: target}, {resource: botBGUser}},
	"iam:GetUserPolicy":                   {{resource: target}},
	"iam:GetRolePolicy":                   {{resource: targetR}},
	"iam:ListAccessKeys":                  {{resource: target}, {resource: botBGUser}},
	"iam:ListUserTags":                    {{resource: target}, {resource: botBGUser}},
	"iam:ListRoleTags":                    {{resource: targetR}, {resource: botBGRole}},
	"iam:ListSSHPublicKeys":               {{resource: target}},
	"iam:ListServiceSpecificCredentials":  {{resource: target}},
	"iam:GetPolicy":                       {{resource: ksPolicy}},
	"iam:GetPolicyVersion":                {{resource: ksPolicy}},
	"iam:ListEntitiesForPolicy":           {{resource: ksPolicy}},
	"iam:CreateAccessKey":                 {{resource: target}},
	"iam:DeleteLoginProfile":              {{resource: target}},
	"iam:UpdateAccessKey":                 {{resource: target}},
	"iam:UpdateSSHPublicKey":              {{resource: target}},
	"iam:UpdateServiceSpecificCredential": {{resource: target}},
	"iam:PutUserPolicy":                   {{resource: target}},
	"iam:DeleteUserPolicy":                {{resource: target}},
	"iam:PutRolePolicy":                   {{resource: targetR}},
	"iam:DeleteRolePolicy":                {{resource: targetR}},
	"iam:CreatePolicy":                    {{resource: ksPolicy}, {resource: ksPolicy2}},
	"iam:TagPolicy":                       {{resource: ksPolicy2}},
	"iam:DeletePolicy":                    {{resource: ksPolicy2}},
	"iam:AttachUserPolicy":                {{resource: target, ctx: map[string]string{"iam:PolicyARN": ksPolicy2}}},
	"iam:AttachRolePolicy":                {{resource: targetR, ctx: map[string]string{"iam:PolicyARN": ksPolicy}}},
	"iam:AttachGroupPolicy":               {{resource: "arn:aws:iam::" + botAcct + ":group/dev", ctx: map[string]string{"iam:PolicyARN": ksPolicy}}},
	"iam:DetachUserPolicy":                {{resource: target, ctx: map[string]string{"iam:PolicyARN": ksPolicy2}}},
	"iam:DetachRolePolicy":                {{resource: targetR, ctx: map[string]string{"iam:PolicyARN": ksPolicy}}},
	"iam:DetachGroupPolicy":               {{resource: "arn:aws:iam::" + botAcct + ":group/dev", ctx: map[string]string{"iam:PolicyARN": ksPolicy}}},
	"organizations:DescribeOrganization":  {{resource: "*"}},
	"organizations:DescribePolicy":        {{resource: "*"}},
	"organizations:ListAccounts":          {{resource: "*"}},
	"organizations:ListPolicies":          {{resource: "*"}},
	"organizations:ListPoliciesForTarget": {{resource: "*"}},
	"organizations:ListRoots":             {{resource: "*"}},
	"organizations:EnablePolicyType": {{resource: rootARN, ctx: map[string]string{"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}},
		{resource: rootARN, ctx: map[string]string{"organizations:PolicyType": "RESOURCE_CONTROL_POLICY"}}},
	"organizations:CreatePolicy": {{resource: "*", ctx: withCtx(managedTag, "organizations:PolicyType", "SERVICE_CONTROL_POLICY")},
		{resource: "*", ctx: withCtx(managedTag, "organizations:PolicyType", "RESOURCE_CONTROL_POLICY")}},
	"organizations:TagResource":                   {{resource: killSCP, ctx: managedTag}},
	"organizations:UpdatePolicy":                  {{resource: killSCP, ctx: ours()}},
	"organizations:DeletePolicy":                  {{resource: killSCP, ctx: ours()}},
	"organizations:AttachPolicy":                  {{resource: killSCP, ctx: ours()}, {resource: acctARN}},
	"organizations:DetachPolicy":                  {{resource: killSCP, ctx: ours()}, {resource: acctARN}},
	"ec2:DescribeRegions":                         {{resource: "*"}},
	"ec2:DescribeSnapshots":                       {{resource: "*"}},
	"ec2:DescribeImages":                          {{resource: "*"}},
	"ec2:DescribeLockedSnapshots":                 {{resource: "*"}},
	"rbin:ListRules":                              {{resource: "*", ctx: map[string]string{"rbin:Request/ResourceType": "EBS_SNAPSHOT"}}},
	"rbin:GetRule":                                {{resource: bkRule}},
	"rbin:CreateRule":                             {{resource: bkRule, ctx: withCtx(managedTag, "rbin:Request/ResourceType", "EC2_IMAGE")}},
	"rbin:LockRule":                               {{resource: bkRule, ctx: withCtx(managedTag, "rbin:Request/ResourceType", "EC2_IMAGE")}},
	"rbin:TagResource":                            {{resource: bkRule, ctx: managedTag}},
	"backup:ListBackupVaults":                     {{resource: "*"}},
	"backup:ListRecoveryPointsByBackupVault":      {{resource: "arn:aws:backup:us-west-2:" + botAcct + ":backup-vault:Default"}},
	"s3:ListAllMyBuckets":                         {{resource: "*"}},
	"s3:GetBucketObjectLockConfiguration":         {{resource: "arn:aws:s3:::prod-backups"}},
	"s3:GetBucketVersioning":                      {{resource: "arn:aws:s3:::prod-backups"}},
	"secretsmanager:CreateSecret":                 {{resource: "arn:aws:secretsmanager:us-east-1:" + botAcct + ":secret:killswitch/rotated-keys/alice-AbCdEf"}},
	"secretsmanager:DescribeSecret":               {{resource: "arn:aws:secretsmanager:us-east-1:" + botAcct + ":secret:killswitch/rotated-keys/alice-AbCdEf"}},
	"secretsmanager:PutSecretValue":               {{resource: "arn:aws:secretsmanager:us-east-1:" + botAcct + ":secret:killswitch/rotated-keys/alice-AbCdEf"}},
	"secretsmanager:TagResource":                  {{resource: "arn:aws:secretsmanager:us-east-1:" + botAcct + ":secret:killswitch/rotated-keys/alice-AbCdEf"}},
	"sso:ListInstances":                           {{resource: "*"}},
	"sso:ListPermissionSets":                      {{resource: icInstance}},
	"sso:DescribePermissionSet":                   {{resource: icInstance}, {resource: icPermSet}},
	"sso:ListAccountAssignments":                  {{resource: icInstance}, {resource: icPermSet}, {resource: icAccount}},
	"sso:DeleteAccountAssignment":                 {{resource: icInstance}, {resource: icPermSet}, {resource: icAccount}},
	"sso:CreateAccountAssignment":                 {{resource: icInstance}, {resource: icPermSet}, {resource: icAccount}},
	"sso:DescribeAccountAssignmentCreationStatus": {{resource: icInstance}},
	"sso:DescribeAccountAssignmentDeletionStatus": {{resource: icInstance}},
	"identitystore:ListUsers":                     {{resource: icStore}},
	"identitystore:ListGroups":                    {{resource: icStore}},
	"identitystore:DescribeUser":                  {{resource: icStore}, {resource: "arn:aws:identitystore:::user/f81d4fae-7dec-11d0-a765-00a0c91e6bf6"}},
	"identitystore:DescribeGroup":                 {{resource: icStore}, {resource: "arn:aws:identitystore:::group/f81d4fae-7dec-11d0-a765-00a0c91e6bf7"}},
	"identitystore:ListGroupMemberships":          {{resource: icStore}, {resource: "arn:aws:identitystore:::group/f81d4fae-7dec-11d0-a765-00a0c91e6bf7"}},
}

func ours() map[string]string {
	return map[string]string{"aws:ResourceTag/" + policies.ManagedTagKey: "true"}
}

func withCtx(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// botMustNot are calls a stolen bot credential must not be able to make.
var botMustNot = []struct {
	why string
	botCall
}{
	{"update a customer's own SCP", botCall{"organizations:UpdatePolicy", customSCP, nil}},
	{"mint a root session that can set a root password", botCall{"sts:AssumeRoot", "arn:aws:iam::222222222222:root", map[string]string{"sts:TaskPolicyArn": "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword"}}},
	{"mint a root session that can unlock bucket policies", botCall{"sts:AssumeRoot", "arn:aws:iam::222222222222:root", map[string]string{"sts:TaskPolicyArn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"}}},
	{"mint a root session with no task policy named", botCall{"sts:AssumeRoot", "arn:aws:iam::222222222222:root", nil}},
	{"delete a customer's own SCP", botCall{"organizations:DeletePolicy", customSCP, nil}},
	{"detach a customer's own SCP", botCall{"organizations:DetachPolicy", customSCP, nil}},
	{"attach a customer's SCP (FullAWSAccess) elsewhere", botCall{"organizations:AttachPolicy", "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess", nil}},
	{"create an untagged SCP", botCall{"organizations:CreatePolicy", "*", map[string]string{"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}},
	{"create a tagged policy of another type", botCall{"organizations:CreatePolicy", "*", withCtx(managedTag, "organizations:PolicyType", "TAG_POLICY")}},
	{"tag a customer's SCP with another key", botCall{"organizations:TagResource", customSCP, map[string]string{"aws:RequestTag/owner": "x", "aws:TagKeys": "owner"}}},
	{"tag an account", botCall{"organizations:TagResource", acctARN, managedTag}},
	{"disable SCPs", botCall{"organizations:DisablePolicyType", rootARN, map[string]string{"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}},
	{"enable another policy type", botCall{"organizations:EnablePolicyType", rootARN, map[string]string{"organizations:PolicyType": "TAG_POLICY"}}},
	{"leave the organization", botCall{"organizations:LeaveOrganization", "*", nil}},
	{"attach AdministratorAccess to a user", botCall{"iam:AttachUserPolicy", target, map[string]string{"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}}},
	{"attach AdministratorAccess to its own role", botCall{"iam:AttachRolePolicy", "arn:aws:iam::" + botAcct + ":role/" + policies.DefaultRoleName, map[string]string{"iam:PolicyARN": ksPolicy}}},
	{"attach a customer policy under /killswitch/ not named KillSwitch", botCall{"iam:AttachUserPolicy", target, map[string]string{"iam:PolicyARN": "arn:aws:iam::" + botAcct + ":policy/killswitch/Admin"}}},
	{"create a policy outside /killswitch/", botCall{"iam:CreatePolicy", "arn:aws:iam::" + botAcct + ":policy/Admin", nil}},
	{"create a policy version (rewrite a policy)", botCall{"iam:CreatePolicyVersion", ksPolicy, nil}},
	{"create a key for a break-glass user", botCall{"iam:CreateAccessKey", botBGUser, nil}},
	{"reactivate a break-glass user's key", botCall{"iam:UpdateAccessKey", botBGUser, nil}},
	{"delete a break-glass login profile", botCall{"iam:DeleteLoginProfile", botBGUser, nil}},
	{"put an inline policy on a break-glass role", botCall{"iam:PutRolePolicy", botBGRole, nil}},
	{"put an inline policy on a break-glass user", botCall{"iam:PutUserPolicy", botBGUser, nil}},
	{"attach the guardrail to a break-glass role", botCall{"iam:AttachRolePolicy", botBGRole, map[string]string{"iam:PolicyARN": ksPolicy}}},
	{"create a key for the bot's own role", botCall{"iam:CreateAccessKey", "arn:aws:iam::" + botAcct + ":role/" + policies.DefaultRoleName, nil}},
	{"put an inline policy on the bot's own role", botCall{"iam:PutRolePolicy", "arn:aws:iam::" + botAcct + ":role/" + policies.DefaultRoleName, nil}},
	{"create a user", botCall{"iam:CreateUser", "arn:aws:iam::" + botAcct + ":user/backdoor", nil}},
	{"create a login profile", botCall{"iam:CreateLoginProfile", target, nil}},
	{"change a trust policy", botCall{"iam:UpdateAssumeRolePolicy", targetR, nil}},
	{"assume another role", botCall{"sts:AssumeRole", botBGRole, nil}},
	{"read any secret", botCall{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:" + botAcct + ":secret:prod/db-AbCdEf", nil}},
	{"delete a snapshot", botCall{"ec2:DeleteSnapshot", "*", nil}},
	{"create an untagged Recycle Bin rule", botCall{"rbin:CreateRule", bkRule, map[string]string{"rbin:Request/ResourceType": "EBS_SNAPSHOT"}}},
	{"create a Recycle Bin rule for volumes", botCall{"rbin:CreateRule", bkRule, withCtx(managedTag, "rbin:Request/ResourceType", "EBS_VOLUME")}},
	{"delete a Recycle Bin rule", botCall{"rbin:DeleteRule", bkRule, ours()}},
	{"unlock a Recycle Bin rule", botCall{"rbin:UnlockRule", bkRule, ours()}},
	{"shorten a Recycle Bin rule", botCall{"rbin:UpdateRule", bkRule, ours()}},
	{"lock a customer's own rule after the fact", botCall{"rbin:LockRule", bkRule, nil}},
	{"retag a customer's rule", botCall{"rbin:TagResource", bkRule, map[string]string{"aws:RequestTag/owner": "x", "aws:TagKeys": "owner"}}},
	{"remove a vault lock", botCall{"backup:DeleteBackupVaultLockConfiguration", "arn:aws:backup:us-east-1:" + botAcct + ":backup-vault:Default", nil}},
	{"suspend bucket versioning", botCall{"s3:PutBucketVersioning", "arn:aws:s3:::prod-backups", nil}},
	{"create a permission set", botCall{"sso:CreatePermissionSet", icInstance, nil}},
	{"put a policy on a permission set", botCall{"sso:PutInlinePolicyToPermissionSet", icPermSet, nil}},
	{"create an Identity Center user", botCall{"identitystore:CreateUser", icStore, nil}},
	{"add a member to a group", botCall{"identitystore:CreateGroupMembership", icStore, nil}},
}

func botPolicyDoc(t *testing.T) string {
	t.Helper()
	p := policies.DefaultParams() // role/BreakGlass*, role/KillSwitchResponder
	p.ExemptPatterns = append(p.ExemptPatterns, "arn:aws:iam::*:user/breakglass*")
	doc, err := policies.Render("bot-policy", p)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

const botPrincipal = "arn:aws:iam::" + botAcct + ":role/" + policies.DefaultRoleName

func TestBotPolicyAllowsEveryCallTheBotMakes(t *testing.T) {
	doc := botPolicyDoc(t)
	for _, op := range policies.BotOperations() {
		calls, ok := botCalls[op]
		if !ok {
			t.Errorf("bot-policy allows %s, which this test does not know a call for: add its resources to botCalls", op)
			continue
		}
		for _, c := range calls {
			d, err := sim.EvaluatePolicy(doc, false, sim.EvalRequest{Principal: botPrincipal, Action: op, Resource: c.resource, Context: c.ctx})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed {
				t.Errorf("bot-policy refuses the bot's own call %s on %s (denied %v by %q)", op, c.resource, d.Denied, d.Statement)
			}
		}
	}
	for op := range botCalls {
		if !containsStr(policies.BotOperations(), op) {
			t.Errorf("botCalls lists %s, which bot-policy does not allow", op)
		}
	}
}

func TestBotPolicyRefusesWhatTheContainmentDoesNotNeed(t *testing.T) {
	doc := botPolicyDoc(t)
	for _, c := range botMustNot {
		d, err := sim.EvaluatePolicy(doc, false, sim.EvalRequest{Principal: botPrincipal, Action: c.action, Resource: c.resource, Context: c.ctx})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			t.Errorf("a stolen bot credential may %s (%s on %s, statement %q)", c.why, c.action, c.resource, d.Statement)
		}
	}
	// break-glass is protected by an explicit deny, not only by omission:
	// it wins over any broader Allow someone adds later
	for _, c := range botMustNot {
		if !strings.Contains(c.why, "break-glass") {
			continue
		}
		d, _ := sim.EvaluatePolicy(doc, false, sim.EvalRequest{Principal: botPrincipal, Action: c.action, Resource: c.resource, Context: c.ctx})
		if !d.Denied {
			t.Errorf("%s is refused only by omission, not by an explicit deny", c.why)
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
