package sim

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// marker is the action the guardrails of these tests deny: a technique
// that removes a guardrail makes it allowed again.
const marker = "s3:DeleteBucket"

const (
	intruderKey     = "AKIAINTRUDER0000000M" // in memberID
	mgmtIntruderKey = "AKIAINTRUDER0000000A" // in mgmtID
)

func denyDoc(actions []string, cond string) string {
	acts := make([]string, len(actions))
	for i, a := range actions {
		acts[i] = fmt.Sprintf("%q", a)
	}
	return doc("Deny", "["+strings.Join(acts, ",")+"]", "*", cond)
}

// catalogueOrg is testOrg with, in the member account 222222222222: group
// Devs; users alice (password, an Active and an Inactive key, in Devs) and
// intruder (one key, in Devs); roles app and BreakGlassAdmin (trusting the
// account); one resource of every kind, and an object and an object
// version in bucket b1. The management account has a user intruder.
func catalogueOrg(t *testing.T) *Org {
	t.Helper()
	o := testOrg(t)
	o.SetClock((&fixedClock{t: t0}).now)
	o.Provider(DefaultBotRole)
	must(t, o.AddGroup(memberID, Group{Name: "Devs"}))
	must(t, o.AddUser(memberID, User{Name: "alice", Password: true, Groups: []string{"Devs"},
		AccessKeys: []AccessKey{{ID: "AKIAALICE00000000001", Active: true}, {ID: "AKIAALICE00000000002", Active: false}}}))
	must(t, o.AddUser(memberID, User{Name: "intruder", Groups: []string{"Devs"}, AccessKeys: []AccessKey{{ID: intruderKey, Active: true}}}))
	must(t, o.AddRole(memberID, Role{Name: "app"}))
	must(t, o.AddRole(memberID, Role{Name: "BreakGlassAdmin", ManagedPolicies: []string{adminARN}}))
	for _, kind := range ResourceKinds() {
		must(t, o.AddResource(memberID, kind, "r-"+kind))
	}
	must(t, o.AddResource(memberID, "bucket", "b1"))
	must(t, o.AddResource(memberID, "object", "b1/k1"))
	must(t, o.AddResource(memberID, "object-version", "b1/k1#v1"))
	must(t, o.AddUser(mgmtID, User{Name: "intruder", AccessKeys: []AccessKey{{ID: mgmtIntruderKey, Active: true}}}))
	return o
}

func memberCred() Credential {
	return Credential{Account: memberID, Principal: uarn(memberID, "intruder"), AccessKeyID: intruderKey}
}

func mgmtCred() Credential {
	return Credential{Account: mgmtID, Principal: uarn(mgmtID, "intruder"), AccessKeyID: mgmtIntruderKey}
}

// entityOf returns the entity kind ("user", "role", "group") name in acct.
func entityOf(t *testing.T, o *Org, acct, kind, name string) *entity {
	t.Helper()
	a := o.accounts[acct]
	var e *entity
	switch kind {
	case "user":
		if u := a.users[strings.ToLower(name)]; u != nil {
			e = &u.entity
		}
	case "role":
		if r := a.roles[strings.ToLower(name)]; r != nil {
			e = &r.entity
		}
	case "group":
		if g := a.groups[strings.ToLower(name)]; g != nil {
			e = &g.entity
		}
	}
	if e == nil {
		t.Fatalf("no %s %s in %s", kind, name, acct)
	}
	return e
}

func putInlineT(t *testing.T, o *Org, acct, kind, name, policy, document string) {
	t.Helper()
	p, err := parsePolicy(document, identityPolicy)
	must(t, err)
	o.mu.Lock()
	defer o.mu.Unlock()
	entityOf(t, o, acct, kind, name).inline[policy] = &inlinePolicy{doc: document, parsed: p}
}

func attachT(t *testing.T, o *Org, acct, kind, name, arn string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	e := entityOf(t, o, acct, kind, name)
	must(t, attachManaged(o.accounts[acct], &e.managed, arn, "quota"))
}

