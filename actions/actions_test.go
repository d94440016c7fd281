package actions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

var (
	breakGlass = []string{"arn:aws:iam::*:role/BreakGlass*"}
	bgTag      = "killswitch:break-glass"
	mutating   = []string{actions.DenyDelete, actions.RevokeSessions, actions.DisableUsers, actions.RotateKeys, actions.Lockdown}
	t0         = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
)

func engine(t testing.TB, org *sim.Org) *actions.Engine {
	t.Helper()
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, Concurrency: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func builtin(t testing.TB, name string) *sim.Org {
	t.Helper()
	org, err := sim.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return org
}

// recorder collects recorded steps, like the store does.
type recorder struct {
	mu      sync.Mutex
	steps   []actions.Step // the latest record of each key
	records int
}

func (r *recorder) Record(_ context.Context, s actions.Step) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records++
	for i := range r.steps {
		if r.steps[i].Key == s.Key {
			if r.steps[i].Status != actions.StepStarted {
				return fmt.Errorf("step %s recorded again after its outcome %s", s.Key, r.steps[i].Status)
			}
			r.steps[i] = s
			return nil
		}
	}
	if s.Status != actions.StepStarted {
		return fmt.Errorf("step %s recorded as %s before it started", s.Key, s.Status)
	}
	r.steps = append(r.steps, s)
	return nil
}

func apply(t *testing.T, e *actions.Engine, action string, accounts []string, opt actions.Options) (*actions.Result, *recorder) {
	t.Helper()
	rec := &recorder{}
	res, err := e.Apply(context.Background(), action, accounts, opt, rec)
	if err != nil {
		t.Fatalf("apply %s: %v", action, err)
	}
	if len(rec.steps) != len(res.Steps()) || rec.records != 2*len(rec.steps) {
		t.Fatalf("apply %s: recorded %d steps in %d records, result has %d", action, len(rec.steps), rec.records, len(res.Steps()))
	}
	recorded := map[string]string{}
	for _, s := range rec.steps {
		recorded[s.Key] = s.Status
	}
	for _, s := range res.Steps() {
		if recorded[s.Key] != s.Status || s.Request != opt.RequestID {
			t.Fatalf("recorded %q for %s, result has %+v", recorded[s.Key], s.Key, s)
		}
	}
	return res, rec
}

// exemptPrincipal says whether a principal ARN must never be touched.
func exemptPrincipal(arn string) bool {
	name := arn[strings.LastIndex(arn, "/")+1:]
	return strings.Contains(arn, ":role/BreakGlass") || strings.Contains(arn, ":user/breakglass-") ||
		strings.HasSuffix(arn, ":role/"+actions.DefaultBotRoleName) ||
		strings.Contains(arn, "/aws-service-role/") || strings.HasPrefix(name, "AWSReservedSSO_")
}

func TestExemptionsAcrossEveryAction(t *testing.T) {
	for _, orgName := range []string{"codespaces", "org"} {
		for _, action := range mutating {
			t.Run(orgName+"/"+action, func(t *testing.T) {
				org := builtin(t, orgName)
				e := engine(t, org)
				plan, err := e.Plan(context.Background(), action, org.Accounts(), actions.Options{})
				if err != nil {
					t.Fatal(err)
				}
				reasons := map[string]string{}
				for _, a := range plan.Accounts {
					if a.Error != "" {
						t.Fatalf("plan error in %s: %s", a.Account, a.Error)
					}
					for _, x := range a.Exempt {
						reasons[x.Principal] = x.Reason
					}
				}
				var sawPattern, sawTag, sawBot, sawSLR, sawSSO bool
				for p, r := range reasons {
					switch {
					case strings.HasPrefix(r, "break-glass pattern"):
						sawPattern = true
					case strings.HasPrefix(r, "break-glass tag"):
						sawTag = true
					case strings.HasPrefix(r, "the bot's own role"):
						sawBot = true
					case strings.HasPrefix(r, "service-linked role"):
						sawSLR = true
					case strings.HasPrefix(r, "IAM Identity Center role"):
						sawSSO = true
					default:
						t.Errorf("%s exempt for an unknown reason %q", p, r)
					}
				}
				if !sawTag {
					t.Errorf("plan did not report the break-glass user exempt by tag: %v", reasons)
				}
				touchesRoles := action != actions.DisableUsers && action != actions.RotateKeys
				if touchesRoles && (!sawPattern || !sawBot || !sawSLR || !sawSSO) {
					t.Errorf("plan did not report break-glass pattern (%v), bot (%v), service-linked (%v) and Identity Center (%v) exemptions", sawPattern, sawBot, sawSLR, sawSSO)
				}
				if !touchesRoles && (sawBot || sawSLR || sawSSO) {
					t.Errorf("a users-only action listed roles as exempt: %v", reasons)
				}
				res, _ := apply(t, e, action, org.Accounts(), actions.Options{RequestID: "ks-test"})
				if f := res.Problems(); len(f) > 0 {
					t.Fatalf("apply %s failed steps: %v", action, f)
				}
				if res.Changed() == 0 {
					t.Fatalf("apply %s changed nothing", action)
				}
				for _, s := range res.Steps() {
					if reasons[s.Principal] != "" || exemptPrincipal(s.Principal) {
						t.Errorf("step %s touched exempt principal %s", s.Key, s.Principal)
					}
				}
			})
		}
	}
}

