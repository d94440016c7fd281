package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	aliceKey    = "AKIAALICEACTIVE00001"
	aliceOldKey = "AKIAALICEINACTIVE001"
	bobKey      = "AKIABOBACTIVE0000001"
	devAcct     = "333333333333"
)

func uarn(acct, name string) string { return "arn:aws:iam::" + acct + ":user/" + name }
func rarn(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }

// authEnv is the fixture of the Authorize tests: testOrg plus principals in
// the member account 222222222222 (OU Prod/Web), the dev account 333333333333
// (root) and the management account.
type authEnv struct {
	t     *testing.T
	o     *Org
	clock *fixedClock
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	o := testOrg(t)
	clock := &fixedClock{t: t0}
	o.SetClock(clock.now)
	for _, acct := range []string{mgmtID, memberID, devAcct} {
		must(t, o.AddGroup(acct, Group{Name: "Devs"}))
		must(t, o.AddUser(acct, User{Name: "alice", Password: true, Tags: map[string]string{"team": "web"}, Groups: []string{"Devs"},
			AccessKeys: []AccessKey{{ID: key(acct, aliceKey), Active: true}, {ID: key(acct, aliceOldKey), Active: false}}}))
		must(t, o.AddUser(acct, User{Name: "bob", AccessKeys: []AccessKey{{ID: key(acct, bobKey), Active: true}}}))
		must(t, o.AddUser(acct, User{Name: "glass", Password: true, Tags: map[string]string{BreakGlassTag: "true"}}))
		must(t, o.AddRole(acct, Role{Name: "BreakGlassAdmin"}))
		must(t, o.AddRole(acct, Role{Name: "app", Tags: map[string]string{"team": "web"}}))
		must(t, o.AddRole(acct, Role{Name: "AWSServiceRoleForSupport"}))
	}
	return &authEnv{t: t, o: o, clock: clock}
}

// key returns the id of a fixture key in an account (ids are unique per Org).
func key(acct, base string) string {
	if acct == memberID {
		return base[:19] + "X"
	}
	return base[:19] + acct[:1]
}

func (e *authEnv) keyCred(acct, user, base string) Credential {
	return Credential{Account: acct, Principal: uarn(acct, user), AccessKeyID: key(acct, base)}
}

func (e *authEnv) putUserPolicy(acct, user, d string) {
	e.t.Helper()
	_, err := mustClients(e.t, e.o, acct).IAM.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("p-" + user), PolicyDocument: aws.String(d)})
	must(e.t, err)
}

func (e *authEnv) putRolePolicy(acct, role, d string) {
	e.t.Helper()
	_, err := mustClients(e.t, e.o, acct).IAM.PutRolePolicy(bg, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("p-" + role), PolicyDocument: aws.String(d)})
	must(e.t, err)
}

func (e *authEnv) managed(acct, d string) string {
	e.t.Helper()
	out, err := mustClients(e.t, e.o, acct).IAM.CreatePolicy(bg, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprintf("m%d", len(e.o.Snapshot(acct).Policies))), PolicyDocument: aws.String(d)})
	must(e.t, err)
	return *out.Policy.Arn
}

// scp creates an SCP and attaches it to target ("ou:Prod" names an OU path).
func (e *authEnv) scp(target, name, d string) string {
	e.t.Helper()
	if p, ok := strings.CutPrefix(target, "ou:"); ok {
		target, _ = e.o.OUID(p)
	}
	if target == "root" {
		target = e.o.RootID()
	}
	c := mustClients(e.t, e.o, mgmtID).Organizations
	out, err := c.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String(name), Description: aws.String(""), Content: aws.String(d), Type: scpType})
	must(e.t, err)
	_, err = c.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: out.Policy.PolicySummary.Id, TargetId: aws.String(target)})
	must(e.t, err)
	return *out.Policy.PolicySummary.Id
}

type authCheck struct {
	cred   Credential
	action string
	res    string
	deny   string // "" = allowed; else a substring of the Denied reason
}