// guardrailPolicy adds the managed policy KillSwitchGuardrail (denying the
// marker) to the member account and attaches it to each kind/name pair.
func guardrailPolicy(t *testing.T, o *Org, to ...string) string {
	t.Helper()
	arn, err := o.AddPolicy(memberID, Policy{Name: "KillSwitchGuardrail", Document: denyDoc([]string{marker}, "")})
	must(t, err)
	for i := 0; i < len(to); i += 2 {
		attachT(t, o, memberID, to[i], to[i+1], arn)
	}
	return arn
}

// killswitchSCP creates an SCP named name denying the marker (with an
// optional condition) and attaches it to the member account.
func killswitchSCP(t *testing.T, o *Org, name, cond string) string {
	t.Helper()
	return attachSCP(t, o, name, denyDoc([]string{marker}, cond), memberID)
}

func attachSCP(t *testing.T, o *Org, name, content, target string) string {
	t.Helper()
	c := mustClients(t, o, mgmtID)
	out, err := c.Organizations.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String(name), Description: aws.String(""), Content: aws.String(content), Type: orgtypes.PolicyTypeServiceControlPolicy})
	must(t, err)
	_, err = c.Organizations.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: out.Policy.PolicySummary.Id, TargetId: aws.String(target)})
	must(t, err)
	return *out.Policy.PolicySummary.Id
}

type techniqueCase struct {
	cred  func() Credential // default memberCred
	setup func(t *testing.T, o *Org)
	calls int      // AWS calls on an unprotected organization
	needs []string // the actions it calls; denying them refuses it
	// guard, when set, is a credential the guardrail (set up by setup)
	// denies the marker before the technique and not after.
	guard func() Credential
	check func(t *testing.T, o *Org, eff Effect)
	// refuse, when set, replaces the explicit deny of needs in the
	// refusal test (for calls no policy controls).
	refuse func(t *testing.T, o *Org)
}

func one(kind string) func(t *testing.T, o *Org, eff Effect) {
	return func(t *testing.T, o *Org, eff Effect) {
		t.Helper()
		if !reflect.DeepEqual(eff.Lost, []Resource{{kind, "r-" + kind}}) {
			t.Fatalf("lost %v", eff.Lost)
		}
	}
}

func howContains(s string) func(t *testing.T, o *Org, eff Effect) {
	return func(t *testing.T, o *Org, eff Effect) {
		t.Helper()
		for _, st := range o.ResourceStates(memberID) {
			for _, l := range eff.Lost {
				if st.Kind == l.Kind && st.ID == l.ID && !strings.Contains(st.How, s) {
					t.Errorf("%s %s: how %q, want %q", st.Kind, st.ID, st.How, s)
				}
			}
		}
	}
}

func creds(n int, principal string) func(t *testing.T, o *Org, eff Effect) {
	return func(t *testing.T, o *Org, eff Effect) {
		t.Helper()
		if len(eff.Creds) != n {
			t.Fatalf("creds %+v, want %d", eff.Creds, n)
		}
		for _, c := range eff.Creds {
			if !strings.Contains(c.Principal, principal) {
				t.Errorf("cred %+v, want principal %s", c, principal)
			}
		}
	}
}

func sessionAt(t *testing.T, eff Effect) {
	t.Helper()
	for _, c := range eff.Creds {
		if !c.SessionIssued.Equal(t0) {
			t.Errorf("session %+v not issued now", c)
		}
	}
}

