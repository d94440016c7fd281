package actions

import (
	"context"
	"errors"
	"fmt"

	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// Failure is per principal: a principal that cannot be read (deleted
// mid-run, throttled beyond the retries, refused) is reported by name with
// the error, and every other principal of its account is still contained.
// Only a failure to list the principals fails the account as a whole.

// deletedNote is how a principal that vanished during the run is reported.
const deletedNote = "deleted while killswitch worked (NoSuchEntity)"

// noSuchEntity reports whether IAM answered that the entity does not exist.
func noSuchEntity(err error) bool {
	var nse *iamtypes.NoSuchEntityException
	return errors.As(err, &nse)
}

// principalFailure describes the error met reading the principal arn.
func principalFailure(arn string, err error) PrincipalFailure {
	f := PrincipalFailure{Principal: arn, Error: errorText(err)}
	if noSuchEntity(err) {
		f.Deleted = true
		f.Error = deletedNote + ": " + f.Error
	}
	return f
}

// fail records that p could not be read, so the phase makes no change
// that depends on what could not be read. A warning says it too, so every
// view that shows warnings (the card, the thread) names the principal.
func (w *work) fail(p *principal, err error) {
	f := principalFailure(p.arn, err)
	w.failures = append(w.failures, f)
	switch {
	case f.Deleted:
		w.warnings = append(w.warnings, fmt.Sprintf("%s was %s", p.arn, f.Error))
	case w.readOnly:
		w.warnings = append(w.warnings, fmt.Sprintf("%s could not be read and is not fully searched; a rerun retries it: %s", p.arn, f.Error))
	default:
		w.warnings = append(w.warnings, fmt.Sprintf("%s could not be read and is not (fully) contained; a rerun completes it: %s", p.arn, f.Error))
	}
}

// skip is fail during a build: it returns err instead when the context has
// ended, so a cancelled run stops rather than reporting every principal.
func (w *work) skip(ctx context.Context, p *principal, err error) error {
	if ctx.Err() != nil || strict(ctx) {
		return err
	}
	w.fail(p, err)
	return nil
}

// failuresOf returns the phase's failures, each naming the action.
func (w *work) failuresOf(action string) []PrincipalFailure {
	out := make([]PrincipalFailure, 0, len(w.failures))
	for _, f := range w.failures {
		f.Action = action
		out = append(out, f)
	}
	return out
}

// gone rewords the NoSuchEntity a change meets when what it changes was
// deleted after it was read; the step still fails (nothing was changed),
// and its error says why.
func gone(err error, what string) error {
	if err != nil && noSuchEntity(err) {
		return fmt.Errorf("%s %s: %w", what, deletedNote, err)
	}
	return err
}
