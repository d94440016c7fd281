package actions_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/actions/sim"
)

// principalFault makes one IAM operation fail for one user, the way the SDK
// reports it (an *smithy.OperationError around the service's error), until
// it is switched off.
type principalFault struct {
	mu       sync.Mutex
	op, user string
	err      error // nil: off
	hits     int
}

func (f *principalFault) check(op string, user *string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || op != f.op || aws.ToString(user) != f.user {
		return nil
	}
	f.hits++
	return &smithy.OperationError{ServiceID: "IAM", OperationName: op, Err: f.err}
}

func (f *principalFault) off() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = nil
}

// faultIAM decorates an account's IAM client with a principalFault.
type faultIAM struct {
	awsapi.IAM
	f *principalFault
}

var _ awsapi.IAM = faultIAM{}

func (c faultIAM) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, opt ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	if err := c.f.check("ListUserTags", in.UserName); err != nil {
		return nil, err
	}
	return c.IAM.ListUserTags(ctx, in, opt...)
}

func (c faultIAM) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, opt ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	if err := c.f.check("ListAccessKeys", in.UserName); err != nil {
		return nil, err
	}
	return c.IAM.ListAccessKeys(ctx, in, opt...)
}

func (c faultIAM) GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, opt ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	if err := c.f.check("GetLoginProfile", in.UserName); err != nil {
		return nil, err
	}
	return c.IAM.GetLoginProfile(ctx, in, opt...)
}

func (c faultIAM) PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, opt ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	if err := c.f.check("PutUserPolicy", in.UserName); err != nil {
		return nil, err
	}
	return c.IAM.PutUserPolicy(ctx, in, opt...)
}

func (c faultIAM) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, opt ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	if err := c.f.check("UpdateAccessKey", in.UserName); err != nil {
		return nil, err
	}
	return c.IAM.UpdateAccessKey(ctx, in, opt...)
}

// faultProvider hands out the simulation's clients, with IAM decorated in
// one account.
type faultProvider struct {
	awsapi.Provider
	account string
	f       *principalFault
}

var _ awsapi.Provider = faultProvider{}

func (p faultProvider) Clients(ctx context.Context, account string) (*awsapi.Clients, error) {
	c, err := p.Provider.Clients(ctx, account)
	if err != nil || account != p.account {
		return c, err
	}
	cc := *c
	cc.IAM = faultIAM{IAM: c.IAM, f: p.f}
	return &cc, nil
}

// The errors AWS gives: the typed NoSuchEntity of a user deleted since it
// was listed, AccessDenied, and throttling the retryer gave up on.
func faultErr(code, user string) error {
	switch code {
	case "NoSuchEntity":
		return &iamtypes.NoSuchEntityException{Message: aws.String("The user with name " + user + " cannot be found.")}
	case "AccessDenied":
		return &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::111122223333:assumed-role/KillSwitchResponder/ks is not authorized to perform this action on user " + user, Fault: smithy.FaultClient}
	case "Throttling":
		return &retry.MaxAttemptsError{Attempt: 3, Err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}}
	}
	panic("unknown code " + code)
}

// readOps are the faults met while reading (reported in Failures); the
// others are met while changing (a failed step).
var readOps = map[string]bool{"ListUserTags": true, "ListAccessKeys": true, "GetLoginProfile": true}

// exemptUser says whether a user must never be touched.
func exemptUser(u sim.UserState) bool { return exemptPrincipal(u.Arn) || u.Tags[bgTag] != "" }