func techniqueCases() map[string]techniqueCase {
	scpGuard := func(t *testing.T, o *Org) { killswitchSCP(t, o, "KillSwitchDenyDelete", "") }
	cases := map[string]techniqueCase{
		"backdoor-user": {calls: 3, needs: []string{"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(2, ":user/backup-admin")(t, o, eff)
			if !eff.Creds[1].Console || eff.Creds[0].AccessKeyID == "" {
				t.Fatalf("creds %+v", eff.Creds)
			}
		}},
		"add-access-key":        {calls: 1, needs: []string{"iam:CreateAccessKey"}, check: creds(1, ":user/intruder")},
		"add-login-profile":     {calls: 1, needs: []string{"iam:CreateLoginProfile"}, check: creds(1, ":user/intruder")},
		"change-password":       {calls: 1, needs: []string{"iam:UpdateLoginProfile"}, check: creds(1, ":user/alice")},
		"reactivate-access-key": {calls: 1, needs: []string{"iam:UpdateAccessKey"}, check: creds(1, ":user/alice")},
		"backdoor-role": {calls: 2, needs: []string{"iam:CreateRole", "iam:AttachRolePolicy"}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(1, ":assumed-role/backup-admin/")(t, o, eff)
			sessionAt(t, eff)
			if !strings.Contains(roleTrust(o, "backup-admin"), "999988887777") {
				t.Errorf("trust: %s", roleTrust(o, "backup-admin"))
			}
		}},
		"assume-role": {calls: 1, needs: []string{"sts:AssumeRole"}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(1, ":assumed-role/app/backup-admin")(t, o, eff)
			sessionAt(t, eff)
		}},
		"get-session-token": {calls: 1, needs: []string{"sts:GetSessionToken"}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(1, uarn(memberID, "intruder"))(t, o, eff)
			sessionAt(t, eff)
			// no policy controls GetSessionToken: an explicit deny of it does not refuse it
			putInlineT(t, o, memberID, "user", "intruder", "DenySTS", denyDoc([]string{"sts:*"}, ""))
			if _, err := mustTechnique(t, "get-session-token").Run(bg, Attempt{Org: o, Cred: memberCred()}); err != nil {
				t.Fatalf("denied by a policy: %v", err)
			}
		}, refuse: func(t *testing.T, o *Org) {
			o.mu.Lock()
			o.accounts[memberID].users["intruder"].keys[0].active = false
			o.mu.Unlock()
		}},
		"get-federation-token": {calls: 1, needs: []string{"sts:GetFederationToken"}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(1, uarn(memberID, "intruder"))(t, o, eff)
			sessionAt(t, eff)
		}},
		"delete-revocation-policy": {calls: 1, needs: []string{"iam:DeleteUserPolicy"}, guard: memberCred, setup: func(t *testing.T, o *Org) {
			putInlineT(t, o, memberID, "user", "intruder", "KillSwitchRevokeSessions", denyDoc([]string{marker}, ""))
		}},
		"detach-guardrail": {calls: 2, needs: []string{"iam:DetachUserPolicy", "iam:DetachGroupPolicy"}, guard: memberCred, setup: func(t *testing.T, o *Org) {
			guardrailPolicy(t, o, "user", "intruder", "group", "Devs")
		}},
		"rewrite-guardrail": {calls: 1, needs: []string{"iam:CreatePolicyVersion"}, guard: memberCred, setup: func(t *testing.T, o *Org) {
			guardrailPolicy(t, o, "group", "Devs")
		}, check: func(t *testing.T, o *Org, eff Effect) {
			ids, def, _ := o.PolicyVersions(memberID, "arn:aws:iam::"+memberID+":policy/KillSwitchGuardrail")
			if !reflect.DeepEqual(ids, []string{"v1", "v2"}) || def != "v2" {
				t.Fatalf("versions %v default %s", ids, def)
			}
		}},
		"leave-guardrail-group": {calls: 1, needs: []string{"iam:RemoveUserFromGroup"}, guard: memberCred, setup: func(t *testing.T, o *Org) {
			putInlineT(t, o, memberID, "group", "Devs", "KillSwitchDenyDelete", denyDoc([]string{marker}, ""))
		}},
		"tag-break-glass": {calls: 1, needs: []string{"iam:TagUser"}, guard: memberCred, setup: func(t *testing.T, o *Org) {
			// a guardrail that (wrongly) exempts whoever carries the tag
			putInlineT(t, o, memberID, "user", "intruder", "Guard", denyDoc([]string{marker}, `{"StringNotEquals":{"aws:PrincipalTag/`+BreakGlassTag+`":"true"}}`))
		}},
		"create-break-glass-role": {calls: 3, needs: []string{"iam:CreateRole", "iam:AttachRolePolicy", "sts:AssumeRole"}, setup: func(t *testing.T, o *Org) {
			// an SCP that (wrongly) exempts roles named like break-glass
			killswitchSCP(t, o, "KillSwitchDenyDelete", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/BreakGlass*"}}`)
		}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(1, ":assumed-role/BreakGlassAdmin-2/")(t, o, eff)
			if err := o.Authorize(eff.Creds[0], marker, "*"); err != nil {
				t.Fatalf("the name exemption does not apply: %v", err)
			}
		}},
		"backdoor-break-glass-role": {calls: 2, needs: []string{"iam:UpdateAssumeRolePolicy"}, check: func(t *testing.T, o *Org, eff Effect) {
			creds(1, ":assumed-role/BreakGlassAdmin/")(t, o, eff)
			if !strings.Contains(roleTrust(o, "BreakGlassAdmin"), "999988887777") {
				t.Errorf("trust: %s", roleTrust(o, "BreakGlassAdmin"))
			}
		}},
		"delete-user": {calls: 6, needs: []string{"iam:DeleteLoginProfile", "iam:DeleteAccessKey", "iam:DeleteUserPolicy", "iam:DetachUserPolicy", "iam:RemoveUserFromGroup", "iam:DeleteUser"},
			setup: func(t *testing.T, o *Org) {
				must(t, o.AddUser(memberID, User{Name: "backup-admin", Password: true, Groups: []string{"Devs"}, AccessKeys: []AccessKey{{Active: true}},
					InlinePolicies: map[string]string{"p": doc("Allow", "*", "*", "")}, ManagedPolicies: []string{adminARN}}))
			}, check: func(t *testing.T, o *Org, eff Effect) {
				if _, ok := o.UserARN(memberID, "backup-admin"); ok {
					t.Fatal("user still there")
				}
				c := mustClients(t, o, memberID)
				_, err := c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: aws.String("backup-admin")})
				if !isErr[*iamtypes.NoSuchEntityException](err) {
					t.Fatalf("ListAccessKeys: %v", err)
				}
				_, err = c.IAM.GetLoginProfile(bg, &iam.GetLoginProfileInput{UserName: aws.String("backup-admin")})
				if !isErr[*iamtypes.NoSuchEntityException](err) {
					t.Fatalf("GetLoginProfile: %v", err)
				}
			}},

		"delete-s3-buckets": {calls: 4, needs: []string{"s3:DeleteObjectVersion", "s3:DeleteObject", "s3:DeleteBucket"}, check: func(t *testing.T, o *Org, eff Effect) {
			want := []Resource{{"object-version", "b1/k1#v1"}, {"object", "b1/k1"}, {"bucket", "b1"}, {"bucket", "r-bucket"}}
			if !reflect.DeepEqual(eff.Lost, want) {
				t.Fatalf("lost %v", eff.Lost)
			}
			howContains("deleted by s3:Delete")(t, o, eff)
		}},
		"outside-principal-bucket-policy": {calls: 6, needs: []string{"s3:PutBucketPolicy"}, check: func(t *testing.T, o *Org, eff Effect) {
			want := []Resource{{"object-version", "b1/k1#v1"}, {"object", "b1/k1"}, {"bucket", "b1"}, {"bucket", "r-bucket"}}
			if !reflect.DeepEqual(eff.Lost, want) {
				t.Fatalf("lost %v", eff.Lost)
			}
			if !strings.Contains(strings.Join(eff.What, "\n"), "from outside account "+DefaultOutsideAccount) || len(eff.Creds) != 0 {
				t.Fatalf("not done from the outside account, or a credential the drill would count: %v %v", eff.What, eff.Creds)
			}
		}},
		"delete-s3-objects": {calls: 2, needs: []string{"s3:DeleteObject"}, check: func(t *testing.T, o *Org, eff Effect) {
			if !reflect.DeepEqual(eff.Lost, []Resource{{"object", "b1/k1"}, {"object", "r-object"}}) {
				t.Fatalf("lost %v", eff.Lost)
			}
		}},
		"delete-s3-object-versions": {calls: 2, needs: []string{"s3:DeleteObjectVersion"}, check: func(t *testing.T, o *Org, eff Effect) {
			if !reflect.DeepEqual(eff.Lost, []Resource{{"object-version", "b1/k1#v1"}, {"object-version", "r-object-version"}}) {
				t.Fatalf("lost %v", eff.Lost)
			}
		}},
		"s3-expire-all": {calls: 2, needs: []string{"s3:PutLifecycleConfiguration"}, check: func(t *testing.T, o *Org, eff Effect) {
			if len(eff.Lost) != 4 {
				t.Fatalf("lost %v", eff.Lost)
			}
			howContains("lifecycle rule")(t, o, eff)
		}},
		"disable-rds-backups":       {calls: 1, needs: []string{"rds:ModifyDBInstance"}, check: chain(one("db-instance"), howContains("backup retention set to 0"))},
		"schedule-kms-key-deletion": {calls: 1, needs: []string{"kms:ScheduleKeyDeletion"}, check: chain(one("kms-key"), howContains("scheduled for deletion"))},
		"lock-kms-key-policy":       {calls: 1, needs: []string{"kms:PutKeyPolicy"}, check: chain(one("kms-key"), howContains("locks everyone out"))},
		"stop-cloudtrail":           {calls: 1, needs: []string{"cloudtrail:StopLogging"}, check: chain(one("trail"), howContains("logging stopped"))},
		"stop-config-recorder":      {calls: 1, needs: []string{"config:StopConfigurationRecorder"}, check: chain(one("config-recorder"), howContains("recording stopped"))},
		"delete-recycle-bin-rule": {calls: 2, needs: []string{"rbin:DeleteRule", "ec2:DeleteSnapshot"}, setup: func(t *testing.T, o *Org) {
			if _, err := o.AddRecycleBinRule(memberID, RecycleBinRule{ID: "r1", ResourceType: RbinSnapshot, RetentionDays: 7}); err != nil {
				t.Fatal(err)
			}
		}, check: func(t *testing.T, o *Org, eff Effect) {
			one("snapshot")(t, o, eff)
			if len(o.RecycleBinRules(memberID)) != 0 || len(o.InRecycleBin(memberID)) != 0 {
				t.Fatalf("rule kept or snapshot recycled: %v %v", o.RecycleBinRules(memberID), o.InRecycleBin(memberID))
			}
		}},
		"share-snapshots":    {calls: 1, needs: []string{"ec2:ModifySnapshotAttribute"}, check: chain(one("snapshot"), howContains("shared with 999988887777"))},
		"share-amis":         {calls: 1, needs: []string{"ec2:ModifyImageAttribute"}, check: chain(one("ami"), howContains("shared with 999988887777"))},
		"share-db-snapshots": {calls: 1, needs: []string{"rds:ModifyDBSnapshotAttribute"}, check: chain(one("db-snapshot"), howContains("shared with 999988887777"))},

		"detach-killswitch-scps":  {cred: mgmtCred, calls: 1, needs: []string{"organizations:DetachPolicy"}, setup: scpGuard, guard: memberCred},
		"rewrite-killswitch-scps": {cred: mgmtCred, calls: 1, needs: []string{"organizations:UpdatePolicy"}, setup: scpGuard, guard: memberCred},
		"delete-killswitch-scps": {cred: mgmtCred, calls: 2, needs: []string{"organizations:DetachPolicy", "organizations:DeletePolicy"}, setup: scpGuard, guard: memberCred,
			check: func(t *testing.T, o *Org, eff Effect) {
				for id := range o.scps {
					if name, _, _ := o.SCPContent(id); strings.HasPrefix(name, "KillSwitch") {
						t.Fatalf("SCP %s %s still there", id, name)
					}
				}
			}},
		"disable-scp-policy-type": {cred: mgmtCred, calls: 1, needs: []string{"organizations:DisablePolicyType"}, setup: scpGuard, guard: memberCred, check: func(t *testing.T, o *Org, eff Effect) {
			if o.SCPEnabled() || len(o.SCPsFor(memberID)) != 0 || len(o.SCPsFor(o.RootID())) != 0 {
				t.Fatal("SCPs still enabled or attached")
			}
		}},
		"sso-session": ssoSessionCase(),
		"leave-organization": {calls: 1, needs: []string{"organizations:LeaveOrganization"}, setup: scpGuard, guard: memberCred, check: func(t *testing.T, o *Org, eff Effect) {
			if o.InOrganization(memberID) || !o.InOrganization("333333333333") {
				t.Fatal("InOrganization")
			}
			_, err := mustClients(t, o, memberID).Organizations.DescribeOrganization(bg, &organizations.DescribeOrganizationInput{})
			if !isErr[*orgtypes.AWSOrganizationsNotInUseException](err) {
				t.Fatalf("DescribeOrganization from the account that left: %v", err)
			}
			out, err := mustClients(t, o, mgmtID).Organizations.ListAccounts(bg, &organizations.ListAccountsInput{})
			must(t, err)
			for _, a := range out.Accounts {
				if *a.Id == memberID {
					t.Fatal("still listed")
				}
			}
		}},
		"root-credentials": {calls: rootCredentialsCalls, needs: rootCredentialsNeeds, refuse: func(t *testing.T, o *Org) {
			attachSCP(t, o, "DenyNeeds", denyDoc(rootCredentialsNeeds, ""), memberID) // IAM policies never bind root; an SCP does
		}, check: checkRootCredentials},
	}
	// one call per resource for the rest of the data techniques
	for _, tc := range Techniques() {
		if _, ok := cases[tc.ID]; ok || tc.Tactic == "persistence" {
			continue
		}
		for kind, k := range resourceKinds {
			if tc.Run != nil && strings.Contains(tc.Name, "("+k.action+")") {
				cases[tc.ID] = techniqueCase{calls: 1, needs: []string{k.action}, check: chain(one(kind), howContains("deleted by "+k.action))}
			}
		}
	}
	return cases
}

