package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
)

// opDeleteAssignment removes one IAM Identity Center account assignment;
// undo creates exactly it again from the step's Prior.
const opDeleteAssignment = "delete-account-assignment"

// icWait bounds the wait for an asynchronous assignment change.
const icWait = 60 * time.Second

// assignment is what a step records of one removed account assignment.
type assignment struct {
	Instance      string `json:"instance"`
	PermissionSet string `json:"permission_set"`
	PrincipalType string `json:"principal_type"`
	PrincipalID   string `json:"principal_id"`
	Target        string `json:"target"`
}

// buildContainIC plans the removal of the account assignments into this
// account of the named Identity Center principals (every one but
// break-glass when none is named).
func (a *acct) buildContainIC(ctx context.Context, opt Options) (*work, error) {
	w := &work{}
	d, err := a.icDir(ctx, opt)
	if err != nil {
		return nil, err
	}
	if d == nil {
		if len(opt.IdentityCenter) > 0 {
			return nil, fmt.Errorf("%w in the organization of %s: the named principals cannot be found", errNoInstance, a.id)
		}
		w.warnings = append(w.warnings, "no IAM Identity Center instance found (ListInstances in the management account is empty): nothing to contain there")
		return w, nil
	}
	for _, ps := range d.permSets {
		as, err := d.assignments(ctx, a.id, ps)
		if err != nil {
			return nil, err
		}
		for _, x := range as {
			a.planAssignment(w, d, ps, x)
		}
	}
	w.warnings = append(w.warnings, a.icSessionWarning(d))
	return w, nil
}

func (a *acct) planAssignment(w *work, d *icDirectory, ps icPermSet, x ssotypes.AccountAssignment) {
	ptype, pid := string(x.PrincipalType), aws.ToString(x.PrincipalId)
	label := d.icLabel(ptype, pid)
	if why, bg := d.breakGlass[pid]; bg {
		w.exempt = append(w.exempt, Exemption{Principal: label, Reason: why + "; keeps permission set " + ps.name})
		return
	}
	if d.targets != nil && !d.targets[pid] {
		return
	}
	rec := assignment{Instance: d.instanceARN, PermissionSet: ps.arn, PrincipalType: ptype, PrincipalID: pid, Target: a.id}
	prior, _ := json.Marshal(rec)
	s := Step{Action: ContainIdentityCenter, Account: a.id, Op: opDeleteAssignment, Principal: label, Resource: ps.arn,
		Prior: string(prior), Reversible: true,
		Change: fmt.Sprintf("remove the account assignment of permission set %s in %s", ps.name, a.id)}
	w.add(s, func(ctx context.Context, s *Step) error { return d.deleteAssignment(ctx, a, rec) })
}

// icSessionWarning says what removing assignments leaves: the sessions
// already issued.
func (a *acct) icSessionWarning(d *icDirectory) string {
	var durs []string
	for _, ps := range d.permSets {
		if ps.duration != "" {
			durs = append(durs, ps.name+" "+ps.duration)
		}
	}
	left := "revoke-sessions (or lockdown) ends them here with an SCP"
	if a.kind != KindMember {
		left = "SCPs do not bind a " + a.kind + " account, so they stay alive until they expire"
	}
	return fmt.Sprintf("removing an assignment stops new IAM Identity Center sessions in %s, not those already issued (they last the permission set's session duration: %s): %s",
		a.id, strings.Join(durs, ", "), left)
}

func (d *icDirectory) deleteAssignment(ctx context.Context, a *acct, r assignment) error {
	h := d.home
	var out *ssoadmin.DeleteAccountAssignmentOutput
	err := h.call("SSOAdmin", "DeleteAccountAssignment", r.Target, func() (err error) {
		out, err = h.c.SSOAdmin.DeleteAccountAssignment(ctx, &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: aws.String(r.Instance),
			PermissionSetArn: aws.String(r.PermissionSet), PrincipalType: ssotypes.PrincipalType(r.PrincipalType), PrincipalId: aws.String(r.PrincipalID),
			TargetId: aws.String(r.Target), TargetType: ssotypes.TargetTypeAwsAccount})
		return err
	})
	var nf *ssotypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil // already removed
	}
	if err != nil {
		return fmt.Errorf("delete assignment of %s %s in %s: %w", r.PrincipalType, r.PrincipalID, r.Target, err)
	}
	return a.e.awaitAssignment(ctx, h, r, out.AccountAssignmentDeletionStatus, false)
}

