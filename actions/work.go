package actions

import (
	"context"
	"fmt"
)

// Step ops.
const (
	opEnableSCPType       = "enable-scp-policy-type"
	opCreateSCP           = "create-scp"
	opUpdateSCP           = "update-scp"
	opAttachSCP           = "attach-scp"
	opEnableRCPType       = "enable-rcp-policy-type"
	opCreateRCP           = "create-rcp"
	opUpdateRCP           = "update-rcp"
	opAttachRCP           = "attach-rcp"
	opCreateManaged       = "create-managed-policy"
	opAttachManaged       = "attach-managed-policy"
	opPutInline           = "put-inline-policy"
	opDeleteLoginProfile  = "delete-login-profile"
	opDeactivateKey       = "deactivate-access-key"
	opDeactivateSSH       = "deactivate-ssh-key"
	opDeactivateSvcCred   = "deactivate-service-credential"
	opCreateReplacementAK = "create-replacement-key"
)

// op is one planned change: the step it will record and how to make it.
// Plan shows the steps; Apply runs them. Both come from the same builder,
// so what is shown is what runs.
type op struct {
	step Step
	run  func(ctx context.Context, s *Step) error
}

// work is what one phase will do in one account.
type work struct {
	ops      []op
	exempt   []Exemption
	warnings []string
	findings []Target
	failures []PrincipalFailure // principals that could not be read (failure.go)
	readOnly bool               // find-backdoors: a failure means not searched, rather than not contained
}

func (w *work) add(s Step, run func(ctx context.Context, s *Step) error) {
	if s.Key == "" {
		s.Key = fmt.Sprintf("%s/%s/%s/%s/%s", s.Action, s.Account, s.Op, s.Principal, s.Resource)
	}
	w.ops = append(w.ops, op{step: s, run: run})
}

// build reads the live state of one account and returns what the phase
// would change there.
func (e *Engine) build(ctx context.Context, a *acct, phase string, opt Options, org *orgWork) (*work, error) {
	ctx = e.withStrict(withBaseline(ctx, opt.Baseline))
	switch phase {
	case DenyDelete:
		return a.buildDenyDelete(ctx, org)
	case RevokeSessions:
		return a.buildRevokeSessions(ctx, opt)
	case DisableUsers:
		return a.buildDisableUsers(ctx)
	case RotateKeys:
		return a.buildRotateKeys(ctx, opt)
	case FindBackdoors:
		return a.buildFindBackdoors(ctx, opt)
	case BackupReadiness:
		return a.buildBackupReadiness(ctx)
	case LockBackups:
		return a.buildLockBackups(ctx)
	case RemoveRootCredentials:
		return a.buildRemoveRoot(ctx)
	case ContainIdentityCenter:
		return a.buildContainIC(ctx, opt)
	}
	return nil, fmt.Errorf("action %q has no builder", phase)
}