func roleTrust(o *Org, name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.accounts[memberID].roles[strings.ToLower(name)].trust
}

func chain(fs ...func(t *testing.T, o *Org, eff Effect)) func(t *testing.T, o *Org, eff Effect) {
	return func(t *testing.T, o *Org, eff Effect) {
		t.Helper()
		for _, f := range fs {
			f(t, o, eff)
		}
	}
}

func mustTechnique(t *testing.T, id string) Technique {
	t.Helper()
	tc, ok := LookupTechnique(id)
	if !ok {
		t.Fatalf("no technique %s", id)
	}
	return tc
}

func totalCalls(o *Org) int {
	n := 0
	for _, c := range o.Calls() {
		n += c
	}
	return n
}

func TestTechniqueCatalogue(t *testing.T) {
	all := Techniques()
	cases := techniqueCases()
	reID := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	reMITRE := regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	tactics := map[string]bool{"persistence": true, "defense-evasion": true, "privilege-escalation": true, "impact": true, "exfiltration": true}
	for i, tc := range all {
		if i > 0 && all[i-1].ID >= tc.ID {
			t.Errorf("not sorted: %s before %s", all[i-1].ID, tc.ID)
		}
		if !reID.MatchString(tc.ID) || tc.Name == "" || !tactics[tc.Tactic] || !reMITRE.MatchString(tc.MITRE) || tc.Run == nil ||
			(tc.Stratus != "" && !strings.HasPrefix(tc.Stratus, "aws.")) || (tc.Needs != "" && tc.Needs != "management" && tc.Needs != "member") {
			t.Errorf("bad technique %+v", tc)
		}
		if got, ok := LookupTechnique(tc.ID); !ok || got.ID != tc.ID {
			t.Errorf("LookupTechnique(%s)", tc.ID)
		}
		if _, ok := cases[tc.ID]; !ok {
			t.Errorf("technique %s has no test case", tc.ID)
		}
	}
	for id := range cases {
		if _, ok := LookupTechnique(id); !ok {
			t.Errorf("test case for unknown technique %s", id)
		}
	}
	if _, ok := LookupTechnique("no-such"); ok {
		t.Error("LookupTechnique(no-such)")
	}
}