// containedUsers says, per non-exempt user and role ARN, whether action's
// every effect is in place (before is the state before the first run:
// rotate-keys must have deactivated the keys that were active then).
func containedUsers(action string, before, st sim.AccountState) map[string]bool {
	out := map[string]bool{}
	wasActive := map[string]bool{}
	for _, u := range before.Users {
		for _, k := range u.AccessKeys {
			wasActive[k.ID] = k.Active
		}
	}
	disable := action == actions.DisableUsers || action == actions.Lockdown
	revoke := action == actions.RevokeSessions || action == actions.Lockdown
	for _, u := range st.Users {
		if exemptUser(u) {
			continue
		}
		ok := true
		if disable {
			ok = ok && !u.LoginProfile
			for _, c := range append(append(append([]sim.CredentialState(nil), u.AccessKeys...), u.SSHKeys...), u.ServiceCredentials...) {
				ok = ok && !c.Active
			}
		}
		if revoke {
			_, has := u.InlinePolicies[actions.RevokePolicyName]
			ok = ok && has
		}
		if action == actions.RotateKeys {
			for _, k := range u.AccessKeys {
				ok = ok && !(wasActive[k.ID] && k.Active)
			}
		}
		out[u.Arn] = ok
	}
	if revoke {
		for _, r := range st.Roles {
			if exemptPrincipal(r.Arn) || r.Tags[bgTag] != "" {
				continue
			}
			_, has := r.InlinePolicies[actions.RevokePolicyName]
			out[r.Arn] = has
		}
	}
	return out
}

