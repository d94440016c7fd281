package sim

import (
	"context"
	"errors"
)

// The intruder signing in as a member account's root user. IAM policies
// never bind the root user, so lockdown's IAM measures do nothing to it;
// the guardrail SCP binds it in member accounts (never in the management
// account, hence Needs "member": there only the account owner can contain
// root, and the plan says so).

func rootTechniques() []Technique {
	return []Technique{
		{ID: "root-credentials", Name: "sign in as a member account's root user with its stolen password or leaked root access key, then delete snapshots, AMIs and buckets and create a backdoor user",
			Tactic: "privilege-escalation", MITRE: "T1078.004", Needs: "member", Run: rootCredentials},
	}
}

// rootMoves are what the intruder does as root, in order.
var rootMoves = []string{"delete-snapshots", "deregister-amis", "delete-s3-buckets", "backdoor-user"}

func rootCredentials(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	o := r.Org
	o.mu.Lock()
	a, err := o.account(r.Cred.Account)
	var cred Credential
	var how string
	ok := false
	if err == nil {
		cred, how, ok = o.rootCredLocked(a)
	}
	o.mu.Unlock()
	if err != nil {
		return eff, err
	}
	if !ok {
		return eff, nothing("root-credentials", r.Cred.Account, "root password or active root access key to steal")
	}
	sub := r.Attempt
	sub.Cred = cred
	sub.shared = &r.calls
	var errs []error
	for _, id := range rootMoves {
		e, err := catalogueBy[id].Run(ctx, sub)
		eff.What = append(eff.What, e.What...)
		eff.Lost = append(eff.Lost, e.Lost...)
		eff.Creds = append(eff.Creds, e.Creds...)
		switch {
		case ctx.Err() != nil || errors.Is(err, ErrHorizon):
			return eff, errors.Join(append(errs, err)...)
		case err != nil && !errors.Is(err, ErrNotFound):
			errs = append(errs, err)
		}
	}
	if len(eff.What) > 0 {
		eff.What = append([]string{"signed in as the root user of " + r.Cred.Account + " with " + how}, eff.What...)
	}
	return eff, errors.Join(errs...)
}
