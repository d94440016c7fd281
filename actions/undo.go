package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// Undo reverses what an Apply of action did, from its recorded steps alone:
// only steps that are done (or may be: started or interrupted when the run
// died) and reversible, newest first, a playbook's phases in reverse order.
// What cannot come back (console passwords) is reported. Undo is idempotent:
// undoing something already undone, or never done, succeeds.
func (e *Engine) Undo(ctx context.Context, action string, steps []Step, opt Options, rec Recorder) (*Result, error) {
	info, err := Lookup(action)
	if err != nil {
		return nil, err
	}
	if !info.Mutating {
		return nil, fmt.Errorf("%s is read-only: there is nothing to undo", action)
	}
	var accounts []string
	seen := map[string]bool{}
	for _, s := range steps {
		if !seen[s.Account] {
			seen[s.Account] = true
			accounts = append(accounts, s.Account)
		}
	}
	res := &Result{Action: action, RequestID: opt.RequestID, Undo: true, Accounts: make([]AccountResult, len(accounts))}
	if len(accounts) == 0 {
		res.Status = StatusSucceeded
		return res, nil
	}
	ctx = awsapiWithRequest(ctx, opt.RequestID)
	accts, errs := e.openAll(ctx, accounts, opt.RequestID)
	index := map[string]int{}
	for i, id := range accounts {
		index[id] = i
		res.Accounts[i] = AccountResult{Account: id, Steps: []Step{}}
		if errs[i] != nil {
			res.Accounts[i].Error = errorText(errs[i])
		}
	}
	phases := info.phases()
	for p := len(phases) - 1; p >= 0; p-- {
		phase := phases[p]
		per := make([][]Step, len(accounts))
		var orgSteps []Step
		for _, s := range steps {
			if s.Action != phase || !mayHaveChanged(s.Status) {
				continue
			}
			if strings.Contains(s.Key, "/org/") {
				orgSteps = append(orgSteps, s)
				continue
			}
			i := index[s.Account]
			per[i] = append(per[i], s)
		}
		e.forEach(ctx, len(accounts), func(ctx context.Context, i int) {
			if accts[i] == nil || len(per[i]) == 0 {
				return
			}
			e.undoSteps(ctx, accts, accts[i], per[i], rec, &res.Accounts[i])
		})
		if len(orgSteps) > 0 {
			i := index[orgSteps[0].Account]
			if accts[i] != nil {
				e.undoSteps(ctx, accts, accts[i], orgSteps, rec, &res.Accounts[i])
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	finish(res)
	return res, ctx.Err()
}

// undoSteps undoes one account's steps, newest first.
func (e *Engine) undoSteps(ctx context.Context, accts []*acct, a *acct, steps []Step, rec Recorder, ar *AccountResult) {
	for j := len(steps) - 1; j >= 0; j-- {
		if ctx.Err() != nil {
			return
		}
		orig := steps[j]
		if !orig.Reversible {
			ar.Warnings = append(ar.Warnings, irreversible(orig))
			continue
		}
		s := orig
		s.Key = orig.Key + "/undo"
		s.Change = "undo: " + orig.Change
		s.Error = ""
		err := e.undoOne(ctx, accts, a, orig)
		var kept *keptError
		if errors.As(err, &kept) {
			ar.Warnings = append(ar.Warnings, kept.msg)
			err = nil
		}
		s.At = e.now()
		if err != nil {
			s.Status, s.Error = StepUndoFailed, errorText(err)
		} else {
			s.Status = StepUndone
		}
		ar.Steps = append(ar.Steps, s)
		if rec != nil {
			if err := rec.Record(ctx, s); err != nil {
				ar.Error = joinErr(ar.Error, fmt.Sprintf("record step %s: %s", s.Key, errorText(err)))
				return
			}
		}
	}
}

// keptError: the undo left something in place on purpose and says why.
type keptError struct{ msg string }

func (k *keptError) Error() string { return k.msg }

func irreversible(s Step) string {
	if msg, ok := rootIrreversible(s); ok {
		return msg
	}
	switch s.Op {
	case opDeleteLoginProfile:
		user := nameFromARN(s.Principal)
		return fmt.Sprintf("the console password of %s cannot be restored (AWS never reveals it): give a new one with `aws iam create-login-profile --user-name %s --password-reset-required`", s.Principal, user)
	case opCreateLockedRule:
		return lockedRuleUndo(s)
	case opEnableRCPType:
		return "resource control policies stay enabled on " + s.Resource + " (RCPFullAWSAccess restricts nothing); disable them with `aws organizations disable-policy-type --policy-type RESOURCE_CONTROL_POLICY` only if nothing else relies on them"
	case opEnableSCPType:
		return "service control policies stay enabled on " + s.Resource + " (FullAWSAccess restricts nothing); disable them with `aws organizations disable-policy-type` only if nothing else relies on them"
	}
	return "cannot undo: " + s.Change
}

func (e *Engine) undoOne(ctx context.Context, accts []*acct, a *acct, s Step) error {
	c := a.c.IAM
	var nse *iamtypes.NoSuchEntityException
	switch s.Op {
	case opDeactivateKey, opCreateReplacementAK:
		st := iamtypes.StatusTypeActive
		if s.Op == opCreateReplacementAK {
			st = iamtypes.StatusTypeInactive // the replacement goes, the old key comes back
		}
		key := s.Resource
		if s.Op == opCreateReplacementAK && !strings.HasPrefix(key, "AKIA") {
			// the run died between creating the key and recording it: the
			// secret's tags name the key this request made, if any
			found, err := a.rotatedIn(ctx, nameFromARN(s.Principal), s.Request)
			if err != nil || found == "" {
				return err
			}
			key = found
		}
		return a.setKeyStatus(ctx, nameFromARN(s.Principal), s.Principal, key, st)
	case opDeactivateSSH, opDeactivateSvcCred:
		return a.setCredStatus(ctx, s.Op, nameFromARN(s.Principal), s.Principal, s.Resource, iamtypes.StatusTypeActive)
	case opPutInline:
		kind, name := kindFromARN(s.Principal), nameFromARN(s.Principal)
		if s.Prior == "" {
			return a.deleteInline(ctx, kind, name, s.Principal, s.Resource)
		}
		return a.putInline(ctx, kind, name, s.Principal, s.Resource, s.Prior)
	case opAttachManaged:
		kind, name := kindFromARN(s.Principal), nameFromARN(s.Principal)
		err := a.call("IAM", "Detach"+upperFirst(kind)+"Policy", s.Principal, func() error {
			var err error
			switch kind {
			case "user":
				_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(s.Resource)})
			case "role":
				_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(s.Resource)})
			case "group":
				_, err = c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String(name), PolicyArn: aws.String(s.Resource)})
			default:
				err = fmt.Errorf("cannot detach a policy from %s", s.Principal)
			}
			return err
		})
		if errors.As(err, &nse) {
			return nil
		}
		return wrapEntity(err, "detach %s from %s", nameFromARN(s.Resource), s.Principal)
	case opCreateManaged:
		err := a.call("IAM", "DeletePolicy", s.Resource, func() error {
			_, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(s.Resource)})
			return err
		})
		var conflict *iamtypes.DeleteConflictException
		switch {
		case errors.As(err, &nse):
			return nil
		case errors.As(err, &conflict):
			return &keptError{"policy " + s.Resource + " is still attached to principals this undo did not detach; it was left in place"}
		}
		return wrapEntity(err, "delete policy %s", s.Resource)
	case opDeleteAssignment:
		return e.undoAssignment(ctx, accts, a, s)
	case opAttachSCP, opCreateSCP, opUpdateSCP, opAttachRCP, opCreateRCP, opUpdateRCP:
		mg, err := e.management(ctx, accts, a)
		if err != nil {
			return err
		}
		org := mg.c.Organizations
		typ := orgtypes.PolicyTypeServiceControlPolicy
		if rcpOp, ok := map[string]string{opAttachRCP: opAttachSCP, opCreateRCP: opCreateSCP, opUpdateRCP: opUpdateSCP}[s.Op]; ok {
			s.Op, typ = rcpOp, orgtypes.PolicyTypeResourceControlPolicy // the same calls, by policy id
		}
		if !strings.HasPrefix(s.Resource, "p-") {
			// recorded as started before the id was known
			id, err := e.policyID(ctx, mg, typ, s.Resource)
			if err != nil || id == "" {
				return err
			}
			s.Resource = id
		}
		switch s.Op {
		case opAttachSCP:
			err = mg.call("Organizations", "DetachPolicy", s.Account, func() error {
				_, err := org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: aws.String(s.Resource), TargetId: aws.String(s.Account)})
				return err
			})
			var na *orgtypes.PolicyNotAttachedException
			var gone *orgtypes.PolicyNotFoundException
			if errors.As(err, &na) || errors.As(err, &gone) {
				return nil // not attached, or the SCP itself is gone (an earlier undo deleted it)
			}
			return wrapEntity(err, "detach SCP %s from account %s", s.Resource, s.Account)
		case opUpdateSCP:
			err = mg.call("Organizations", "UpdatePolicy", s.Resource, func() error {
				_, err := org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(s.Resource), Content: aws.String(s.Prior)})
				return err
			})
			var gone *orgtypes.PolicyNotFoundException
			if errors.As(err, &gone) {
				return &keptError{"SCP " + s.Resource + " no longer exists, so its earlier document was not restored"}
			}
			return wrapEntity(err, "restore SCP %s", s.Resource)
		default:
			err = mg.call("Organizations", "DeletePolicy", s.Resource, func() error {
				_, err := org.DeletePolicy(ctx, &organizations.DeletePolicyInput{PolicyId: aws.String(s.Resource)})
				return err
			})
			var inUse *orgtypes.PolicyInUseException
			var nf *orgtypes.PolicyNotFoundException
			switch {
			case errors.As(err, &nf):
				return nil
			case errors.As(err, &inUse):
				return &keptError{"SCP " + s.Resource + " is still attached to targets this undo did not detach; it was left in place"}
			}
			return wrapEntity(err, "delete SCP %s", s.Resource)
		}
	}
	return fmt.Errorf("no undo for step %s (%s)", s.Key, s.Op)
}