// TestOnePrincipalFailureLeavesTheRestContainedAndRerunCompletes: in the
// Code Spaces account, one user's read or change answers NoSuchEntity (the
// user was deleted since ListUsers saw it), AccessDenied or throttling past
// the retries. Every other user (and role) is still contained; the one user
// is reported by name with the error — in Failures (and a warning) when it
// could not be read, as a failed step when it could not be changed, as
// deleted while killswitch worked on NoSuchEntity; the account is partial;
// and a rerun once the fault is gone contains it and touches nothing else.
func TestOnePrincipalFailureLeavesTheRestContainedAndRerunCompletes(t *testing.T) {
	const victim = "ops-admin"
	cases := []struct {
		action, op, code string
	}{
		{actions.DisableUsers, "ListAccessKeys", "NoSuchEntity"},
		{actions.DisableUsers, "ListAccessKeys", "AccessDenied"},
		{actions.DisableUsers, "ListAccessKeys", "Throttling"},
		{actions.DisableUsers, "GetLoginProfile", "AccessDenied"},
		{actions.DisableUsers, "GetLoginProfile", "Throttling"},
		{actions.Lockdown, "ListAccessKeys", "AccessDenied"}, // tags come with GetAccountAuthorizationDetails: no per-user tag read left to fail
		{actions.DisableUsers, "UpdateAccessKey", "NoSuchEntity"},
		{actions.DisableUsers, "UpdateAccessKey", "Throttling"},
		{actions.RevokeSessions, "PutUserPolicy", "NoSuchEntity"},
		{actions.RevokeSessions, "PutUserPolicy", "AccessDenied"},
		{actions.RevokeSessions, "PutUserPolicy", "Throttling"},
		{actions.RotateKeys, "ListAccessKeys", "NoSuchEntity"},
		{actions.RotateKeys, "ListAccessKeys", "AccessDenied"},
		{actions.RotateKeys, "UpdateAccessKey", "NoSuchEntity"},
		{actions.RotateKeys, "UpdateAccessKey", "Throttling"},
		{actions.Lockdown, "ListAccessKeys", "NoSuchEntity"},
		{actions.Lockdown, "GetLoginProfile", "Throttling"},
		{actions.Lockdown, "PutUserPolicy", "AccessDenied"},
		{actions.Lockdown, "UpdateAccessKey", "NoSuchEntity"},
		{actions.Lockdown, "GetLoginProfile", "AccessDenied"},
	}
	for _, c := range cases {
		t.Run(c.action+"/"+c.op+"/"+c.code, func(t *testing.T) {
			org := builtin(t, "codespaces")
			acct := org.Accounts()[0]
			before := org.Snapshot(acct)
			arn := ""
			for _, u := range before.Users {
				if u.Name == victim {
					arn = u.Arn
				}
			}
			if arn == "" {
				t.Fatalf("no user %s in the codespaces built-in", victim)
			}
			f := &principalFault{op: c.op, user: victim, err: faultErr(c.code, victim)}
			e, err := actions.New(faultProvider{Provider: org.Provider(actions.DefaultBotRoleName), account: acct, f: f}, actions.Config{
				BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, Concurrency: 4,
			})
			if err != nil {
				t.Fatal(err)
			}
			opt := actions.Options{RequestID: "ks-principal-fault", RevokeBefore: t0}
			deleted := c.code == "NoSuchEntity"

			// The plan already names a principal it cannot read.
			if readOps[c.op] {
				plan, err := e.Plan(context.Background(), c.action, []string{acct}, opt)
				if err != nil {
					t.Fatal(err)
				}
				ap := plan.Accounts[0]
				if ap.Error != "" || !hasFailure(ap.Failures, arn, c.code, deleted) {
					t.Fatalf("plan: error %q, failures %+v: want %s named with %s", ap.Error, ap.Failures, arn, c.code)
				}
				b, _ := json.Marshal(ap)
				if !strings.Contains(string(b), `"failures":[{"principal":"`+arn+`"`) {
					t.Errorf("plan JSON does not carry the failure: %s", b)
				}
				if len(ap.Targets) == 0 {
					t.Error("the plan has no targets: one user's failure stopped the account")
				}
			}

			res, _ := apply(t, e, c.action, []string{acct}, opt)
			if f.hits == 0 {
				t.Fatal("the fault was never met")
			}
			ar := res.Accounts[0]
			if res.Status != actions.StatusPartial || ar.Status != actions.StatusPartial || ar.Error != "" {
				t.Fatalf("status %s, account %s, error %q: want partial with no account error\n%v", res.Status, ar.Status, ar.Error, res.Problems())
			}
			if readOps[c.op] {
				if !hasFailure(ar.Failures, arn, c.code, deleted) {
					t.Errorf("failures %+v: want %s named with %s", ar.Failures, arn, c.code)
				}
				for _, fl := range ar.Failures {
					if fl.Principal != arn || !slicesContain(actionsOf(c.action), fl.Action) {
						t.Errorf("unexpected failure %+v", fl)
					}
				}
				warned := false
				for _, w := range ar.Warnings {
					warned = warned || strings.Contains(w, arn) && strings.Contains(w, c.code)
				}
				if !warned {
					t.Errorf("no warning names %s (the card shows warnings): %v", arn, ar.Warnings)
				}
			} else {
				if len(ar.Failures) > 0 {
					t.Errorf("a change failure is a failed step, not a read failure: %+v", ar.Failures)
				}
				failed := 0
				for _, s := range ar.Steps {
					if s.Status != actions.StepFailed {
						continue
					}
					failed++
					if s.Principal != arn || !strings.Contains(s.Error, c.code) || !strings.Contains(s.Error, victim) {
						t.Errorf("failed step %s: %q, want %s's %s", s.Key, s.Error, victim, c.code)
					}
					if deleted != strings.Contains(s.Error, "deleted while killswitch worked (NoSuchEntity)") {
						t.Errorf("failed step %s: %q: NoSuchEntity must read as deleted while killswitch worked, nothing else", s.Key, s.Error)
					}
				}
				if failed == 0 {
					t.Error("no failed step")
				}
			}
			named := false
			for _, p := range res.Problems() {
				named = named || strings.Contains(p, arn) || strings.Contains(p, victim)
			}
			if !named {
				t.Errorf("Problems() does not name %s: %v", victim, res.Problems())
			}

			got := containedUsers(c.action, before, org.Snapshot(acct))
			if len(got) < 5 {
				t.Fatalf("only %d principals to contain: %v", len(got), got)
			}
			for p, ok := range got {
				if p == arn && ok {
					t.Errorf("%s is contained although its %s failed", p, c.op)
				}
				if p != arn && !ok {
					t.Errorf("%s is not contained: one user's failure stopped the rest", p)
				}
			}

			// The fault is gone: the same request again completes the user
			// and touches nothing else.
			f.off()
			rerun, _ := apply(t, e, c.action, []string{acct}, opt)
			if p := rerun.Problems(); rerun.Status != actions.StatusSucceeded || len(p) > 0 || len(rerun.Accounts[0].Failures) > 0 {
				t.Fatalf("rerun: %s: %v", rerun.Status, p)
			}
			if rerun.Changed() == 0 {
				t.Error("the rerun changed nothing")
			}
			cut := false // the rerun cut the user's credentials: lockdown then revokes with a later cut-off
			for _, s := range rerun.Steps() {
				cut = cut || s.Action == actions.DisableUsers && s.Principal == arn
			}
			for _, s := range rerun.Steps() {
				if s.Principal != arn && !(cut && c.action == actions.Lockdown && s.Action == actions.RevokeSessions) {
					t.Errorf("rerun changed %s, already contained", s.Key)
				}
			}
			for p, ok := range containedUsers(c.action, before, org.Snapshot(acct)) {
				if !ok {
					t.Errorf("after the rerun %s is not contained", p)
				}
			}
		})
	}
}