// TestTechniquesWork runs every technique on an unprotected organization:
// it has its effect, through the expected number of Act calls, paced.
func TestTechniquesWork(t *testing.T) {
	for id, c := range techniqueCases() {
		t.Run(id, func(t *testing.T) {
			tc := mustTechnique(t, id)
			o := catalogueOrg(t)
			if c.setup != nil {
				c.setup(t, o)
			}
			cred := memberCred()
			if c.cred != nil {
				cred = c.cred()
			}
			if c.guard != nil {
				if err := o.Authorize(c.guard(), marker, "*"); !isErr[*Denied](err) {
					t.Fatalf("the guardrail does not apply before: %v", err)
				}
			}
			o.ResetCalls()
			paced := 0
			eff, err := tc.Run(bg, Attempt{Org: o, Cred: cred, Pace: func(context.Context) error { paced++; return nil }})
			if err != nil {
				t.Fatalf("%v (effect %+v)", err, eff)
			}
			if n := totalCalls(o); n != c.calls || paced != c.calls-1 {
				t.Fatalf("%d calls (%v), %d paced; want %d", n, o.Calls(), paced, c.calls)
			}
			if len(eff.What) == 0 {
				t.Error("no What")
			}
			if len(eff.Lost) == 0 && len(eff.Creds) == 0 && c.guard == nil && c.check == nil {
				t.Fatal("the case checks no effect")
			}
			states := map[Resource]ResourceState{}
			for _, st := range o.ResourceStates(cred.Account) {
				states[Resource{st.Kind, st.ID}] = st
			}
			for _, r := range eff.Lost {
				if st := states[r]; !st.Lost || st.How == "" {
					t.Errorf("%v reported lost, state %+v", r, st)
				}
			}
			for _, r := range o.Resources(cred.Account) {
				if states[r].Lost {
					t.Errorf("Resources lists lost %v", r)
				}
			}
			for _, nc := range eff.Creds {
				if err := o.Authorize(nc, "iam:CreateUser", "*"); err != nil {
					t.Errorf("new credential %+v refused: %v", nc, err)
				}
			}
			if c.guard != nil {
				if err := o.Authorize(c.guard(), marker, "*"); err != nil {
					t.Errorf("the guardrail still applies: %v", err)
				}
			}
			if c.check != nil {
				c.check(t, o, eff)
			}
		})
	}
}

