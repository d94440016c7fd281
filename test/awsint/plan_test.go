package awsint

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/policies"
)

// planWant is what the plan of one account must say.
type planWant struct {
	targets map[string][]string // principal -> changes
	exempt  map[string]string   // principal -> reason (a prefix for SLR and SSO roles)
}

func newPlanWant() *planWant {
	return &planWant{targets: map[string][]string{}, exempt: map[string]string{}}
}

func (w *planWant) add(principal string, changes ...string) {
	w.targets[principal] = append(w.targets[principal], changes...)
}

// reason is the exemption reason killswitch gives each seeded category.
func reason(category string) string {
	switch category {
	case ExemptBot:
		return "the bot's own role (" + ResponderRole + ")"
	case ExemptPattern:
		return "break-glass pattern " + BreakGlassPattern
	case ExemptTag:
		return "break-glass tag " + BreakGlassTag
	case ExemptServiceLinked:
		return "service-linked role:"
	case ExemptIdentityCenter:
		return "IAM Identity Center role:"
	}
	return "?"
}

// mask shows an access key id as plans do: AKIA...1234.
func mask(id string) string { return id[:4] + "..." + id[len(id)-4:] }

// wantPlan derives the plan of action for one account from what the seed
// made; parts are the guardrail's parts (GuardrailParts).
func wantPlan(org *Org, account, action, rootID string, rb time.Time, parts, rcp []string) *planWant {
	a := org.Accounts[account]
	w := newPlanWant()
	exemptAll := func(ps []Principal) []Principal {
		var act []Principal
		for _, p := range ps {
			if p.Exempt != "" {
				w.exempt[p.ARN] = reason(p.Exempt)
			} else {
				act = append(act, p)
			}
		}
		return act
	}
	for _, ph := range Phases(action) {
		switch ph {
		case actions.DenyDelete:
			if account != org.Management {
				// the SCP's conditions exempt them: the plan shows who; the
				// SCP binds IAM Identity Center roles like any other, so
				// deny-delete alone does not list them as exempt (lockdown
				// does: its other steps cannot change them)
				var ps []Principal
				for _, p := range append(append([]Principal(nil), a.Users...), a.Roles...) {
					if action != actions.DenyDelete || p.Exempt != ExemptIdentityCenter {
						ps = append(ps, p)
					}
				}
				exemptAll(ps)
				for i := range parts {
					w.add("account "+account, "attach SCP "+actions.DenyDeletePartName(i))
				}
				for i := range rcp {
					w.add("account "+account, "attach RCP "+policies.PartName(actions.DenyDeleteRCPName, i))
				}
				continue
			}
			w.add("organization root "+rootID, "enable service control policies (AWS attaches FullAWSAccess everywhere, which restricts nothing)")
			w.add("organization root "+rootID, "enable resource control policies (AWS attaches RCPFullAWSAccess everywhere, which restricts nothing)")
			for i, doc := range rcp {
				name := policies.PartName(actions.DenyDeleteRCPName, i)
				w.add("RCP "+name, fmt.Sprintf("create RCP %s (%d characters; part %d of %d of the guardrail)", name, len(doc), i+1, len(rcp)))
			}
			targets := append(exemptAll(append(append([]Principal(nil), a.Users...), a.Roles...)), a.Groups...)
			for i, doc := range parts {
				name := actions.DenyDeletePartName(i)
				w.add("SCP "+name, fmt.Sprintf("create SCP %s (%d characters; part %d of %d of the guardrail)", name, len(doc), i+1, len(parts)))
				w.add("policy "+DenyDeletePartARN(account, i), fmt.Sprintf("create IAM managed policy /killswitch/%s (%d characters; part %d of %d of the guardrail)", name, len(doc), i+1, len(parts)))
				for _, p := range targets {
					w.add(p.ARN, "attach managed policy "+name)
				}
			}
		case actions.RevokeSessions:
			change := fmt.Sprintf("deny sessions issued before %s (inline policy %s)", rb.UTC().Format(time.RFC3339), actions.RevokePolicyName)
			for _, p := range exemptAll(append(append([]Principal(nil), a.Users...), a.Roles...)) {
				w.add(p.ARN, change)
			}
			if account != org.Management && !org.Standalone {
				// IAM Identity Center sessions: the member's own SCP
				name := actions.RevokeSSOPolicyName(account)
				sso := fmt.Sprintf("IAM Identity Center sessions issued before %s denied", rb.UTC().Format(time.RFC3339))
				w.add("SCP "+name, "create SCP "+name+" ("+sso+")")
				w.add("account "+account, "attach SCP "+name+" ("+sso+")")
			}
		case actions.DisableUsers:
			for _, u := range exemptAll(a.Users) {
				if u.LoginProfile {
					w.add(u.ARN, "delete login profile")
				}
				for _, k := range u.AccessKeys {
					w.add(u.ARN, "deactivate key "+mask(k))
				}
				for _, k := range u.SSHKeys {
					w.add(u.ARN, "deactivate SSH public key "+k)
				}
			}
		case actions.RotateKeys:
			for _, u := range exemptAll(a.Users) {
				if len(u.AccessKeys) == 0 {
					continue
				}
				if len(u.AccessKeys) < 2 {
					w.add(u.ARN, "create a replacement key, stored in Secrets Manager as "+actions.SecretName(u.Name))
				}
				for _, k := range u.AccessKeys {
					w.add(u.ARN, "deactivate old key "+mask(k))
				}
			}
		}
	}
	return w
}

