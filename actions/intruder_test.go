package actions_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// These tests put the simulated intruder against the actions: what the
// intruder could do before, and can no longer do after.

func userKey(t *testing.T, org *sim.Org, account, user string) sim.Credential {
	t.Helper()
	for _, u := range org.Snapshot(account).Users {
		if u.Name == user {
			for _, k := range u.AccessKeys {
				if k.Active {
					return sim.Credential{Account: account, Principal: u.Arn, AccessKeyID: k.ID}
				}
			}
		}
	}
	t.Fatalf("no active key for %s in %s", user, account)
	return sim.Credential{}
}

func roleSession(account, role string, issued time.Time) sim.Credential {
	return sim.Credential{Account: account, Principal: fmt.Sprintf("arn:aws:iam::%s:role/%s", account, role), SessionIssued: issued}
}

func snapshotID(t *testing.T, org *sim.Org, account string, n int) string {
	t.Helper()
	var ids []string
	for _, r := range org.Resources(account) {
		if r.Kind == "snapshot" {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) <= n {
		t.Fatalf("account %s has %d snapshots", account, len(ids))
	}
	return ids[n]
}

func denied(err error) bool {
	var d *sim.Denied
	return errors.As(err, &d)
}

func TestDenyDeleteStopsTheIntruderButNotBreakGlass(t *testing.T) {
	for _, tc := range []struct {
		name, org, account, user string
		via                      string
	}{
		{"member account via SCP", "org", "222222222222", "admin-prod", "SCP"},
		{"management account via IAM fallback", "org", "111111111111", "admin-management", "KillSwitchDenyDelete"},
		{"standalone account via IAM fallback", "codespaces", "111122223333", "ops-admin", "KillSwitchDenyDelete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := builtin(t, tc.org)
			e := engine(t, org)
			intruder := userKey(t, org, tc.account, tc.user)
			if err := org.Destroy(intruder, "snapshot", snapshotID(t, org, tc.account, 0)); err != nil {
				t.Fatalf("before deny-delete the intruder should delete a snapshot: %v", err)
			}
			res, _ := apply(t, e, actions.DenyDelete, org.Accounts(), actions.Options{RequestID: "ks-dd"})
			if f := res.Problems(); len(f) > 0 {
				t.Fatal(f)
			}
			snap := snapshotID(t, org, tc.account, 0)
			err := org.Destroy(intruder, "snapshot", snap)
			if !denied(err) {
				t.Fatalf("after deny-delete the intruder deleted %s: %v", snap, err)
			}
			var d *sim.Denied
			errors.As(err, &d)
			if !containsAny(d.Reason+d.Policy, tc.via, "p-") {
				t.Errorf("denied by %q, want %s", d.Reason, tc.via)
			}
			for _, action := range []string{"s3:DeleteBucket", "s3:DeleteObjectVersion", "ec2:DeregisterImage", "backup:DeleteRecoveryPoint", "rds:DeleteDBSnapshot", "kms:ScheduleKeyDeletion", "cloudtrail:StopLogging", "logs:DeleteLogGroup"} {
				if err := org.Authorize(intruder, action, "*"); !denied(err) {
					t.Errorf("%s still allowed after deny-delete: %v", action, err)
				}
			}
			if err := org.Authorize(intruder, "ec2:DescribeSnapshots", "*"); err != nil {
				t.Errorf("deny-delete must not deny read-only calls: %v", err)
			}
			bg := roleSession(tc.account, "BreakGlassAdmin", time.Now())
			if err := org.Destroy(bg, "snapshot", snap); err != nil {
				t.Fatalf("break-glass must still be able to delete: %v", err)
			}
			tagged := "breakglass"
			if tc.org == "codespaces" {
				tagged = "breakglass-admin"
			}
			// The guardrail names the principals the engine found exempt by
			// tag by ARN; the tag itself exempts nobody: a user that tags
			// itself after the guardrail is in place is still denied.
			for _, u := range org.Snapshot(tc.account).Users {
				if u.Name == tagged {
					bgUser := sim.Credential{Account: tc.account, Principal: u.Arn, Console: true}
					if err := org.Authorize(bgUser, "ec2:DeleteSnapshot", "*"); err != nil {
						t.Errorf("the break-glass user (exempt by its tag) is denied by the guardrail: %v", err)
					}
				}
			}
			if tc.via != "SCP" {
				return // a new principal of an IAM-fallback account is bound once the guardrail is attached to it (lockdown re-checks)
			}
			if err := org.AddUser(tc.account, sim.User{Name: "self-tagged", Password: true, Tags: map[string]string{sim.BreakGlassTag: "true"}}); err != nil {
				t.Fatal(err)
			}
			late, _ := org.UserARN(tc.account, "self-tagged")
			if err := org.Authorize(sim.Credential{Account: tc.account, Principal: late, Console: true}, "ec2:DeleteSnapshot", "*"); !denied(err) {
				t.Errorf("a user tagged with the break-glass tag after the guardrail may delete snapshots: %v", err)
			}
		})
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func TestRevokeSessionsCutsOlderSessionsOnly(t *testing.T) {
	org := builtin(t, "org")
	e := engine(t, org)
	acct := "333333333333"
	old := roleSession(acct, "app-server", t0.Add(-time.Hour))
	if err := org.Authorize(old, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Fatalf("before: %v", err)
	}
	res, _ := apply(t, e, actions.RevokeSessions, []string{acct}, actions.Options{RequestID: "ks-rs", RevokeBefore: t0})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	if err := org.Authorize(old, "s3:ListAllMyBuckets", "*"); !denied(err) {
		t.Fatalf("a session issued before the revocation still works: %v", err)
	}
	fresh := roleSession(acct, "app-server", t0.Add(time.Minute))
	if err := org.Authorize(fresh, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Fatalf("a session issued after the revocation is denied: %v", err)
	}
	bg := roleSession(acct, "BreakGlassAdmin", t0.Add(-time.Hour))
	if err := org.Authorize(bg, "s3:ListAllMyBuckets", "*"); err != nil {
		t.Fatalf("break-glass sessions must survive: %v", err)
	}
	// a user's console session too
	for _, u := range org.Snapshot(acct).Users {
		if u.Name == "admin-staging" {
			s := sim.Credential{Account: acct, Principal: u.Arn, SessionIssued: t0.Add(-time.Minute)}
			if err := org.Authorize(s, "iam:CreateUser", "*"); !denied(err) {
				t.Fatalf("a user's older session still works: %v", err)
			}
		}
	}
}

func TestDisableUsersStopsKeysAndConsole(t *testing.T) {
	org := builtin(t, "codespaces")
	e := engine(t, org)
	acct := "111122223333"
	key := userKey(t, org, acct, "ops-admin")
	var arn string
	for _, u := range org.Snapshot(acct).Users {
		if u.Name == "ops-admin" {
			arn = u.Arn
		}
	}
	console := sim.Credential{Account: acct, Principal: arn, Console: true}
	for _, c := range []sim.Credential{key, console} {
		if err := org.Authorize(c, "iam:CreateUser", "*"); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	res, _ := apply(t, e, actions.DisableUsers, []string{acct}, actions.Options{RequestID: "ks-du"})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	for _, c := range []sim.Credential{key, console} {
		if err := org.Authorize(c, "iam:CreateUser", "*"); !denied(err) {
			t.Fatalf("credential %+v still works after disable-users: %v", c, err)
		}
	}
	// the intruder cannot make a backdoor with the dead key either
	if _, err := org.AttackerCreateUser(key, "backdoor"); !denied(err) {
		t.Fatalf("a disabled key created a backdoor: %v", err)
	}
	// undo brings the key back (the password does not)
	steps := res.Steps()
	if _, err := e.Undo(context.Background(), actions.DisableUsers, steps, actions.Options{RequestID: "ks-du-undo"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := org.Authorize(key, "iam:CreateUser", "*"); err != nil {
		t.Fatalf("undo did not reactivate the key: %v", err)
	}
	if err := org.Authorize(console, "iam:CreateUser", "*"); !denied(err) {
		t.Fatalf("a deleted console password came back: %v", err)
	}
}

func TestDenyDeleteFallsBackToIAMAtTheSCPLimit(t *testing.T) {
	org := builtin(t, "org")
	fillSCPs(t, org, "333333333333", 5)
	e := engine(t, org)
	intruder := userKey(t, org, "333333333333", "admin-staging")
	res, _ := apply(t, e, actions.DenyDelete, []string{"333333333333"}, actions.Options{RequestID: "ks-limit"})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	warned := false
	for _, a := range res.Accounts {
		for _, w := range a.Warnings {
			warned = warned || strings.Contains(w, "IAM managed-policy fallback")
		}
	}
	if !warned {
		t.Error("no warning about the SCP limit")
	}
	if err := org.Destroy(intruder, "snapshot", snapshotID(t, org, "333333333333", 0)); !denied(err) {
		t.Fatalf("the IAM fallback did not protect the member at the SCP limit: %v", err)
	}
}

// fillSCPs attaches customer SCPs to account until it has n.
func fillSCPs(t *testing.T, org *sim.Org, account string, n int) {
	t.Helper()
	ctx := context.Background()
	mgmt, err := org.Provider(actions.DefaultBotRoleName).Clients(ctx, org.ManagementAccount())
	must(t, err)
	for i := orgSCPCount(t, org, account); i < n; i++ {
		out, err := mgmt.Organizations.CreatePolicy(ctx, &organizations.CreatePolicyInput{
			Name: aws.String(fmt.Sprintf("Other%d", i)), Type: orgtypes.PolicyTypeServiceControlPolicy, Description: aws.String("x"),
			Content: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
		must(t, err)
		_, err = mgmt.Organizations.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: out.Policy.PolicySummary.Id, TargetId: aws.String(account)})
		must(t, err)
	}
}

func orgSCPCount(t *testing.T, org *sim.Org, account string) int {
	t.Helper()
	mgmt, err := org.Provider(actions.DefaultBotRoleName).Clients(context.Background(), org.ManagementAccount())
	must(t, err)
	out, err := mgmt.Organizations.ListPoliciesForTarget(context.Background(), &organizations.ListPoliciesForTargetInput{TargetId: aws.String(account), Filter: orgtypes.PolicyTypeServiceControlPolicy})
	must(t, err)
	return len(out.Policies)
}
