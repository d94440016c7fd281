package actions_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/actions/sim"
)

func TestRepeatedPlanWarningsAreGroupedWithACount(t *testing.T) {
	org := builtin(t, "codespaces")
	acct := org.Accounts()[0]
	for i := 0; i < 12; i++ {
		must(t, org.AddUser(acct, sim.User{Name: fmt.Sprintf("twokeys-%02d", i), AccessKeys: []sim.AccessKey{{Active: true}, {Active: false}}}))
	}
	plan, err := engine(t, org).Plan(context.Background(), actions.RotateKeys, []string{acct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var limit []string
	for _, w := range plan.Accounts[0].Warnings {
		if strings.Contains(w, "IAM's limit") {
			limit = append(limit, w)
		}
	}
	if len(limit) != 1 {
		t.Fatalf("want one warning line about the two-key limit, got %d:\n%s", len(limit), strings.Join(limit, "\n"))
	}
	w := limit[0]
	if !strings.HasPrefix(w, "14 users already have 2 access keys (IAM's limit): erin, service/deploy, twokeys-00, twokeys-01, twokeys-02, … (and 9 more); their active keys are deactivated without a replacement") {
		t.Errorf("grouped warning: %q", w)
	}
	// every one of them is still in the plan
	n := 0
	for _, tg := range plan.Accounts[0].Targets {
		if strings.Contains(tg.Principal, "user/twokeys-") {
			n++
		}
	}
	if n != 12 {
		t.Errorf("%d of the 12 users are targets", n)
	}
}

func TestFindBackdoorsDoesNotReportTheBot(t *testing.T) {
	for _, name := range []string{"codespaces", "org"} {
		org := builtin(t, name)
		e := engine(t, org)
		plan, err := e.Plan(context.Background(), actions.FindBackdoors, org.Accounts(), actions.Options{Since: time.Now().Add(-24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ap := range plan.Accounts {
			for _, tg := range ap.Targets {
				if strings.Contains(tg.Principal, ":role/"+actions.DefaultBotRoleName) || strings.Contains(tg.Principal, ":role/"+awsapi.CanaryRoleName) {
					t.Errorf("%s: %s: the bot's own role or its canary reported as a backdoor: %v", name, ap.Account, tg)
				}
			}
		}
	}
}

func TestIdentityCenterRolesAreBoundByTheSCPInMembers(t *testing.T) {
	org := builtin(t, "org")
	plan, err := engine(t, org).Plan(context.Background(), actions.DenyDelete, org.Accounts(), actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	members := 0
	for _, ap := range plan.Accounts {
		if ap.Kind != actions.KindMember {
			continue
		}
		members++
		for _, x := range ap.Exempt {
			if strings.Contains(x.Principal, "AWSReservedSSO_") || strings.HasPrefix(x.Reason, "IAM Identity Center") {
				t.Errorf("%s: deny-delete lists an Identity Center role as exempt although the SCP binds it: %v", ap.Account, x)
			}
		}
		said := false
		for _, w := range ap.Warnings {
			said = said || strings.Contains(w, "IAM Identity Center role(s) are bound by the SCP")
			if strings.Contains(w, "IAM Identity Center role(s) cannot carry the change") {
				t.Errorf("%s: %q", ap.Account, w)
			}
		}
		if !said {
			t.Errorf("%s: the plan does not say the Identity Center roles are bound: %q", ap.Account, ap.Warnings)
		}
	}
	if members == 0 {
		t.Fatal("no member account planned")
	}
	// revoke-sessions cannot put its inline policy on them: still exempt there
	plan, err = engine(t, org).Plan(context.Background(), actions.RevokeSessions, org.Accounts(), actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ap := range plan.Accounts {
		for _, x := range ap.Exempt {
			found = found || strings.HasPrefix(x.Reason, "IAM Identity Center role")
		}
	}
	if !found {
		t.Error("revoke-sessions no longer reports the Identity Center roles it cannot change")
	}
}

// TestGroupedWarningNamesTheKindOnce: a grouped warning whose text already
// says what the principal is does not say it twice.
func TestGroupedWarningNamesTheKindOnce(t *testing.T) {
	org := builtin(t, "codespaces")
	acct := org.Accounts()[0]
	for _, n := range []string{"BreakGlass-a", "BreakGlass-b"} {
		must(t, org.AddRole(acct, sim.Role{Name: n, Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`}))
	}
	plan, err := engine(t, org).Plan(context.Background(), actions.DenyDelete, []string{acct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range plan.Accounts[0].Warnings {
		if strings.Contains(w, "trusts all of account") {
			found = true
			if strings.Contains(w, "role role") || !strings.Contains(w, "2 roles: BreakGlass-a, BreakGlass-b") {
				t.Errorf("grouped warning: %q", w)
			}
		}
	}
	if !found {
		t.Error("no warning about exempt roles that trust a whole account")
	}
}