// createAssignment is the undo: the removed assignment, exactly.
func (e *Engine) createAssignment(ctx context.Context, h *acct, r assignment) error {
	var out *ssoadmin.CreateAccountAssignmentOutput
	err := h.call("SSOAdmin", "CreateAccountAssignment", r.Target, func() (err error) {
		out, err = h.c.SSOAdmin.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(r.Instance),
			PermissionSetArn: aws.String(r.PermissionSet), PrincipalType: ssotypes.PrincipalType(r.PrincipalType), PrincipalId: aws.String(r.PrincipalID),
			TargetId: aws.String(r.Target), TargetType: ssotypes.TargetTypeAwsAccount})
		return err
	})
	var conflict *ssotypes.ConflictException
	if errors.As(err, &conflict) {
		return nil // it exists (or is being created) already
	}
	if err != nil {
		return fmt.Errorf("recreate assignment of %s %s in %s: %w", r.PrincipalType, r.PrincipalID, r.Target, err)
	}
	return e.awaitAssignment(ctx, h, r, out.AccountAssignmentCreationStatus, true)
}

// awaitAssignment polls an asynchronous assignment request until it
// succeeds or fails, for at most icWait.
func (e *Engine) awaitAssignment(ctx context.Context, h *acct, r assignment, st *ssotypes.AccountAssignmentOperationStatus, create bool) error {
	what := "deletion"
	if create {
		what = "creation"
	}
	deadline := e.now().Add(icWait)
	for {
		if st == nil {
			return fmt.Errorf("assignment %s in %s: no request status returned", what, r.Target)
		}
		switch st.Status {
		case ssotypes.StatusValuesSucceeded:
			return nil
		case ssotypes.StatusValuesFailed:
			return fmt.Errorf("assignment %s in %s failed: %s", what, r.Target, aws.ToString(st.FailureReason))
		}
		id := aws.ToString(st.RequestId)
		if !e.now().Before(deadline) {
			return fmt.Errorf("assignment %s in %s still %s after %s: check with aws sso-admin describe-account-assignment-%s-status --request-id %s", what, r.Target, st.Status, icWait, what, id)
		}
		if err := e.cfg.Sleep(ctx, e.cfg.ConfirmEvery); err != nil {
			return err
		}
		var err error
		st, err = e.assignmentStatus(ctx, h, r.Instance, id, create)
		if err != nil {
			return fmt.Errorf("assignment %s status in %s: %w", what, r.Target, err)
		}
	}
}

func (e *Engine) assignmentStatus(ctx context.Context, h *acct, instance, id string, create bool) (st *ssotypes.AccountAssignmentOperationStatus, err error) {
	if create {
		err = h.call("SSOAdmin", "DescribeAccountAssignmentCreationStatus", id, func() error {
			out, err := h.c.SSOAdmin.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{InstanceArn: aws.String(instance), AccountAssignmentCreationRequestId: aws.String(id)})
			if err == nil {
				st = out.AccountAssignmentCreationStatus
			}
			return err
		})
		return st, err
	}
	err = h.call("SSOAdmin", "DescribeAccountAssignmentDeletionStatus", id, func() error {
		out, err := h.c.SSOAdmin.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{InstanceArn: aws.String(instance), AccountAssignmentDeletionRequestId: aws.String(id)})
		if err == nil {
			st = out.AccountAssignmentDeletionStatus
		}
		return err
	})
	return st, err
}

// undoAssignment recreates a removed assignment in the account where the
// instance lives.
func (e *Engine) undoAssignment(ctx context.Context, accts []*acct, a *acct, s Step) error {
	var r assignment
	if err := json.Unmarshal([]byte(s.Prior), &r); err != nil || r.Instance == "" || r.Target != s.Account {
		return fmt.Errorf("step %s: the removed assignment was not recorded", s.Key)
	}
	h := a
	if a.kind == KindMember {
		var err error
		if h, err = e.management(ctx, accts, a); err != nil {
			return err
		}
	}
	return e.createAssignment(ctx, h, r)
}
