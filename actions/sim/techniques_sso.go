package sim

import (
	"context"
	"errors"
	"sort"
)

// The intruder's IAM Identity Center technique: it holds the access-portal
// sign-in of an Identity Center user (a phished user whose portal token it
// stole, modelled by AddICUser's compromised flag), gets a session of each
// role that user is entitled to in the account (sso:GetRoleCredentials
// needs no IAM permission and no SCP stops it), and uses it to destroy
// snapshots and to make itself a backdoor user with a key.

func ssoTechniques() []Technique {
	return []Technique{
		{ID: "sso-session", Name: "get IAM Identity Center sessions from a phished user's access-portal sign-in (sso:GetRoleCredentials), then delete every snapshot and create a backdoor user with them",
			Tactic: "privilege-escalation", MITRE: "T1078.004", Needs: "member", Run: ssoSessionRun},
	}
}

// entitlement is a compromised user's permission set in an account.
type entitlement struct{ user, permSet string }

// compromisedEntitlements lists, sorted, what the compromised Identity
// Center users can get a session of in an account.
func (o *Org) compromisedEntitlements(account string) []entitlement {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ic == nil {
		return nil
	}
	var out []entitlement
	for _, u := range o.ic.users {
		if !u.compromised {
			continue
		}
		for _, ps := range o.ic.permSets {
			if _, ok := ps.roles[account]; ok {
				out = append(out, entitlement{u.name, ps.name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].user+"/"+out[i].permSet < out[j].user+"/"+out[j].permSet
	})
	return out
}

func ssoSessionRun(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	ents := r.Org.compromisedEntitlements(r.Cred.Account)
	if len(ents) == 0 {
		return eff, nothing("sso-session", r.Cred.Account, "phished IAM Identity Center user with a role")
	}
	var errs []error
	got := 0
	pace := func() error { // before every call but the first
		if r.calls++; r.calls > 1 && r.Pace != nil {
			return r.Pace(ctx)
		}
		return nil
	}
	for _, e := range ents {
		if err := pace(); err != nil {
			return eff, err
		}
		cred, err := r.Org.SSORoleCredentials(ctx, e.user, e.permSet, r.Cred.Account)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got++
		eff.Creds = append(eff.Creds, cred)
		eff.says("signed in to the access portal as %s and got a session of %s in %s", e.user, e.permSet, r.Cred.Account)
		use := Attempt{Org: r.Org, Cred: cred, Pace: r.Pace, Name: r.Name, Outside: r.Outside, BreakGlassTag: r.BreakGlassTag, BreakGlassRole: r.BreakGlassRole}
		for _, id := range []string{"delete-snapshots", "backdoor-user"} {
			if err := pace(); err != nil {
				return eff, err
			}
			t, _ := LookupTechnique(id)
			sub, err := t.Run(ctx, use)
			eff.What = append(eff.What, sub.What...)
			eff.Creds = append(eff.Creds, sub.Creds...)
			eff.Lost = append(eff.Lost, sub.Lost...)
			if err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	if got == 0 {
		return eff, errors.Join(errs...)
	}
	return eff, errors.Join(errs...)
}