// management returns the management account for SCP undo.
func (e *Engine) management(ctx context.Context, accts []*acct, a *acct) (*acct, error) {
	if a.kind == KindManagement {
		return a, nil
	}
	for _, x := range accts {
		if x != nil && x.id == a.mgmtID {
			return x, nil
		}
	}
	if a.mgmtID == "" {
		return nil, fmt.Errorf("account %s is not in an organization", a.id)
	}
	return e.open(ctx, a.mgmtID, a.reqID)
}

// scpID finds an SCP's id by name ("" when there is none).
func (e *Engine) scpID(ctx context.Context, mg *acct, name string) (string, error) {
	return e.policyID(ctx, mg, orgtypes.PolicyTypeServiceControlPolicy, name)
}

// policyID finds an Organizations policy's id by type and name.
func (e *Engine) policyID(ctx context.Context, mg *acct, typ orgtypes.PolicyType, name string) (string, error) {
	var token *string
	for {
		var out *organizations.ListPoliciesOutput
		if err := mg.call("Organizations", "ListPolicies", "", func() (err error) {
			out, err = mg.c.Organizations.ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: typ, NextToken: token})
			return err
		}); err != nil {
			return "", fmt.Errorf("list SCPs: %w", err)
		}
		for _, p := range out.Policies {
			if aws.ToString(p.Name) == name {
				return aws.ToString(p.Id), nil
			}
		}
		if out.NextToken == nil {
			return "", nil
		}
		token = out.NextToken
	}
}