// orgState is everything a technique could change.
func orgState(o *Org, acct string) string {
	o.mu.Lock()
	var scps []string
	for _, id := range sortedMapKeys(o.scps) {
		scps = append(scps, id+"="+o.scps[id].content)
	}
	att := fmt.Sprint(o.attached)
	o.mu.Unlock()
	return fmt.Sprintf("%+v\n%+v\n%v\n%s\n%v %v", o.Snapshot(acct), o.ResourceStates(acct), scps, att, o.SCPEnabled(), o.InOrganization(acct))
}

// TestTechniquesRefused runs every technique with an explicit deny of
// exactly the actions it needs, inline on the caller and (outside the
// management account) as an SCP: it is refused and changes nothing.
func TestTechniquesRefused(t *testing.T) {
	for id, c := range techniqueCases() {
		tc := mustTechnique(t, id)
		for _, mode := range []string{"inline", "scp"} {
			if mode == "scp" && (tc.Needs == "management" || c.refuse != nil) {
				continue
			}
			t.Run(id+"/"+mode, func(t *testing.T) {
				o := catalogueOrg(t)
				if c.setup != nil {
					c.setup(t, o)
				}
				cred := memberCred()
				if c.cred != nil {
					cred = c.cred()
				}
				switch {
				case c.refuse != nil:
					c.refuse(t, o)
				case mode == "inline":
					putInlineT(t, o, cred.Account, "user", "intruder", "DenyNeeds", denyDoc(c.needs, ""))
				default:
					attachSCP(t, o, "DenyNeeds", denyDoc(c.needs, ""), cred.Account)
				}
				before := orgState(o, cred.Account)
				o.ResetCalls()
				eff, err := tc.Run(bg, Attempt{Org: o, Cred: cred})
				var d *Denied
				if !errors.As(err, &d) {
					t.Fatalf("not refused: %v (effect %+v)", err, eff)
				}
				if totalCalls(o) == 0 {
					t.Error("no call made")
				}
				if len(eff.Lost) != 0 || len(eff.Creds) != 0 || len(eff.What) != 0 {
					t.Errorf("effect %+v", eff)
				}
				if after := orgState(o, cred.Account); after != before {
					t.Errorf("state changed:\n%s\n---\n%s", before, after)
				}
			})
		}
	}
}

