package awsint

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/killswitch/killswitch/actions"
)

// icSeed is the Identity Center the test builds on the emulator.
type icSeed struct {
	instance, store string
	permSets        map[string]string // name -> ARN
	users, groups   map[string]string // name -> id
}

func seedIdentityCenter(t *testing.T, org *Org) *icSeed {
	t.Helper()
	ctx, cfg := context.Background(), motoConfig()
	sa, is := ssoadmin.NewFromConfig(cfg), identitystore.NewFromConfig(cfg)
	li, err := sa.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil || len(li.Instances) == 0 {
		t.Fatalf("moto has no Identity Center instance: %v", err)
	}
	s := &icSeed{instance: aws.ToString(li.Instances[0].InstanceArn), store: aws.ToString(li.Instances[0].IdentityStoreId),
		permSets: map[string]string{}, users: map[string]string{}, groups: map[string]string{}}
	for _, n := range []string{"AdministratorAccess", "ReadOnlyAccess"} {
		out, err := sa.CreatePermissionSet(ctx, &ssoadmin.CreatePermissionSetInput{InstanceArn: aws.String(s.instance), Name: aws.String(n), SessionDuration: aws.String("PT1H")})
		if err != nil {
			t.Fatalf("create permission set %s: %v", n, err)
		}
		s.permSets[n] = aws.ToString(out.PermissionSet.PermissionSetArn)
	}
	for _, n := range []string{"alice", "breakglass-ic"} {
		out, err := is.CreateUser(ctx, &identitystore.CreateUserInput{IdentityStoreId: aws.String(s.store), UserName: aws.String(n), DisplayName: aws.String(n),
			Name: &istypes.Name{GivenName: aws.String(n), FamilyName: aws.String("Example")}})
		if err != nil {
			t.Fatalf("create user %s: %v", n, err)
		}
		s.users[n] = aws.ToString(out.UserId)
	}
	g, err := is.CreateGroup(ctx, &identitystore.CreateGroupInput{IdentityStoreId: aws.String(s.store), DisplayName: aws.String("Admins")})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	s.groups["Admins"] = aws.ToString(g.GroupId)
	if _, err := is.CreateGroupMembership(ctx, &identitystore.CreateGroupMembershipInput{IdentityStoreId: aws.String(s.store), GroupId: g.GroupId,
		MemberId: &istypes.MemberIdMemberUserId{Value: s.users["alice"]}}); err != nil {
		t.Fatalf("add alice to Admins: %v", err)
	}
	m0, m1 := org.Members[0], org.Members[1]
	for _, a := range []struct{ ps, ptype, id, acct string }{
		{"AdministratorAccess", "GROUP", s.groups["Admins"], m0},
		{"ReadOnlyAccess", "USER", s.users["alice"], m1},
		{"AdministratorAccess", "USER", s.users["breakglass-ic"], m0},
		{"AdministratorAccess", "USER", s.users["breakglass-ic"], m1},
	} {
		if _, err := sa.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(s.instance), PermissionSetArn: aws.String(s.permSets[a.ps]),
			PrincipalType: ssotypes.PrincipalType(a.ptype), PrincipalId: aws.String(a.id), TargetId: aws.String(a.acct), TargetType: ssotypes.TargetTypeAwsAccount}); err != nil {
			t.Fatalf("assign %+v: %v", a, err)
		}
	}
	return s
}

// assignments reads every account assignment back through the SDK.
func (s *icSeed) assignments(t *testing.T, org *Org) []string {
	t.Helper()
	sa := ssoadmin.NewFromConfig(motoConfig())
	var out []string
	for _, acct := range org.IDs() {
		for name, arn := range s.permSets {
			res, err := sa.ListAccountAssignments(context.Background(), &ssoadmin.ListAccountAssignmentsInput{InstanceArn: aws.String(s.instance), AccountId: aws.String(acct), PermissionSetArn: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range res.AccountAssignments {
				out = append(out, acct+"|"+name+"|"+string(a.PrincipalType)+"|"+aws.ToString(a.PrincipalId))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestContainIdentityCenterOnTheEmulator: through the real factory and SDK
// clients on moto (sso-admin, identitystore), the plan names who loses
// which permission set where, apply removes every assignment but
// break-glass ones, and undo creates exactly them again.
func TestContainIdentityCenterOnTheEmulator(t *testing.T) {
	org := reseed(t, defaultSeed)
	ic := seedIdentityCenter(t, org)
	ctx := context.Background()
	e, err := actions.New(newFactory(t), actions.Config{BreakGlassPatterns: []string{BreakGlassPattern}, BreakGlassTag: BreakGlassTag,
		BotRoleName: ResponderRole, Concurrency: concurrency, ConfirmTimeout: ConfirmTimeout, BreakGlassICUsers: []string{"breakglass-ic"}})
	if err != nil {
		t.Fatal(err)
	}
	before := ic.assignments(t, org)
	if len(before) != 4 {
		t.Fatalf("seeded assignments %v", before)
	}
	plan, err := e.Plan(ctx, actions.ContainIdentityCenter, org.IDs(), actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, a := range plan.Accounts {
		for _, tg := range a.Targets {
			lines = append(lines, a.Account+" "+tg.Principal+": "+strings.Join(tg.Changes, "; "))
		}
		for _, x := range a.Exempt {
			lines = append(lines, a.Account+" exempt "+x.Principal)
		}
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		org.Members[0] + " Identity Center group Admins: remove the account assignment of permission set AdministratorAccess",
		org.Members[1] + " Identity Center user alice: remove the account assignment of permission set ReadOnlyAccess",
		org.Members[0] + " exempt Identity Center user breakglass-ic",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("plan lacks %q:\n%s", want, all)
		}
	}
	rec := &stepRecorder{}
	res, err := e.Apply(ctx, actions.ContainIdentityCenter, org.IDs(), actions.Options{RequestID: "ks-it-ic"}, rec)
	if err != nil || res.Status != actions.StatusSucceeded {
		t.Fatalf("apply: %v %s %v", err, res.Status, res.Problems())
	}
	left := ic.assignments(t, org)
	want := []string{org.Members[0] + "|AdministratorAccess|USER|" + ic.users["breakglass-ic"], org.Members[1] + "|AdministratorAccess|USER|" + ic.users["breakglass-ic"]}
	sort.Strings(want)
	if !reflect.DeepEqual(left, want) {
		t.Errorf("after apply %v, want only break-glass %v", left, want)
	}
	undo, err := e.Undo(ctx, actions.ContainIdentityCenter, rec.all(), actions.Options{RequestID: "ks-it-ic-undo"}, nil)
	if err != nil || undo.Status != actions.StatusSucceeded {
		t.Fatalf("undo: %v %+v", err, undo)
	}
	if got := ic.assignments(t, org); !reflect.DeepEqual(got, before) {
		t.Errorf("after undo %v, want %v", got, before)
	}
}