// TestFindBackdoorsReportsAnUnreadableUser: the read-only search goes on
// past a user it cannot read and names it.
func TestFindBackdoorsReportsAnUnreadableUser(t *testing.T) {
	org := builtin(t, "codespaces")
	acct := org.Accounts()[0]
	f := &principalFault{op: "ListAccessKeys", user: "ops-admin", err: faultErr("AccessDenied", "ops-admin")}
	e, err := actions.New(faultProvider{Provider: org.Provider(actions.DefaultBotRoleName), account: acct, f: f}, actions.Config{BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(context.Background(), actions.FindBackdoors, []string{acct}, actions.Options{RequestID: "ks-fb", Since: t0.AddDate(-10, 0, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ar := res.Accounts[0]
	if ar.Status != actions.StatusPartial || len(ar.Failures) != 1 || !strings.HasSuffix(ar.Failures[0].Principal, ":user/ops-admin") || ar.Failures[0].Deleted {
		t.Fatalf("status %s, failures %+v", ar.Status, ar.Failures)
	}
	if len(ar.Findings) < 5 {
		t.Errorf("only %d findings: the search stopped at the unreadable user", len(ar.Findings))
	}
}

// TestListFailureStaysAnAccountError: when the principals cannot be listed
// at all, the account fails as before (nothing is known about it).
func TestListFailureStaysAnAccountError(t *testing.T) {
	org := builtin(t, "codespaces")
	acct := org.Accounts()[0]
	org.InjectFault(sim.Fault{Account: acct, Operation: "GetAccountAuthorizationDetails", Err: errors.New("listing refused")})
	res, _ := apply(t, engine(t, org), actions.DisableUsers, []string{acct}, actions.Options{RequestID: "ks-list"})
	if ar := res.Accounts[0]; ar.Status != actions.StatusFailed || !strings.Contains(ar.Error, "list users") || len(ar.Failures) > 0 {
		t.Fatalf("status %s, error %q, failures %+v", ar.Status, ar.Error, ar.Failures)
	}
}

func hasFailure(fs []actions.PrincipalFailure, arn, code string, deleted bool) bool {
	for _, f := range fs {
		if f.Principal == arn && strings.Contains(f.Error, code) && f.Deleted == deleted &&
			deleted == strings.HasPrefix(f.Error, "deleted while killswitch worked (NoSuchEntity): ") {
			return true
		}
	}
	return false
}

func actionsOf(action string) []string {
	if action == actions.Lockdown {
		return []string{actions.DenyDelete, actions.RevokeSessions, actions.DisableUsers}
	}
	return []string{action}
}

func slicesContain(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