func TestSecondApplyChangesNothing(t *testing.T) {
	for _, action := range mutating {
		t.Run(action, func(t *testing.T) {
			org := builtin(t, "org")
			e := engine(t, org)
			opt := actions.Options{RequestID: "ks-twice", RevokeBefore: t0}
			first, _ := apply(t, e, action, org.Accounts(), opt)
			if first.Changed() == 0 {
				t.Fatal("first apply changed nothing")
			}
			before := snapshots(org)
			second, _ := apply(t, e, action, org.Accounts(), opt)
			if n := second.Changed(); n != 0 {
				t.Fatalf("second apply made %d changes: %v", n, second.Steps())
			}
			if !reflect.DeepEqual(before, snapshots(org)) {
				t.Fatal("second apply changed the simulated state")
			}
		})
	}
}

func snapshots(org *sim.Org) map[string]sim.AccountState {
	out := map[string]sim.AccountState{}
	for _, a := range org.Accounts() {
		out[a] = org.Snapshot(a)
	}
	return out
}

func TestUndoRestoresPriorState(t *testing.T) {
	for _, action := range mutating {
		t.Run(action, func(t *testing.T) {
			org := builtin(t, "org")
			e := engine(t, org)
			before := snapshots(org)
			res, rec := apply(t, e, action, org.Accounts(), actions.Options{RequestID: "ks-undo"})
			if res.Changed() == 0 {
				t.Fatal("apply changed nothing")
			}
			undo, err := e.Undo(context.Background(), action, rec.steps, actions.Options{RequestID: "ks-undo-2"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if f := undo.Problems(); len(f) > 0 {
				t.Fatalf("undo failed: %v", f)
			}
			after := snapshots(org)
			// an undo retried (after a crash or a timeout) changes nothing and fails nothing
			again, err := e.Undo(context.Background(), action, rec.steps, actions.Options{RequestID: "ks-undo-3"}, nil)
			if err != nil || len(again.Problems()) > 0 {
				t.Fatalf("second undo: %v %v", err, again.Problems())
			}
			if !reflect.DeepEqual(after, snapshots(org)) {
				t.Fatal("a second undo changed the state")
			}
			lostPasswords := 0
			for _, s := range rec.steps {
				if s.Op == "delete-login-profile" {
					lostPasswords++
				}
			}
			reported := 0
			for _, a := range undo.Accounts {
				for _, w := range a.Warnings {
					if strings.Contains(w, "console password") {
						reported++
					}
				}
			}
			if reported != lostPasswords {
				t.Errorf("undo reported %d lost passwords, apply deleted %d", reported, lostPasswords)
			}
			for acct := range before {
				b, a := before[acct], after[acct]
				if lostPasswords > 0 {
					b, a = withoutLoginProfiles(b), withoutLoginProfiles(a)
				}
				b, a = withoutReplacements(b, a)
				if !reflect.DeepEqual(b, a) {
					t.Errorf("account %s differs after undo:\n%s", acct, diffState(b, a))
				}
			}
		})
	}
}

func TestFaultInOneAccountLeavesOthersContainedAndRerunCompletes(t *testing.T) {
	org := builtin(t, "org")
	// the simulation answers at once: once throttled, the pacer need not
	// hold IAM to the 20 calls/s AWS allows (that costs a minute here)
	e, err := actions.New(org.Provider(actions.DefaultBotRoleName), actions.Config{
		BreakGlassPatterns: breakGlass, BreakGlassTag: bgTag, Concurrency: 4, Rates: map[string]float64{"IAM": 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	accounts := org.Accounts()
	victim := accounts[len(accounts)-1]
	org.InjectFault(sim.Fault{Account: victim, Operation: "UpdateAccessKey", Throttle: true})
	opt := actions.Options{RequestID: "ks-fault", RevokeBefore: t0}
	res, _ := apply(t, e, actions.Lockdown, accounts, opt)
	if res.Status != actions.StatusPartial {
		t.Fatalf("status %s, want partial", res.Status)
	}
	for _, a := range res.Accounts {
		want := actions.StatusSucceeded
		if a.Account == victim {
			want = actions.StatusPartial
		}
		if a.Status != want {
			t.Errorf("account %s: %s, want %s (%s)", a.Account, a.Status, want, a.Error)
		}
	}
	for _, a := range accounts {
		if a != victim && activeKeys(org, a) != 0 {
			t.Errorf("account %s still has active non-exempt keys", a)
		}
	}
	if activeKeys(org, victim) == 0 {
		t.Fatal("the fault did not stop anything")
	}
	org.ClearFaults()
	rerun, _ := apply(t, e, actions.Lockdown, accounts, opt)
	if rerun.Status != actions.StatusSucceeded {
		t.Fatalf("rerun %s: %v", rerun.Status, rerun.Problems())
	}
	for _, s := range rerun.Steps() {
		if s.Account != victim {
			t.Errorf("rerun changed %s in a completed account", s.Key)
		}
	}
	if activeKeys(org, victim) != 0 {
		t.Fatal("rerun did not complete the victim account")
	}
}

// activeKeys counts active access keys of non-exempt users.
func activeKeys(org *sim.Org, account string) int {
	return countActive(org.Snapshot(account))
}

func TestMoreThanOneHundredUsersCovered(t *testing.T) {
	org := builtin(t, "org")
	e := engine(t, org)
	big := ""
	for _, a := range org.Accounts() {
		if len(org.Snapshot(a).Users) > 100 {
			big = a
		}
	}
	if big == "" {
		t.Fatal("the org built-in has no account with more than 100 users")
	}
	res, _ := apply(t, e, actions.DisableUsers, []string{big}, actions.Options{RequestID: "ks-big"})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	if n := activeKeys(org, big); n != 0 {
		t.Fatalf("%d active keys left in %s", n, big)
	}
	for _, u := range org.Snapshot(big).Users {
		if !exemptPrincipal(u.Arn) && u.Tags[bgTag] == "" && u.LoginProfile {
			t.Errorf("user %s still has a login profile", u.Arn)
		}
	}
}

func TestRotateKeysRespectsTwoKeyLimitAndKeepsSecretsOut(t *testing.T) {
	org := sim.NewStandalone("111122223333")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(org.AddUser("111122223333", sim.User{Name: "one", AccessKeys: []sim.AccessKey{{Active: true}}}))
	must(org.AddUser("111122223333", sim.User{Name: "active-inactive", AccessKeys: []sim.AccessKey{{Active: true}, {Active: false}}}))
	must(org.AddUser("111122223333", sim.User{Name: "two-active", AccessKeys: []sim.AccessKey{{Active: true}, {Active: true}}}))
	must(org.AddUser("111122223333", sim.User{Name: "none"}))
	e := engine(t, org)
	res, _ := apply(t, e, actions.RotateKeys, []string{"111122223333"}, actions.Options{RequestID: "ks-rot"})
	if f := res.Problems(); len(f) > 0 {
		t.Fatal(f)
	}
	st := org.Snapshot("111122223333")
	byName := map[string]sim.UserState{}
	for _, u := range st.Users {
		byName[u.Name] = u
	}
	keys := func(u string) (active, total int) {
		for _, k := range byName[u].AccessKeys {
			total++
			if k.Active {
				active++
			}
		}
		return
	}
	for _, tc := range []struct {
		user          string
		active, total int
		secret        bool
	}{
		{"one", 1, 2, true},
		{"active-inactive", 0, 2, false},
		{"two-active", 0, 2, false},
		{"none", 0, 0, false},
	} {
		a, n := keys(tc.user)
		if a != tc.active || n != tc.total {
			t.Errorf("%s: %d active of %d keys, want %d of %d", tc.user, a, n, tc.active, tc.total)
		}
		v, ok := org.SecretValue("111122223333", actions.SecretName(tc.user))
		if ok != tc.secret {
			t.Errorf("%s: secret stored = %v, want %v", tc.user, ok, tc.secret)
		}
		if ok {
			var kv struct{ AccessKeyId, SecretAccessKey string }
			if err := json.Unmarshal([]byte(v), &kv); err != nil || len(kv.SecretAccessKey) < 20 {
				t.Fatalf("%s: secret value is not a key: %v", tc.user, err)
			}
			var activeID string
			for _, k := range byName[tc.user].AccessKeys {
				if k.Active {
					activeID = k.ID
				}
			}
			if kv.AccessKeyId != activeID {
				t.Errorf("%s: secret holds %s, the active key is %s", tc.user, kv.AccessKeyId, activeID)
			}
			out, _ := json.Marshal(res)
			if strings.Contains(string(out), kv.SecretAccessKey) {
				t.Fatal("the result contains the secret access key")
			}
		}
	}
	warned := false
	for _, w := range res.Accounts[0].Warnings {
		if strings.Contains(w, "two-active") && strings.Contains(w, "2 access keys") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning about the two-key limit: %v", res.Accounts[0].Warnings)
	}
}

func TestPlanIsReadOnlyAndMatchesApply(t *testing.T) {
	org := builtin(t, "org")
	e := engine(t, org)
	before := snapshots(org)
	calls := org.Calls()
	plan, err := e.Plan(context.Background(), actions.Lockdown, org.Accounts(), actions.Options{RevokeBefore: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, snapshots(org)) {
		t.Fatal("plan changed the state")
	}
	for op, n := range org.Calls() {
		verb := op[strings.Index(op, ".")+1:]
		readOnly := strings.HasPrefix(verb, "List") || strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "Describe") || verb == "AssumeRole" || verb == "AssumeRoot" // the plan's root sessions carry the audit task policy (root.go)
		if n != calls[op] && !readOnly {
			t.Errorf("plan called %s", op)
		}
	}
	res, _ := apply(t, e, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "ks-diff", RevokeBefore: t0})
	unplanned, notDone := actions.Diff(plan, res)
	if len(unplanned) != 0 || len(notDone) != 0 {
		t.Fatalf("apply differs from plan: unplanned %v, not done %v", unplanned, notDone)
	}
}

func TestApplyContainsABackdoorCreatedAfterThePlan(t *testing.T) {
	org := builtin(t, "codespaces")
	e := engine(t, org)
	acct := org.Accounts()[0]
	plan, err := e.Plan(context.Background(), actions.DisableUsers, []string{acct}, actions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	must(t, org.AddUser(acct, sim.User{Name: "backdoor", Password: true, AccessKeys: []sim.AccessKey{{Active: true}}}))
	res, _ := apply(t, e, actions.DisableUsers, []string{acct}, actions.Options{RequestID: "ks-bd"})
	unplanned, _ := actions.Diff(plan, res)
	if len(unplanned) != 2 || !strings.Contains(strings.Join(unplanned, "\n"), "user/backdoor") {
		t.Fatalf("the backdoor's changes should be reported as unplanned: %v", unplanned)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFindBackdoors(t *testing.T) {
	org := builtin(t, "codespaces")
	acct := org.Accounts()[0]
	now := time.Now()
	must(t, org.AddUser(acct, sim.User{Name: "svc-backup2", Password: true, AccessKeys: []sim.AccessKey{{Active: true}}, Created: now}))
	must(t, org.AddRole(acct, sim.Role{Name: "OutsideAudit", Created: now.Add(-30 * 24 * time.Hour),
		Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}`}))
	e := engine(t, org)
	plan, err := e.Plan(context.Background(), actions.FindBackdoors, []string{acct}, actions.Options{Since: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := json.Marshal(plan)
	for _, want := range []string{"user/svc-backup2", "user created", "console password created", "access key", "role/OutsideAudit", "999988887777"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("find-backdoors did not report %q: %s", want, text)
		}
	}
	res, _ := apply(t, e, actions.FindBackdoors, []string{acct}, actions.Options{Since: now.Add(-time.Hour)})
	if res.Changed() != 0 || len(res.Accounts[0].Findings) == 0 {
		t.Fatalf("find-backdoors must change nothing and find something: %+v", res)
	}
}

func TestUnknownActionAndBadAccount(t *testing.T) {
	org := builtin(t, "codespaces")
	e := engine(t, org)
	if _, err := e.Plan(context.Background(), "nuke", org.Accounts(), actions.Options{}); err == nil || !strings.Contains(err.Error(), "lockdown") {
		t.Errorf("unknown action error should list the actions: %v", err)
	}
	if _, err := e.Plan(context.Background(), actions.Lockdown, []string{"12345"}, actions.Options{}); err == nil || !strings.Contains(err.Error(), "12 digits") {
		t.Errorf("bad account: %v", err)
	}
	plan, err := e.Plan(context.Background(), actions.Lockdown, []string{"999999999999"}, actions.Options{})
	if err != nil || plan.Accounts[0].Error == "" {
		t.Errorf("an unknown account must be reported in its plan entry: %v %+v", err, plan)
	}
}

func TestBadConfig(t *testing.T) {
	org := builtin(t, "codespaces")
	for _, pats := range [][]string{{"BreakGlass*"}, {"arn:aws:iam::*:role/*"}, {"arn:aws:iam::*:*"}, {`arn:aws:iam::*:role/x"}`}} {
		if _, err := actions.New(org.Provider("KillSwitchResponder"), actions.Config{BreakGlassPatterns: pats}); err == nil {
			t.Errorf("pattern %q accepted", pats)
		}
	}
}

func diffState(a, b sim.AccountState) string {
	x, _ := json.MarshalIndent(a, "", " ")
	y, _ := json.MarshalIndent(b, "", " ")
	xl, yl := strings.Split(string(x), "\n"), strings.Split(string(y), "\n")
	var out []string
	for i := 0; i < len(xl) || i < len(yl); i++ {
		var l, r string
		if i < len(xl) {
			l = xl[i]
		}
		if i < len(yl) {
			r = yl[i]
		}
		if l != r {
			out = append(out, fmt.Sprintf("line %d: -%s +%s", i, l, r))
			if len(out) > 10 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// withoutLoginProfiles blanks console passwords, which cannot come back.
func withoutLoginProfiles(st sim.AccountState) sim.AccountState {
	st.Users = append([]sim.UserState(nil), st.Users...)
	for i := range st.Users {
		st.Users[i].LoginProfile = false
	}
	return st
}

// withoutReplacements removes what rotate-keys leaves on purpose after an
// undo: the replacement keys (inactive: killswitch never deletes a key) and
// the secrets holding them. Anything else new, or a new active key, stays
// and fails the comparison.
func withoutReplacements(before, after sim.AccountState) (sim.AccountState, sim.AccountState) {
	had := map[string]bool{}
	for _, u := range before.Users {
		for _, k := range u.AccessKeys {
			had[k.ID] = true
		}
	}
	after.Users = append([]sim.UserState(nil), after.Users...)
	for i, u := range after.Users {
		var keys []sim.CredentialState
		for _, k := range u.AccessKeys {
			if had[k.ID] || k.Active {
				keys = append(keys, k)
			}
		}
		if keys == nil {
			keys = []sim.CredentialState{}
		}
		after.Users[i].AccessKeys = keys
	}
	before.Secrets, after.Secrets = nil, nil
	return before, after
}

// crashRecorder loses the outcome of the first key deactivation, as if the
// process died right after the AWS call.
type crashRecorder struct {
	recorder
	mu      sync.Mutex
	crashed bool
}

func (c *crashRecorder) Record(ctx context.Context, s actions.Step) error {
	c.mu.Lock()
	crash := s.Op == "deactivate-access-key" && s.Status == actions.StepDone && !c.crashed
	c.crashed = c.crashed || crash
	c.mu.Unlock()
	if crash {
		return fmt.Errorf("the process died")
	}
	return c.recorder.Record(ctx, s)
}

func TestUndoReversesAChangeWhoseOutcomeWasNeverRecorded(t *testing.T) {
	org := builtin(t, "codespaces")
	e := engine(t, org)
	acct := org.Accounts()[0]
	before := org.Snapshot(acct)
	rec := &crashRecorder{}
	res, err := e.Apply(context.Background(), actions.DisableUsers, []string{acct}, actions.Options{RequestID: "ks-crash"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounts[0].Error == "" {
		t.Fatal("a failing recorder must stop the run in that account")
	}
	var started *actions.Step
	for i, s := range rec.steps {
		if s.Status == actions.StepStarted {
			started = &rec.steps[i]
		}
	}
	if started == nil || started.Op != "deactivate-access-key" {
		t.Fatalf("the interrupted change should be recorded as started: %+v", rec.steps)
	}
	if activeKeys(org, acct) == countActive(before) {
		t.Fatal("the crashed step did not change AWS")
	}
	undo, err := e.Undo(context.Background(), actions.DisableUsers, rec.steps, actions.Options{RequestID: "ks-crash-undo"}, nil)
	if err != nil || len(undo.Problems()) > 0 {
		t.Fatalf("undo: %v %v", err, undo.Problems())
	}
	if got := activeKeys(org, acct); got != countActive(before) {
		t.Fatalf("undo left %d active keys, want %d: the change recorded only as started was not reversed", got, countActive(before))
	}
}

func countActive(st sim.AccountState) int {
	n := 0
	for _, u := range st.Users {
		if exemptPrincipal(u.Arn) || u.Tags[bgTag] != "" {
			continue
		}
		for _, k := range u.AccessKeys {
			if k.Active {
				n++
			}
		}
	}
	return n
}

// TestDiffIgnoresThePinnedTime: the card's plan is made when the request is
// made, the run pins the cut-off when it starts; that is not a difference.
func TestDiffIgnoresThePinnedTime(t *testing.T) {
	org := builtin(t, "codespaces")
	e := engine(t, org)
	plan, err := e.Plan(context.Background(), actions.RevokeSessions, org.Accounts(), actions.Options{RevokeBefore: t0})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := apply(t, e, actions.RevokeSessions, org.Accounts(), actions.Options{RequestID: "ks-later", RevokeBefore: t0.Add(90 * time.Second)})
	if u, n := actions.Diff(plan, res); len(u) != 0 || len(n) != 0 {
		t.Fatalf("a later pinned time shows as a difference: unplanned %v, not done %v", u, n)
	}
}

// TestRevokeCutOffRoundsUp: the policy holds whole seconds; a session issued
// a millisecond before the pinned time must still be cut.
func TestRevokeCutOffRoundsUp(t *testing.T) {
	org := builtin(t, "codespaces")
	e := engine(t, org)
	acct := org.Accounts()[0]
	pin := t0.Add(400 * time.Millisecond)
	apply(t, e, actions.RevokeSessions, []string{acct}, actions.Options{RequestID: "ks-ms", RevokeBefore: pin})
	just := sim.Credential{Account: acct, Principal: "arn:aws:iam::" + acct + ":role/ci-deploy", SessionIssued: pin.Add(-time.Millisecond)}
	if err := org.Authorize(just, "s3:ListAllMyBuckets", "*"); err == nil {
		t.Fatal("a session issued 1ms before the pinned time survived")
	}
}