// rootID reads the organization root's id with the test's own client.
func rootID(t *testing.T) string {
	t.Helper()
	roots, err := organizations.NewFromConfig(motoConfig()).ListRoots(context.Background(), &organizations.ListRootsInput{})
	if err != nil || len(roots.Roots) != 1 {
		t.Fatalf("list roots: %v %v", roots, err)
	}
	return aws.ToString(roots.Roots[0].Id)
}

// TestPlanEveryAction discovers the accounts and plans every action through
// the engine and the real factory on the emulated organization, and checks,
// per account, every
// target and change, every exemption and its reason (break-glass by tag and
// by pattern, the bot's role, service-linked and Identity Center roles
// reported, not failed), the warnings, and that planning changed nothing.
func TestPlanEveryAction(t *testing.T) {
	org := reseed(t, defaultSeed)
	f := newFactory(t)
	e := newEngine(t, f, nil)
	ctx := context.Background()
	rb := time.Now().UTC().Truncate(time.Second)
	// The factory discovers the organization's accounts (as the CLI's
	// organization: true does) through the management account's role.
	ids, err := f.DiscoverAccounts(ctx)
	if err != nil || !slices.Equal(ids, org.IDs()) {
		t.Fatalf("DiscoverAccounts: %v %v, want %v", ids, err, org.IDs())
	}
	parts := GuardrailParts(t, org, e)
	rcp := RCPParts(t, org, motoConfig())
	root := rootID(t)
	before := readState(t, org, nil)

	for _, action := range actions.Names() {
		t.Run(action, func(t *testing.T) {
			plan, err := e.Plan(ctx, action, org.IDs(), actions.Options{RequestID: "ks-it-plan", RevokeBefore: rb})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Action != action || len(plan.Accounts) != len(org.IDs()) {
				t.Fatalf("plan of %s for %d accounts:\n%s", plan.Action, len(plan.Accounts), mustJSON(t, plan))
			}
			for i, ap := range plan.Accounts {
				if ap.Account != org.IDs()[i] {
					t.Errorf("account %d is %s, want %s (the scope's order)", i, ap.Account, org.IDs()[i])
				}
				kind := actions.KindMember
				if ap.Account == org.Management {
					kind = actions.KindManagement
				}
				if ap.Kind != kind || ap.Error != "" {
					t.Errorf("%s: kind %q error %q, want kind %s and no error", ap.Account, ap.Kind, ap.Error, kind)
				}
				if action == actions.RemoveRootCredentials {
					checkRootPlan(t, org, ap) // root_test.go
					continue
				}
				if action == actions.BackupReadiness || action == actions.LockBackups {
					checkBackupPlanOnMoto(t, action, ap)
					continue
				}
				for _, w := range ap.Warnings {
					for _, ph := range Phases(action) {
						if strings.HasPrefix(w, ph+": ") {
							t.Errorf("%s: %s could not be planned: %s", ap.Account, ph, w)
						}
					}
				}
				if action == actions.FindBackdoors {
					checkBackdoorPlan(t, org, ap)
					continue
				}
				checkPlanAccount(t, ap, wantPlan(org, ap.Account, action, root, rb, parts, rcp))
				checkPlanWarnings(t, org, action, ap, parts)
			}
		})
	}
	AssertState(t, "after planning every action (plans are read-only)", before, readState(t, org, nil))
}

