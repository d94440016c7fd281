package actions_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// svcCreds reads user's service-specific credentials back in two ways: the
// simulation's own state, and IAM's ListServiceSpecificCredentials as a
// client sees it. It fails the test when the two disagree.
func svcCreds(t *testing.T, org *sim.Org, acct, user string) map[string]bool {
	t.Helper()
	snap := map[string]bool{}
	for _, u := range org.Snapshot(acct).Users {
		if u.Name == user {
			for _, c := range u.ServiceCredentials {
				snap[c.ID] = c.Active
			}
		}
	}
	cl, err := org.Provider(actions.DefaultBotRoleName).Clients(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cl.IAM.ListServiceSpecificCredentials(context.Background(), &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range out.ServiceSpecificCredentials {
		listed[aws.ToString(c.ServiceSpecificCredentialId)] = c.Status == iamtypes.StatusTypeActive
	}
	if len(listed) != len(snap) {
		t.Fatalf("%s's service credentials: the snapshot has %v, IAM lists %v", user, snap, listed)
	}
	for id, active := range snap {
		if a, ok := listed[id]; !ok || a != active {
			t.Fatalf("%s's service credential %s: active %v in the snapshot, IAM lists %v (%v)", user, id, active, a, ok)
		}
	}
	return snap
}

// TestDisableUsersDeactivatesServiceCredentials: disable-users deactivates
// a user's service-specific credentials (CodeCommit, Keyspaces, Bedrock
// passwords outlive a deleted console password and deactivated access keys),
// records each as a reversible step, and undo reactivates them. carol in the
// codespaces simulation holds one.
func TestDisableUsersDeactivatesServiceCredentials(t *testing.T) {
	for _, action := range []string{actions.DisableUsers, actions.Lockdown} {
		t.Run(action, func(t *testing.T) {
			org := builtin(t, "codespaces")
			acct := org.Accounts()[0]
			e := engine(t, org)
			before := svcCreds(t, org, acct, "carol")
			if len(before) == 0 {
				t.Fatal("carol has no service-specific credential in the codespaces simulation")
			}
			for id, active := range before {
				if !active {
					t.Fatalf("carol's service credential %s is inactive before the run", id)
				}
			}
			carol := "arn:aws:iam::" + acct + ":user/carol"

			plan, err := e.Plan(context.Background(), action, []string{acct}, actions.Options{})
			if err != nil {
				t.Fatal(err)
			}
			planned := 0
			for _, a := range plan.Accounts {
				for _, tg := range a.Targets {
					if tg.Principal != carol {
						continue
					}
					for id := range before {
						for _, c := range tg.Changes {
							if strings.HasPrefix(c, "deactivate ") && strings.HasSuffix(c, " credential "+id) {
								planned++
								break
							}
						}
					}
				}
			}
			if planned != len(before) {
				t.Errorf("the plan deactivates %d of carol's %d service credentials", planned, len(before))
			}

			res, _ := apply(t, e, action, []string{acct}, actions.Options{RequestID: "ks-svccred"})
			steps := 0
			for _, s := range res.Steps() {
				if s.Op != "deactivate-service-credential" {
					continue
				}
				steps++
				if _, ok := before[s.Resource]; s.Principal != carol || !ok {
					t.Errorf("service credential step on %s %s", s.Principal, s.Resource)
				}
				if s.Status != actions.StepDone || !s.Reversible {
					t.Errorf("step %s: status %s, reversible %v", s.Key, s.Status, s.Reversible)
				}
			}
			if steps != len(before) {
				t.Errorf("%d service credential steps, carol has %d credentials", steps, len(before))
			}
			for id, active := range svcCreds(t, org, acct, "carol") {
				if active {
					t.Errorf("carol's service credential %s is still active after %s", id, action)
				}
			}

			u, err := e.Undo(context.Background(), action, res.Steps(), actions.Options{RequestID: "ks-svccred-undo"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			undone := 0
			for _, s := range u.Steps() {
				if s.Op == "deactivate-service-credential" && s.Status == actions.StepUndone {
					undone++
				}
			}
			if undone != len(before) {
				t.Errorf("undo reactivated %d of %d service credentials", undone, len(before))
			}
			for id, active := range svcCreds(t, org, acct, "carol") {
				if !active {
					t.Errorf("carol's service credential %s is still inactive after the undo", id)
				}
			}
		})
	}
}
