package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// DefaultConfirmTimeout bounds the wait for the guardrail in an account.
const DefaultConfirmTimeout = 60 * time.Second

const opConfirmGuardrail = "confirm-guardrail"

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var errNotYet = errors.New("the canary's dry run would still succeed")

// confirmGuardrail waits until the canary (a principal the guardrail binds)
// is refused a destructive dry run in the account, checking every
// ConfirmEvery and for at most ConfirmTimeout, because AWS applies policy
// changes with a delay and the first cut of access is what tips the
// intruder off. The verdict and how long it took go into the account's
// result; an unconfirmed guardrail is also a warning, and the run goes on.
func (e *Engine) confirmGuardrail(ctx context.Context, a *acct, ar *AccountResult) {
	start := e.now()
	err := e.pollCanary(ctx, a)
	g := &GuardrailCheck{AfterS: e.now().Sub(start).Round(100 * time.Millisecond).Seconds()}
	switch {
	case err == nil:
		g.Confirmed = true
	case errors.Is(err, errNotYet):
		g.Note = fmt.Sprintf("the canary's dry run still succeeded after %s", e.cfg.ConfirmTimeout)
		ar.Warnings = append(ar.Warnings, fmt.Sprintf("the guardrail was not shown to be in effect within %s; access was cut anyway", e.cfg.ConfirmTimeout))
	case ctx.Err() != nil:
		return
	default:
		g.Note = errorText(err)
		ar.Warnings = append(ar.Warnings, fmt.Sprintf("cannot confirm the guardrail with the canary role %s (deploy it with the responder template): %s", awsapi.CanaryRoleName, errorText(err)))
	}
	ar.Guardrail = g
}

// pollCanary returns nil once the canary is refused, errNotYet at the
// timeout, or the error that makes the check impossible.
func (e *Engine) pollCanary(ctx context.Context, a *acct) error {
	if a.c.Canary == nil {
		return errors.New("no canary client for this account")
	}
	deadline := e.now().Add(e.cfg.ConfirmTimeout)
	for {
		err := a.call("EC2", "DeleteSnapshot", awsapi.CanarySnapshotID+" (dry run, as the canary)", func() error {
			_, err := a.c.Canary.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(awsapi.CanarySnapshotID), DryRun: aws.Bool(true)})
			return err
		})
		var ae smithy.APIError
		switch {
		case errors.As(err, &ae) && ae.ErrorCode() == "UnauthorizedOperation":
			return nil
		case errors.As(err, &ae) && ae.ErrorCode() == "DryRunOperation":
		case err == nil:
			return errors.New("the canary's dry run answered without DryRunOperation")
		default:
			return err
		}
		if !e.now().Before(deadline) {
			return errNotYet
		}
		if err := e.cfg.Sleep(ctx, e.cfg.ConfirmEvery); err != nil {
			return err
		}
	}
}
