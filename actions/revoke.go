package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/policies"
)

// RevokePolicyName is the inline policy revoke-sessions puts on every
// non-exempt user and role.
const RevokePolicyName = "KillSwitchRevokeOlderSessions"

// QuarantineUntil is the cut-off of a quarantined principal's revocation:
// every session it will ever have was issued before it.
var QuarantineUntil = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func (a *acct) buildRevokeSessions(ctx context.Context, opt Options) (*work, error) {
	doc, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: opt.RevokeBefore})
	if err != nil {
		return nil, err
	}
	inv, err := a.inventory(ctx, true, true, false)
	if err != nil {
		return nil, err
	}
	quarantine, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: QuarantineUntil})
	if err != nil {
		return nil, err
	}
	w := &work{}
	change := fmt.Sprintf("deny sessions issued before %s (inline policy %s)", opt.RevokeBefore.UTC().Format(time.RFC3339), RevokePolicyName)
	for _, p := range append(a.sortOut(inv.users, w), a.sortOut(inv.roles, w)...) {
		doc, change, cutoff := doc, change, opt.RevokeBefore
		if opt.quarantineOnly && a.claim(p) == "" {
			continue
		}
		if a.claim(p) != "" {
			// It looks exempt (a break-glass tag or pattern) but the
			// baseline does not confirm it: every session is denied, also
			// those minted later (a pattern may exempt it from the guardrail).
			doc, cutoff = quarantine, QuarantineUntil
			change = fmt.Sprintf("quarantine: deny every session, whenever issued (inline policy %s): it looks exempt, but the exemption baseline does not confirm it", RevokePolicyName)
		}
		old, found, err := a.getInline(ctx, p)
		if err != nil {
			// Without the policy it would replace, undo could not restore
			// it: report the principal and leave it for a rerun.
			if err := w.skip(ctx, p, err); err != nil {
				return nil, err
			}
			continue
		}
		if found && (sameJSON(old, doc) || revokedSince(old, cutoff)) {
			continue // already revoked at this time or later
		}
		s := Step{Action: RevokeSessions, Account: a.id, Op: opPutInline, Principal: p.arn, Resource: RevokePolicyName, Prior: old, Reversible: true, Change: change}
		p := p
		w.add(s, func(ctx context.Context, s *Step) error {
			return gone(a.putInline(ctx, p.kind, p.name, p.arn, RevokePolicyName, doc), fmt.Sprintf("%s %q", p.kind, p.name))
		})
	}
	sso := 0
	for _, r := range inv.roles {
		if identityCenter(r) {
			sso++
		}
	}
	if err := a.buildRevokeSSO(ctx, w, opt, sso); err != nil {
		return nil, err
	}
	if len(inv.users) > 0 && !opt.quarantineOnly {
		w.warnings = append(w.warnings, "revoke-sessions does not stop long-term access keys or console passwords: disable-users (or lockdown) does")
	}
	return w, nil
}

// getInline returns the principal's inline policy named RevokePolicyName.
func (a *acct) getInline(ctx context.Context, p *principal) (doc string, found bool, err error) {
	if p.inline != nil { // read with the inventory, this phase
		doc, found = p.inline[RevokePolicyName]
		return doc, found, nil
	}
	var raw *string
	switch p.kind {
	case "user":
		err = a.call("IAM", "GetUserPolicy", p.arn, func() error {
			out, err := a.c.IAM.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(p.name), PolicyName: aws.String(RevokePolicyName)})
			if err == nil {
				raw = out.PolicyDocument
			}
			return err
		})
	case "role":
		err = a.call("IAM", "GetRolePolicy", p.arn, func() error {
			out, err := a.c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(p.name), PolicyName: aws.String(RevokePolicyName)})
			if err == nil {
				raw = out.PolicyDocument
			}
			return err
		})
	}
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read inline policy %s of %s: %w", RevokePolicyName, p.arn, err)
	}
	doc = aws.ToString(raw)
	if d, err := url.QueryUnescape(doc); err == nil {
		doc = d
	}
	return doc, true, nil
}

func (a *acct) putInline(ctx context.Context, kind, name, arn, policy, doc string) error {
	switch kind {
	case "user":
		return a.call("IAM", "PutUserPolicy", arn, func() error {
			_, err := a.c.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy), PolicyDocument: aws.String(doc)})
			return wrapEntity(err, "put inline policy %s on user %q", policy, name)
		})
	case "role":
		return a.call("IAM", "PutRolePolicy", arn, func() error {
			_, err := a.c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy), PolicyDocument: aws.String(doc)})
			return wrapEntity(err, "put inline policy %s on role %q", policy, name)
		})
	}
	return fmt.Errorf("cannot put an inline policy on %s", arn)
}

func (a *acct) deleteInline(ctx context.Context, kind, name, arn, policy string) error {
	var err error
	switch kind {
	case "user":
		err = a.call("IAM", "DeleteUserPolicy", arn, func() error {
			_, err := a.c.IAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(policy)})
			return err
		})
	case "role":
		err = a.call("IAM", "DeleteRolePolicy", arn, func() error {
			_, err := a.c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policy)})
			return err
		})
	default:
		return fmt.Errorf("cannot delete an inline policy of %s", arn)
	}
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return nil // already gone
	}
	return wrapEntity(err, "delete inline policy %s of %s %q", policy, kind, name)
}

func wrapEntity(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// revokedSince reports whether doc is killswitch's revocation policy with a
// cut-off at or after t (a rerun never moves the cut-off earlier).
func revokedSince(doc string, t time.Time) bool {
	var d struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	if json.Unmarshal([]byte(doc), &d) != nil || len(d.Statement) != 1 {
		return false
	}
	at, err := time.Parse(time.RFC3339, d.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"])
	if err != nil || at.Before(t) {
		return false
	}
	same, err := policies.Render("revoke-older-sessions", policies.Params{RevokeBefore: at})
	return err == nil && sameJSON(doc, same)
}
