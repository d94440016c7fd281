package actions

import (
	"fmt"
	"sort"
	"strings"
)

// Info describes a vetted action.
type Info struct {
	Name       string   `json:"name"`
	Summary    string   `json:"summary"`
	Mutating   bool     `json:"mutating"`
	Reversible bool     `json:"reversible"`
	Undo       string   `json:"undo"`
	Playbook   []string `json:"playbook,omitempty"` // the actions a playbook runs, in order
	Policies   []string `json:"policies,omitempty"` // policy documents it attaches (see package policies)
	// Costs: what the action's defenses cost while they are in place, one
	// line each (shown on the plan, the card and the runbook); undo lifts
	// every one.
	Costs []string `json:"costs,omitempty"`
	// ExtraApprovals: approvals needed beyond approval.required, for an
	// action whose effect cannot be undone (or not soon): the card says so.
	ExtraApprovals int `json:"extra_approvals,omitempty"`
}

// Costs of the defenses, one line each.
var (
	costFreeze = "IAM is frozen for everyone but break-glass and the bot until undo: no new users, keys, passwords, policies or role sessions (AWS services still get their roles' credentials)"
	costCanary = "the bot waits (up to aws.confirm_timeout, default 60s) until the canary role KillSwitchCanary, which the responder template creates in every account, is refused a dry-run delete"
	costRevoke = "every session of a non-exempt user or role issued before the cut-off ends, workloads' included: they need new credentials"
	costLogins = "console passwords are deleted and cannot come back with undo: users need new ones"
	costIC     = "the IAM Identity Center users and groups it names (every one but break-glass by default) lose their access-portal roles in the accounts in scope until undo"
)

// Action names.
const (
	DenyDelete     = "deny-delete"
	RevokeSessions = "revoke-sessions"
	DisableUsers   = "disable-users"
	RotateKeys     = "rotate-keys"
	FindBackdoors  = "find-backdoors"
	Lockdown       = "lockdown"
	// BackupReadiness and LockBackups: backups.go, lockbackups.go.
	BackupReadiness = "backup-readiness"
	LockBackups     = "lock-backups"
	// ContainIdentityCenter removes IAM Identity Center account assignments.
	ContainIdentityCenter = "contain-identity-center"
)

var costRbin = "deleted EBS snapshots and AMIs are kept (and billed as snapshot storage) for 14 days in every region read; the rules cannot be removed before their 7-day unlock delay"