func checkPlanAccount(t *testing.T, ap actions.AccountPlan, want *planWant) {
	t.Helper()
	got := map[string][]string{}
	for _, tg := range ap.Targets {
		got[tg.Principal] = append(got[tg.Principal], tg.Changes...)
	}
	for p, changes := range want.targets {
		g := append([]string(nil), got[p]...)
		w := append([]string(nil), changes...)
		sort.Strings(g)
		sort.Strings(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s: %s: changes %q, want %q", ap.Account, p, g, w)
		}
	}
	for p, changes := range got {
		if _, ok := want.targets[p]; !ok {
			t.Errorf("%s: unexpected target %s: %q", ap.Account, p, changes)
		}
	}
	gotEx := map[string]string{}
	for _, x := range ap.Exempt {
		gotEx[x.Principal] = x.Reason
	}
	for p, r := range want.exempt {
		g, ok := gotEx[p]
		switch {
		case !ok:
			t.Errorf("%s: %s is not reported exempt (want %q)", ap.Account, p, r)
		case strings.HasSuffix(r, ":") && !strings.HasPrefix(g, r), !strings.HasSuffix(r, ":") && g != r:
			t.Errorf("%s: %s exempt because %q, want %q", ap.Account, p, g, r)
		}
	}
	for p, r := range gotEx {
		if _, ok := want.exempt[p]; !ok {
			t.Errorf("%s: unexpected exemption %s: %q", ap.Account, p, r)
		}
	}
}

func checkPlanWarnings(t *testing.T, org *Org, action string, ap actions.AccountPlan, parts []string) {
	t.Helper()
	all := strings.Join(ap.Warnings, "\n")
	need := func(sub string) {
		if !strings.Contains(all, sub) {
			t.Errorf("%s: %s: no warning containing %q; warnings:\n%s", ap.Account, action, sub, all)
		}
	}
	roles := false
	for _, ph := range Phases(action) {
		switch {
		case ph == actions.RevokeSessions, ph == actions.DenyDelete:
			roles = true
		}
		if ph == actions.DenyDelete && ap.Account == org.Management {
			need(IAMFallbackWarning(parts, "SCPs do not restrict the management account"))
		}
		if ph == actions.DenyDelete && ap.Account != org.Management {
			// the plan says how many of the account's SCP slots the guardrail takes
			need(fmt.Sprintf("deny-delete uses %d of AWS's 5 SCP slots on account %s (%s)", len(parts), ap.Account, strings.Join(GuardrailPartNames(len(parts)), ", ")))
		}
		if ph == actions.RotateKeys {
			need("user arn:aws:iam::" + ap.Account + ":user/bob already has 2 access keys")
		}
	}
	if roles {
		need("1 service-linked role(s) cannot carry the change")
		if action == actions.DenyDelete && ap.Account != org.Management {
			need("1 IAM Identity Center role(s) are bound by the SCP like every other principal of the account (not exempt)")
		} else {
			need("1 IAM Identity Center role(s) cannot carry the change")
		}
		need("arn:aws:iam::" + ap.Account + ":role/" + BreakGlassRole + " is exempt (break-glass pattern")
		// the seed's break-glass role trusts the management account's root
		// (the plan may group this warning with others naming one role each)
		if !warnsAbout(ap.Warnings, "arn:aws:iam::"+ap.Account+":role/"+BreakGlassRole, "trusts all of account "+org.Management+": ") {
			t.Errorf("%s: %s: no warning that %s trusts all of account %s; warnings:\n%s", ap.Account, action, BreakGlassRole, org.Management, all)
		}
	}
}