func TestAuthorize(t *testing.T) {
	const snap = "arn:aws:ec2:us-east-1::snapshot/snap-1"
	session := func(acct, principal string, issued time.Time) Credential {
		return Credential{Account: acct, Principal: principal, SessionIssued: issued}
	}
	alice := func(e *authEnv) Credential { return e.keyCred(memberID, "alice", aliceKey) }
	bob := func(e *authEnv) Credential { return e.keyCred(memberID, "bob", bobKey) }
	app := session(memberID, rarn(memberID, "app"), t0.Add(-time.Hour))
	breakGlass := session(memberID, rarn(memberID, "BreakGlassAdmin"), t0.Add(-time.Hour))
	slr := session(memberID, "arn:aws:iam::222222222222:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport", t0.Add(-time.Hour))
	glass := Credential{Account: memberID, Principal: uarn(memberID, "glass"), Console: true}
	cond := func(c string) string { return doc("Deny", "*", "*", c) }

	cases := []struct {
		name   string
		setup  func(e *authEnv)
		checks func(e *authEnv) []authCheck
	}{
		{"credentials", nil, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, ""},
				{e.keyCred(memberID, "alice", aliceOldKey), "ec2:DeleteSnapshot", snap, "is Inactive"},
				{Credential{Account: memberID, Principal: uarn(memberID, "alice"), AccessKeyID: key(memberID, bobKey)}, "s3:ListBucket", "*", "does not exist for user alice"},
				{Credential{Account: memberID, Principal: uarn(memberID, "alice"), Console: true}, "s3:ListBucket", "*", ""},
				{Credential{Account: memberID, Principal: uarn(memberID, "bob"), Console: true}, "s3:ListBucket", "*", "no login profile"},
				{Credential{Account: memberID, Principal: uarn(memberID, "bob"), Console: true, SessionIssued: t0.Add(-time.Hour)}, "s3:ListBucket", "*", ""},
				{Credential{Account: memberID, Principal: uarn(memberID, "alice")}, "s3:ListBucket", "*", "no credential"},
				{Credential{Account: memberID, Principal: uarn(memberID, "mallory"), Console: true}, "s3:ListBucket", "*", "user mallory does not exist"},
				{app, "ec2:DeleteSnapshot", snap, ""},
				{session(memberID, "arn:aws:sts::222222222222:assumed-role/app/i-0123", t0), "ec2:DeleteSnapshot", snap, ""},
				{Credential{Account: memberID, Principal: rarn(memberID, "app"), AccessKeyID: key(memberID, aliceKey)}, "s3:ListBucket", "*", "needs SessionIssued"},
				{session(memberID, rarn(memberID, "ghost"), t0), "s3:ListBucket", "*", "role ghost does not exist"},
				{session(memberID, rarn(devAcct, "app"), t0), "s3:ListBucket", "*", "not in account"},
				{session(memberID, "not-an-arn", t0), "s3:ListBucket", "*", "not an ARN"},
				{session("999999999999", rarn("999999999999", "app"), t0), "s3:ListBucket", "*", "not in the simulated organization"},
				{Credential{Account: memberID, Principal: "arn:aws:iam::222222222222:root", Console: true}, "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"user inline deny", func(e *authEnv) {
			e.putUserPolicy(memberID, "alice", doc("Deny", "ec2:DeleteSnapshot", "*", ""))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, "explicit deny in inline policy p-alice of user alice"},
				{alice(e), "ec2:DeleteVolume", "*", ""},
				{bob(e), "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"user managed deny", func(e *authEnv) {
			must(e.t, e.o.attach(memberID, "alice", "arn:aws:iam::aws:policy/AWSDenyAll"))
		}, func(e *authEnv) []authCheck {
			return []authCheck{{alice(e), "s3:GetObject", "*", "managed policy arn:aws:iam::aws:policy/AWSDenyAll attached to user alice (statement DenyAll)"}}
		}},
		{"group inline and managed deny", func(e *authEnv) {
			arn := e.managed(memberID, doc("Deny", "s3:DeleteBucket", "*", ""))
			must(e.t, e.o.AddGroup(memberID, Group{Name: "NoEC2", InlinePolicies: map[string]string{"no-ec2": doc("Deny", "ec2:*", "*", "")}, ManagedPolicies: []string{arn}}))
			must(e.t, e.o.AddUser(memberID, User{Name: "carol", Password: true, Groups: []string{"NoEC2", "Devs"}}))
		}, func(e *authEnv) []authCheck {
			carol := Credential{Account: memberID, Principal: uarn(memberID, "carol"), Console: true}
			return []authCheck{
				{carol, "ec2:DeleteSnapshot", snap, "inline policy no-ec2 of group NoEC2"},
				{carol, "s3:DeleteBucket", "arn:aws:s3:::b", "attached to group NoEC2"},
				{carol, "rds:DeleteDBSnapshot", "*", ""},
				{alice(e), "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"role inline and managed deny", func(e *authEnv) {
			e.putRolePolicy(memberID, "app", doc("Deny", "ec2:DeleteSnapshot", "*", ""))
			_, err := mustClients(e.t, e.o, memberID).IAM.AttachRolePolicy(bg, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: aws.String(e.managed(memberID, doc("Deny", "s3:*", "*", "")))})
			must(e.t, err)
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{app, "ec2:DeleteSnapshot", snap, "inline policy p-app of role app"},
				{app, "s3:DeleteBucket", "*", "attached to role app"},
				{app, "ec2:DeleteVolume", "*", ""},
				{breakGlass, "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"SCP on the account", func(e *authEnv) {
			e.scp(memberID, "KillSwitchDenyDelete", doc("Deny", "ec2:DeleteSnapshot", "*", ""))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, "(KillSwitchDenyDelete) attached to account 222222222222"},
				{app, "ec2:DeleteSnapshot", snap, "explicit deny in SCP p-"},
				{Credential{Account: memberID, Principal: "arn:aws:iam::222222222222:root", Console: true}, "ec2:DeleteSnapshot", snap, "KillSwitchDenyDelete"},
				{slr, "ec2:DeleteSnapshot", snap, ""}, // SCPs do not restrict service-linked roles
				{e.keyCred(devAcct, "alice", aliceKey), "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"SCP on an OU", func(e *authEnv) {
			e.scp("ou:Prod", "DenyDelete", doc("Deny", "ec2:DeleteSnapshot", "*", ""))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, "attached to OU ou-"},
				{e.keyCred(devAcct, "alice", aliceKey), "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"SCP on the root spares the management account", func(e *authEnv) {
			e.scp("root", "DenyAll", doc("Deny", "*", "*", ""))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, "attached to root r-"},
				{e.keyCred(devAcct, "bob", bobKey), "s3:ListBucket", "*", "DenyAll"},
				{e.keyCred(mgmtID, "alice", aliceKey), "ec2:DeleteSnapshot", snap, ""},
				{session(mgmtID, rarn(mgmtID, "app"), t0), "organizations:DetachPolicy", "*", ""},
			}
		}},
		{"SCP exempting break-glass by ARN", func(e *authEnv) {
			e.scp("root", "DenyDelete", denyDeleteSCP())
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{breakGlass, "ec2:DeleteSnapshot", snap, ""},
				{session(memberID, "arn:aws:sts::222222222222:assumed-role/BreakGlassAdmin/alice", t0), "s3:DeleteBucket", "arn:aws:s3:::b", ""},
				{app, "ec2:DeleteSnapshot", snap, "(statement DenyDelete)"},
				{alice(e), "s3:DeleteBucket", "arn:aws:s3:::b", "DenyDelete"},
				{alice(e), "ec2:DeleteVolume", "*", ""},
			}
		}},
		{"SCP allow-list leaves an implicit deny", func(e *authEnv) {
			web, _ := e.o.OUID("Prod/Web")
			e.scp(web, "S3Only", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","iam:*"]}}`)
			_, err := mustClients(e.t, e.o, mgmtID).Organizations.DetachPolicy(bg, &organizations.DetachPolicyInput{PolicyId: aws.String(FullAWSAccessID), TargetId: aws.String(web)})
			must(e.t, err)
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, "no SCP attached to OU"},
				{alice(e), "s3:DeleteBucket", "*", ""},
				{slr, "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"revoke sessions by aws:TokenIssueTime", func(e *authEnv) {
			revoke := cond(`{"DateLessThan":{"aws:TokenIssueTime":"` + t0.Format(time.RFC3339) + `"}}`)
			e.putUserPolicy(memberID, "alice", revoke)
			e.putRolePolicy(memberID, "app", revoke)
		}, func(e *authEnv) []authCheck {
			aliceSession := func(at time.Time, console bool) Credential {
				return Credential{Account: memberID, Principal: uarn(memberID, "alice"), Console: console, SessionIssued: at}
			}
			return []authCheck{
				{aliceSession(t0.Add(-time.Minute), true), "ec2:DeleteSnapshot", snap, "inline policy p-alice"},
				{aliceSession(t0.Add(-time.Minute), false), "ec2:DeleteSnapshot", snap, "inline policy p-alice"},
				{aliceSession(t0.Add(time.Minute), true), "ec2:DeleteSnapshot", snap, ""},
				{alice(e), "ec2:DeleteSnapshot", snap, ""}, // a long-term key has no aws:TokenIssueTime
				{Credential{Account: memberID, Principal: uarn(memberID, "alice"), Console: true}, "ec2:DeleteSnapshot", snap, ""},
				{app, "ec2:DeleteSnapshot", snap, "role app"},
				{session(memberID, rarn(memberID, "app"), t0.Add(time.Second)), "ec2:DeleteSnapshot", snap, ""},
			}
		}},
		{"DateGreaterThan and IfExists on aws:TokenIssueTime", func(e *authEnv) {
			e.putUserPolicy(memberID, "alice", cond(`{"DateGreaterThanIfExists":{"aws:TokenIssueTime":"2026-03-01"}}`))
			e.putUserPolicy(memberID, "bob", cond(`{"DateGreaterThan":{"aws:TokenIssueTime":"2026-03-01"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "s3:GetObject", "*", "p-alice"}, // key absent: IfExists matches
				{bob(e), "s3:GetObject", "*", ""},          // key absent: no match
				{Credential{Account: memberID, Principal: uarn(memberID, "bob"), SessionIssued: t0}, "s3:GetObject", "*", "p-bob"},
				{Credential{Account: memberID, Principal: uarn(memberID, "bob"), SessionIssued: t0.AddDate(0, -1, 0)}, "s3:GetObject", "*", ""},
			}
		}},
		{"Null on aws:PrincipalTag", func(e *authEnv) {
			e.scp(memberID, "TagGuard", cond(`{"Null":{"aws:PrincipalTag/killswitch:break-glass":"true"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{glass, "ec2:DeleteSnapshot", snap, ""},
				{alice(e), "ec2:DeleteSnapshot", snap, "TagGuard"},
				{app, "ec2:DeleteSnapshot", snap, "TagGuard"},
			}
		}},
		{"Null false", func(e *authEnv) {
			e.scp(memberID, "TeamGuard", cond(`{"Null":{"aws:PrincipalTag/TEAM":"false"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "s3:GetObject", "*", "TeamGuard"}, // tag keys are case-insensitive
				{app, "s3:GetObject", "*", "TeamGuard"},
				{bob(e), "s3:GetObject", "*", ""},
			}
		}},
		{"string operators on aws:PrincipalArn", func(e *authEnv) {
			e.scp(memberID, "Like", cond(`{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/ali*"}}`))
			e.scp(devAcct, "NotLike", cond(`{"StringNotLike":{"aws:PrincipalArn":["arn:aws:iam::*:role/BreakGlass*","arn:aws:iam::*:user/b?b"]}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "s3:GetObject", "*", "Like"},
				{bob(e), "s3:GetObject", "*", ""},
				{e.keyCred(devAcct, "alice", aliceKey), "s3:GetObject", "*", "NotLike"},
				{e.keyCred(devAcct, "bob", bobKey), "s3:GetObject", "*", ""},
				{session(devAcct, rarn(devAcct, "BreakGlassAdmin"), t0), "s3:GetObject", "*", ""},
				{session(devAcct, rarn(devAcct, "app"), t0), "s3:GetObject", "*", "NotLike"},
			}
		}},
		{"StringEquals and StringNotEquals", func(e *authEnv) {
			e.scp(memberID, "Eq", cond(`{"StringEquals":{"aws:PrincipalArn":["arn:aws:iam::222222222222:user/bob","arn:aws:iam::222222222222:role/app"]}}`))
			e.scp(devAcct, "NotEq", cond(`{"StringNotEquals":{"aws:PrincipalTag/team":"web"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{bob(e), "s3:GetObject", "*", "Eq"},
				{app, "s3:GetObject", "*", "Eq"},
				{alice(e), "s3:GetObject", "*", ""},
				{e.keyCred(devAcct, "alice", aliceKey), "s3:GetObject", "*", ""},
				{e.keyCred(devAcct, "bob", bobKey), "s3:GetObject", "*", "NotEq"}, // absent key: negated operator matches
			}
		}},
		{"ArnLike and ArnNotLike", func(e *authEnv) {
			e.scp(memberID, "ArnLike", cond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`))
			e.scp(devAcct, "ArnNotLike", cond(`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::333333333333:user/*"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{app, "s3:GetObject", "*", "ArnLike"},
				{alice(e), "s3:GetObject", "*", ""},
				{e.keyCred(devAcct, "alice", aliceKey), "s3:GetObject", "*", ""},
				{session(devAcct, rarn(devAcct, "app"), t0), "s3:GetObject", "*", "ArnNotLike"},
			}
		}},
		{"keys are ANDed, values ORed", func(e *authEnv) {
			e.scp(memberID, "And", cond(`{"StringEquals":{"aws:PrincipalTag/team":["web","data"]},"StringLike":{"aws:PrincipalArn":"*:role/*"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{app, "s3:GetObject", "*", "And"},
				{alice(e), "s3:GetObject", "*", ""},
				{breakGlass, "s3:GetObject", "*", ""},
			}
		}},
		{"IfExists", func(e *authEnv) {
			e.scp(memberID, "IfExists", cond(`{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"web"}}`))
			e.scp(devAcct, "Plain", cond(`{"StringEquals":{"aws:PrincipalTag/team":"web"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "s3:GetObject", "*", ""},
				{bob(e), "s3:GetObject", "*", "IfExists"},
				{e.keyCred(devAcct, "bob", bobKey), "s3:GetObject", "*", ""},
				{e.keyCred(devAcct, "alice", aliceKey), "s3:GetObject", "*", "Plain"},
			}
		}},
		{"unknown operators and unparsable values fail closed", func(e *authEnv) {
			e.putUserPolicy(memberID, "alice", cond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`))
			e.putUserPolicy(memberID, "bob", cond(`{"DateLessThan":{"aws:CurrentTime":"yesterday"}}`))
			e.putRolePolicy(memberID, "app", cond(`{"ForSomeValues:StringEquals":{"aws:PrincipalTag/team":"web"}}`))
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "s3:GetObject", "*", "p-alice"},
				{bob(e), "s3:GetObject", "*", "p-bob"},
				{app, "s3:GetObject", "*", "p-app"},
			}
		}},
		{"NotAction, NotResource and wildcards", func(e *authEnv) {
			e.putUserPolicy(memberID, "alice", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["iam:*","sts:GetCallerIdentity"],"Resource":"*"}}`)
			e.putUserPolicy(memberID, "bob", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"EC2:Delete?napshot","NotResource":"arn:aws:ec2:*::snapshot/snap-keep*"},{"Effect":"Deny","Action":"s3:delete*","Resource":"arn:aws:s3:::prod-*"}]}`)
		}, func(e *authEnv) []authCheck {
			return []authCheck{
				{alice(e), "ec2:DeleteSnapshot", snap, "p-alice"},
				{alice(e), "IAM:CreateUser", "*", ""},
				{alice(e), "sts:GetCallerIdentity", "*", ""},
				{bob(e), "ec2:DeleteSnapshot", snap, "p-bob"},
				{bob(e), "ec2:deletesnapshot", "arn:aws:ec2:us-east-1::snapshot/snap-keep-1", ""},
				{bob(e), "ec2:DeleteSnapshots", snap, ""},
				{bob(e), "s3:DeleteBucket", "arn:aws:s3:::prod-data", "p-bob"},
				{bob(e), "s3:DeleteBucket", "arn:aws:s3:::dev-data", ""},
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newAuthEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			for i, ch := range tc.checks(e) {
				err := e.o.Authorize(ch.cred, ch.action, ch.res)
				var d *Denied
				switch {
				case ch.deny == "" && err != nil:
					t.Errorf("check %d (%s %s by %s): unexpected %v", i, ch.action, ch.res, ch.cred.Principal, err)
				case ch.deny != "" && !errors.As(err, &d):
					t.Errorf("check %d (%s by %s): want denied %q, got %v", i, ch.action, ch.cred.Principal, ch.deny, err)
				case ch.deny != "" && !strings.Contains(d.Reason, ch.deny):
					t.Errorf("check %d (%s by %s): reason %q does not contain %q", i, ch.action, ch.cred.Principal, d.Reason, ch.deny)
				}
			}
		})
	}
}

func TestDeniedNamesThePolicy(t *testing.T) {
	e := newAuthEnv(t)
	id := e.scp(memberID, "KillSwitchDenyDelete", doc("Deny", "ec2:DeleteSnapshot", "*", ""))
	err := e.o.Authorize(e.keyCred(memberID, "alice", aliceKey), "ec2:DeleteSnapshot", "*")
	var d *Denied
	if !errors.As(err, &d) || d.Policy != id || !strings.HasPrefix(d.Reason, "explicit deny in SCP "+id+" (KillSwitchDenyDelete)") {
		t.Fatalf("%#v", err)
	}
	err = e.o.Authorize(e.keyCred(memberID, "alice", aliceOldKey), "s3:GetObject", "*")
	if !errors.As(err, &d) || d.Policy != "" || d.Reason != "access key "+key(memberID, aliceOldKey)+" is Inactive" {
		t.Fatalf("%#v", err)
	}
}

func TestDestroy(t *testing.T) {
	o := NewStandalone(soloID)
	must(t, o.AddUser(soloID, User{Name: "intruder", AccessKeys: []AccessKey{{ID: "AKIAINTRUDER00000001", Active: true}}}))
	cred := Credential{Account: soloID, Principal: uarn(soloID, "intruder"), AccessKeyID: "AKIAINTRUDER00000001"}
	kinds := ResourceKinds()
	for _, k := range []string{"ami", "backup", "bucket", "db-snapshot", "log-group", "snapshot", "table", "trail", "volume"} {
		if !slices.Contains(kinds, k) {
			t.Fatalf("kinds %v: no %s", kinds, k)
		}
	}
	for _, kind := range kinds {
		must(t, o.AddResource(soloID, kind, "keep-"+kind))
		must(t, o.AddResource(soloID, kind, "lose-"+kind))
	}
	if err := o.AddResource(soloID, "snapshot", "keep-snapshot"); err == nil {
		t.Fatal("duplicate resource accepted")
	}
	if err := o.AddResource(soloID, "no-such-kind", "k"); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("unknown kind: %v", err)
	}
	// one deny per kind, on exactly its action and the keep- resource's ARN
	var stmts []string
	for _, kind := range kinds {
		action, _ := DestroyAction(kind)
		arn, _ := ResourceARN(soloID, kind, "keep-"+kind)
		stmts = append(stmts, fmt.Sprintf(`{"Effect":"Deny","Action":%q,"Resource":%q}`, action, arn))
	}
	must(t, o.addAttachedPolicy(soloID, "Guard", `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`, "intruder"))
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			var d *Denied
			if err := o.Destroy(cred, kind, "keep-"+kind); !errors.As(err, &d) {
				t.Fatalf("keep-%s: %v", kind, err)
			}
			must(t, o.Destroy(cred, kind, "lose-"+kind))
			if err := o.Destroy(cred, kind, "lose-"+kind); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second destroy: %v", err)
			}
		})
	}
	res := o.Resources(soloID)
	if len(res) != len(kinds) {
		t.Fatalf("left %v", res)
	}
	for _, st := range o.ResourceStates(soloID) {
		action, _ := DestroyAction(st.Kind)
		if lose := strings.HasPrefix(st.ID, "lose-"); st.Lost != lose || (lose && st.How != "deleted by "+action) || (!lose && st.How != "") {
			t.Errorf("state %+v", st)
		}
	}
	for _, r := range res {
		if !strings.HasPrefix(r.ID, "keep-") {
			t.Fatalf("left %v", res)
		}
	}
	if want := map[string]string{"snapshot": "ec2:DeleteSnapshot", "ami": "ec2:DeregisterImage", "volume": "ec2:DeleteVolume", "bucket": "s3:DeleteBucket",
		"backup": "backup:DeleteRecoveryPoint", "db-snapshot": "rds:DeleteDBSnapshot", "table": "dynamodb:DeleteTable", "log-group": "logs:DeleteLogGroup",
		"trail": "cloudtrail:DeleteTrail"}; true {
		for k, a := range want {
			if got, _ := DestroyAction(k); got != a {
				t.Errorf("%s: %s, want %s", k, got, a)
			}
		}
	}
}

// addAttachedPolicy adds a customer policy and attaches it to a user (test helper).
func (o *Org) addAttachedPolicy(acct, name, document, userName string) error {
	arn, err := o.AddPolicy(acct, Policy{Name: name, Document: document})
	if err != nil {
		return err
	}
	return o.attach(acct, userName, arn)
}

func TestAttackerHelpers(t *testing.T) {
	o, err := Builtin("codespaces")
	must(t, err)
	clock := &fixedClock{t: t0}
	o.SetClock(clock.now)
	ids := o.AccessKeyIDs(soloID, "ops-admin")
	admin := Credential{Account: soloID, Principal: uarn(soloID, "ops-admin"), AccessKeyID: ids[0]}

	k, err := o.AttackerCreateUser(admin, "svc-backup2")
	must(t, err)
	if !k.Active || !k.Created.Equal(t0) {
		t.Fatalf("backdoor key %+v", k)
	}
	backdoor := Credential{Account: soloID, Principal: uarn(soloID, "svc-backup2"), AccessKeyID: k.ID}
	must(t, o.Authorize(backdoor, "ec2:DeleteSnapshot", "*"))
	must(t, o.Authorize(Credential{Account: soloID, Principal: backdoor.Principal, Console: true}, "s3:ListBucket", "*"))
	if _, err := o.AttackerCreateUser(admin, "svc-backup2"); err == nil {
		t.Fatal("duplicate backdoor user accepted")
	}
	k2, err := o.AttackerCreateAccessKey(admin, "svc-backup2")
	must(t, err)
	if _, err := o.AttackerCreateAccessKey(admin, "svc-backup2"); !isErr[*iamtypes.LimitExceededException](err) {
		t.Fatalf("third key: %v", err)
	}
	if err := o.AttackerCreateLoginProfile(admin, "svc-backup2"); !isErr[*iamtypes.EntityAlreadyExistsException](err) {
		t.Fatalf("second login profile: %v", err)
	}
	must(t, o.AttackerCreateLoginProfile(admin, "deploy"))
	must(t, o.AttackerSetAccessKeyStatus(admin, "svc-backup2", k2.ID, false))
	if err := o.Authorize(Credential{Account: soloID, Principal: backdoor.Principal, AccessKeyID: k2.ID}, "s3:ListBucket", "*"); err == nil {
		t.Fatal("deactivated key still works")
	}
	must(t, o.AttackerCreateRole(admin, Role{Name: "OutsideAudit", Trust: accountTrust("999988887777"), ManagedPolicies: []string{adminARN}}))
	if err := o.AttackerCreateRole(admin, Role{Name: "AWSServiceRoleForFake"}); err == nil {
		t.Fatal("reserved role name accepted")
	}
	st := o.Snapshot(soloID)
	var found bool
	for _, u := range st.Users {
		if u.Name == "svc-backup2" {
			found = u.LoginProfile && len(u.AccessKeys) == 2 && u.Created.Equal(t0)
		}
	}
	if !found {
		t.Fatal("backdoor user not in the snapshot")
	}

	// a deny on the intruder stops every helper
	must(t, o.attach(soloID, "ops-admin", "arn:aws:iam::aws:policy/AWSDenyAll"))
	var d *Denied
	if _, err := o.AttackerCreateUser(admin, "another"); !errors.As(err, &d) {
		t.Fatalf("denied intruder created a user: %v", err)
	}
	if _, err := o.AttackerCreateAccessKey(admin, "deploy"); !errors.As(err, &d) {
		t.Fatal(err)
	}
	if err := o.AttackerDeleteUserPolicy(admin, "deploy", "deploy-artifacts"); !errors.As(err, &d) {
		t.Fatal(err)
	}
	// the backdoor removes a revocation policy placed on it
	c := mustClients(t, o, soloID).IAM
	_, err = c.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String("deploy"), PolicyName: aws.String("revoke"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
	must(t, err)
	must(t, o.AttackerDeleteUserPolicy(backdoor, "deploy", "revoke"))
	if err := o.AttackerDeleteUserPolicy(backdoor, "deploy", "revoke"); !isErr[*iamtypes.NoSuchEntityException](err) {
		t.Fatal(err)
	}
}

func TestBotIsAuthorizedLikeAnyPrincipal(t *testing.T) {
	o := testOrg(t)
	clock := &fixedClock{t: t0}
	o.SetClock(clock.now)
	p := o.Provider("KillSwitchResponder")
	member, err := p.Clients(bg, memberID)
	must(t, err)
	mgmt, err := p.Clients(bg, mgmtID)
	must(t, err)
	clock.advance(time.Minute)
	// the bot revokes sessions issued before now... on its own role
	revoke := doc("Deny", "*", "*", `{"DateLessThan":{"aws:TokenIssueTime":"`+clock.t.Format(time.RFC3339)+`"}}`)
	_, err = member.IAM.PutRolePolicy(bg, &iam.PutRolePolicyInput{RoleName: aws.String("KillSwitchResponder"), PolicyName: aws.String("revoke"), PolicyDocument: aws.String(revoke)})
	must(t, err)
	_, err = mgmt.IAM.PutRolePolicy(bg, &iam.PutRolePolicyInput{RoleName: aws.String("KillSwitchResponder"), PolicyName: aws.String("revoke"), PolicyDocument: aws.String(revoke)})
	must(t, err)
	if _, err := member.IAM.ListUsers(bg, nil); code("AccessDenied")(err) == false || !strings.Contains(err.Error(), "iam:ListUsers") {
		t.Fatalf("IAM after self-revocation: %v", err)
	}
	if _, err := mgmt.Organizations.ListAccounts(bg, nil); !isErr[*orgtypes.AccessDeniedException](err) {
		t.Fatalf("Organizations after self-revocation: %v", err)
	}
	if _, err := member.SecretsManager.DescribeSecret(bg, &secretsmanager.DescribeSecretInput{SecretId: aws.String("x")}); !code("AccessDeniedException")(err) {
		t.Fatalf("Secrets Manager after self-revocation: %v", err)
	}
	if _, err := member.STS.GetCallerIdentity(bg, nil); err != nil {
		t.Fatalf("GetCallerIdentity cannot be denied: %v", err)
	}
	// a fresh session (issued after the cutoff) works again
	fresh, err := p.Clients(bg, memberID)
	must(t, err)
	if _, err := fresh.IAM.ListUsers(bg, nil); err != nil {
		t.Fatal(err)
	}
	// an SCP that does not exempt the bot stops it in member accounts only
	e := &authEnv{t: t, o: o, clock: clock}
	e.scp("root", "NoIAMWrites", doc("Deny", "iam:Put*", "*", ""))
	_, err = fresh.IAM.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String("x"), PolicyName: aws.String("x"), PolicyDocument: aws.String(revoke)})
	if !code("AccessDenied")(err) || !strings.Contains(err.Error(), "NoIAMWrites") {
		t.Fatalf("SCP on the bot: %v", err)
	}
	freshMgmt, err := p.Clients(bg, mgmtID)
	must(t, err)
	_, err = freshMgmt.IAM.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String("x"), PolicyName: aws.String("x"), PolicyDocument: aws.String(revoke)})
	if !isErr[*iamtypes.NoSuchEntityException](err) {
		t.Fatalf("management account is immune to SCPs: %v", err)
	}
}