var catalog = []Info{
	{Name: DenyDelete, Mutating: true, Reversible: true,
		Summary:  "guardrail: deny destructive calls (snapshots, AMIs, volumes, buckets and objects, backups, RDS, DynamoDB, KMS key deletion, trail and log deletion, leaving the Organization) to everyone but break-glass and the bot; an SCP on member accounts, an IAM managed policy on every non-exempt user, group and role of a management or standalone account; where the Organization allows resource control policies, also an RCP on member accounts that denies destroying data and changing bucket, key and secret policies to every principal, those outside the Organization included (RCPs never apply to the management account)",
		Undo:     "detach the SCP, RCP or managed policy and delete the policy killswitch created (the policy types it enabled stay enabled)",
		Policies: []string{"deny-delete", "deny-delete-rcp"}, Costs: []string{costFreeze, costCanary}},
	{Name: RevokeSessions, Mutating: true, Reversible: true,
		Summary:  "inline deny on aws:TokenIssueTime older than the request for every non-exempt role and user: every session issued before it stops working (long-term access keys are not affected: use disable-users); in member accounts an SCP (KillSwitchRevokeSSO-<account>) also ends the IAM Identity Center sessions issued before it, except break-glass Identity Center users'",
		Undo:     "remove the inline policy (or restore the one it replaced)",
		Policies: []string{"revoke-older-sessions", "revoke-sso-sessions"}, Costs: []string{costRevoke}},
	{Name: DisableUsers, Mutating: true, Reversible: true,
		Summary: "for every non-exempt IAM user: delete the console login profile, deactivate access keys, SSH public keys and service-specific credentials",
		Undo:    "reactivate what it deactivated; console passwords cannot come back and are reported",
		Costs:   []string{costLogins}},
	{Name: RotateKeys, Mutating: true, Reversible: true,
		Summary: "for every non-exempt user's active access key: create a replacement stored in Secrets Manager as killswitch/rotated-keys/<user> (never shown in Slack or logs), then deactivate the old key; never more than two keys per user",
		Undo:    "reactivate the old keys and deactivate the replacements"},
	{Name: FindBackdoors, Mutating: false, Reversible: false,
		Summary: "read-only: users, access keys, login profiles and customer managed policies created or changed since a time, and roles trusting principals outside the known accounts",
		Undo:    "nothing to undo"},
	{Name: ContainIdentityCenter, Mutating: true, Reversible: true,
		Summary: "remove the IAM Identity Center account assignments, in the accounts in scope, of the named users and groups (--principals user:NAME,group:NAME), or of every one but the break-glass users and groups; no new Identity Center session can then be had there (sessions already issued last until they expire: revoke-sessions ends them in member accounts)",
		Undo:    "create exactly the removed assignments again",
		Costs:   []string{costIC}},
	{Name: Lockdown, Mutating: true, Reversible: true,
		Summary:  "playbook, with one approval: deny-delete (the guardrail, which also freezes IAM and session minting for everyone but break-glass and the bot) on every account in scope, then disable-users, then contain-identity-center (every non-break-glass IAM Identity Center assignment), then revoke-sessions (IAM Identity Center sessions too, with an SCP in member accounts) with a cut-off taken after every long-term credential and assignment is cut, so no session minted during the run survives; in management and standalone accounts the IAM guardrail is re-attached to any new principal before each later phase",
		Undo:     "undo in reverse order",
		Playbook: []string{DenyDelete, DisableUsers, ContainIdentityCenter, RevokeSessions},
		Policies: []string{"deny-delete", "revoke-older-sessions", "revoke-sso-sessions"},
		Costs:    []string{costFreeze, costCanary, costRevoke, costLogins, costIC}},
	{Name: BackupReadiness, Mutating: false, Reversible: false,
		Summary: "read-only: per account and region (aws.region and the other enabled regions, at most 20), Recycle Bin rules for EBS snapshots and AMIs and whether they are locked, snapshots under snapshot lock, AWS Backup vaults with Vault Lock or logically air-gapped, S3 buckets with Object Lock and versioning; names every snapshot, AMI, recovery point and bucket nothing protects (versioning alone is weaker than Object Lock and is said so)",
		Undo:    "nothing to undo"},
	{Name: LockBackups, Mutating: true, Reversible: false, ExtraApprovals: 1,
		Summary: "in every region backup-readiness reads: a region-level Recycle Bin rule for EBS snapshots and one for AMIs, keeping deleted ones restorable for 14 days, created locked with a 7-day unlock delay and tagged killswitch:managed; skipped where a locked region-level rule already retains them",
		Undo:    "none before the unlock delay: a locked rule cannot be deleted or changed; undo says how to unlock it (rbin unlock-rule, then 7 days) and delete it",
		Costs:   []string{costRbin}},
}

// Catalog returns every vetted action, sorted by name.
func Catalog() []Info {
	out := append([]Info(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the action names, sorted.
func Names() []string {
	var n []string
	for _, i := range Catalog() {
		n = append(n, i.Name)
	}
	return n
}

// Lookup finds an action by name. The error says which names exist.
func Lookup(name string) (Info, error) {
	for _, i := range catalog {
		if i.Name == name {
			return i, nil
		}
	}
	return Info{}, fmt.Errorf("unknown action %q: choose one of %s", name, strings.Join(Names(), ", "))
}

// phasesFor is i.phases() as this engine runs them: without the order
// defense, lockdown revokes sessions before it cuts long-term credentials
// (the order killswitch used before, kept for drills).
func (e *Engine) phasesFor(i Info) []string {
	p := i.phases()
	if i.Name == Lockdown && !e.has(DefenseOrder) {
		return []string{DenyDelete, RevokeSessions, DisableUsers, ContainIdentityCenter}
	}
	return p
}

// phases returns the single actions an action runs, in order.
func (i Info) phases() []string {
	if len(i.Playbook) > 0 {
		return i.Playbook
	}
	return []string{i.Name}
}