// checkBackdoorPlan: find-backdoors reports the role trusting an outside
// account and every user (all made within the last 24 hours), flags the
// break-glass user's exemption for review, and exempts no one.
func checkBackdoorPlan(t *testing.T, org *Org, ap actions.AccountPlan) {
	t.Helper()
	if len(ap.Exempt) != 0 {
		t.Errorf("%s: find-backdoors exempts %v", ap.Account, ap.Exempt)
	}
	found := map[string]string{}
	for _, tg := range ap.Targets {
		found[tg.Principal] = strings.Join(tg.Changes, "; ")
	}
	a := org.Accounts[ap.Account]
	for _, r := range a.Roles {
		trusts := strings.Contains(found[r.ARN], "trusts ")
		if want := r.Name == "vendor-audit"; trusts != want {
			t.Errorf("%s: role %s: findings %q, want an outside-trust finding: %v", ap.Account, r.Name, found[r.ARN], want)
		}
	}
	vendor := "arn:aws:iam::" + ap.Account + ":role/vendor-audit"
	if !strings.Contains(found[vendor], "trusts arn:aws:iam::"+OutsideAccount+":root, outside the accounts in scope") {
		t.Errorf("%s: vendor-audit findings %q", ap.Account, found[vendor])
	}
	for _, u := range a.Users {
		if !strings.Contains(found[u.ARN], "user created ") {
			t.Errorf("%s: user %s created just now is not reported: %q", ap.Account, u.Name, found[u.ARN])
		}
		if u.Exempt != "" && !strings.Contains(found[u.ARN], "exempt as break-glass tag "+BreakGlassTag+": verify it is genuine") {
			t.Errorf("%s: the new break-glass user %s is not flagged for review: %q", ap.Account, u.Name, found[u.ARN])
		}
	}
}

// warnsAbout reports whether a warning containing text is about the
// principal arn: naming it, or grouped with others of its kind (plans group
// warnings that differ only by the principal they name: "… — 2 roles:
// BreakGlassAdmin, KillSwitchResponder").
func warnsAbout(warnings []string, arn, text string) bool {
	_, name, _ := strings.Cut(arn[strings.LastIndex(arn, ":")+1:], "/")
	for _, w := range warnings {
		if !strings.Contains(w, text) {
			continue
		}
		if strings.Contains(w, arn+" ") {
			return true
		}
		if i := strings.LastIndex(w, " — "); i >= 0 {
			if _, list, ok := strings.Cut(w[i:], ": "); ok && slices.Contains(strings.Split(list, ", "), name) {
				return true
			}
		}
	}
	return false
}

// motoBackupGaps are the calls moto does not implement (test/README.md):
// backup-readiness and lock-backups name each failure and go on.
var motoBackupGaps = []string{"rbin: ListRules", "EC2: DescribeLockedSnapshots", "Backup: ListRecoveryPointsByBackupVault"}

// checkBackupPlanOnMoto: on moto every warning of backup-readiness or
// lock-backups names one of the emulator's gaps (nothing else fails); the
// snapshots whose protection could not be read say so, the other targets
// are unprotected data; lock-backups creates no rule where it could not
// read the rules.
func checkBackupPlanOnMoto(t *testing.T, action string, ap actions.AccountPlan) {
	t.Helper()
	for _, w := range ap.Warnings {
		if !strings.HasPrefix(w, action+": ") {
			continue
		}
		if !slices.ContainsFunc(motoBackupGaps, func(g string) bool { return strings.Contains(w, g) }) {
			t.Errorf("%s: %s: a failure that is not one of moto's gaps: %s", ap.Account, action, w)
		}
	}
	for _, tg := range ap.Targets {
		for _, c := range tg.Changes {
			switch {
			case action == actions.LockBackups:
				t.Errorf("%s: lock-backups plans %s on %s though the rules could not be read", ap.Account, c, tg.Principal)
			case strings.HasPrefix(c, "protection unknown:") && strings.Contains(tg.Principal, ":snapshot/"),
				strings.HasPrefix(c, "protection unknown:") && strings.Contains(tg.Principal, ":image/"),
				strings.HasPrefix(c, "unprotected:"):
			default:
				t.Errorf("%s: backup-readiness: %s: %s", ap.Account, tg.Principal, c)
			}
		}
	}
}