func TestTechniqueNothingToDo(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "intruder", AccessKeys: []AccessKey{{ID: "AKIAINTRUDER00000001", Active: true}}}))
	cred := Credential{Account: soloID, Principal: uarn(soloID, "intruder"), AccessKeyID: "AKIAINTRUDER00000001"}
	for _, id := range []string{"delete-snapshots", "share-amis", "s3-expire-all", "delete-s3-buckets", "detach-guardrail", "rewrite-guardrail",
		"delete-revocation-policy", "leave-guardrail-group", "backdoor-break-glass-role", "delete-user", "reactivate-access-key", "assume-role"} {
		o.ResetCalls()
		if _, err := mustTechnique(t, id).Run(bg, Attempt{Org: o, Cred: cred}); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", id, err)
		}
		if n := totalCalls(o); n != 0 {
			t.Errorf("%s: %d calls", id, n)
		}
	}
	for _, id := range []string{"detach-killswitch-scps", "disable-scp-policy-type", "leave-organization"} {
		if _, err := mustTechnique(t, id).Run(bg, Attempt{Org: o, Cred: cred}); !isErr[*orgtypes.AWSOrganizationsNotInUseException](err) {
			t.Errorf("%s standalone: %v", id, err)
		}
	}
}

func TestCreatePolicyVersionLimit(t *testing.T) {
	o := catalogueOrg(t)
	arn := guardrailPolicy(t, o, "user", "intruder")
	o.mu.Lock()
	p := o.accounts[memberID].lookupPolicy(arn)
	for i := 0; i < 4; i++ {
		_, err := o.createPolicyVersionLocked(p, denyDoc([]string{marker}, ""), false)
		must(t, err)
	}
	_, err := o.createPolicyVersionLocked(p, allowAllDoc, true)
	must(t, deletePolicyVersionLocked(p, "v3"))
	o.mu.Unlock()
	if !isErr[*iamtypes.LimitExceededException](err) {
		t.Fatalf("sixth version: %v", err)
	}
	// five versions: the technique deletes a non-default one first
	o.mu.Lock()
	_, err = o.createPolicyVersionLocked(p, denyDoc([]string{marker}, ""), false)
	o.mu.Unlock()
	must(t, err)
	o.ResetCalls()
	if _, err := mustTechnique(t, "rewrite-guardrail").Run(bg, Attempt{Org: o, Cred: memberCred()}); err != nil {
		t.Fatal(err)
	}
	ids, def, _ := o.PolicyVersions(memberID, arn)
	if !reflect.DeepEqual(ids, []string{"v1", "v4", "v5", "v6", "v7"}) || def != "v7" || o.Calls()["iam.DeletePolicyVersion"] != 1 {
		t.Fatalf("versions %v default %s calls %v", ids, def, o.Calls())
	}
	if err := o.Authorize(memberCred(), marker, "*"); err != nil {
		t.Fatal(err)
	}
}
