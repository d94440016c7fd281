package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The defenses lockdown relies on against an intruder who fights back. A
// drill may turn one off (Config.Without) to show the room what it buys:
// each has a technique in the catalogue that wins without it.
const (
	// DefenseFreeze: the guardrail also freezes IAM, session minting and
	// the Organization (statements FreezeIdentity, FreezeRoleSessions,
	// ProtectExemptRoles, ProtectExemptTag) for everyone but the exempt.
	DefenseFreeze = "freeze"
	// DefenseCoverage: the guardrail denies blinding the responders
	// (CloudTrail, logs, GuardDuty, Config, ...; statement
	// ProtectAuditTrail) as well as destroying data.
	DefenseCoverage = "coverage"
	// DefenseOrder: long-term credentials are cut before the revocation
	// cut-off is taken, so no session minted during the run survives.
	DefenseOrder = "order"
	// DefenseConfirm: the guardrail is confirmed in effect (the canary)
	// before any access is cut.
	DefenseConfirm = "confirm"
	// DefensePerPrincipal: a principal that cannot be read is reported and
	// the rest of its account is still contained.
	DefensePerPrincipal = "per-principal"
	// DefenseBaseline: exemptions by tag or pattern count only when an
	// exemption baseline confirms them (the service passes the baseline;
	// drills seed one).
	DefenseBaseline = "baseline"
)

// Defenses lists the defenses Config.Without may name.
func Defenses() []string {
	return []string{DefenseBaseline, DefenseConfirm, DefenseCoverage, DefenseFreeze, DefenseOrder, DefensePerPrincipal}
}

func checkDefenses(without []string) error {
	for _, d := range without {
		if !slices.Contains(Defenses(), d) {
			return fmt.Errorf("unknown defense %q: choose from %s", d, strings.Join(Defenses(), ", "))
		}
	}
	return nil
}

// has reports whether a defense is on.
func (e *Engine) has(defense string) bool { return !slices.Contains(e.cfg.Without, defense) }

// omittedSids are the guardrail statements of the defenses turned off.
func (e *Engine) omittedSids() []string {
	var out []string
	if !e.has(DefenseFreeze) {
		out = append(out, "FreezeIdentity", "FreezeRoleSessions", "ProtectExemptRoles", "ProtectExemptTag")
	}
	if !e.has(DefenseCoverage) {
		out = append(out, "ProtectAuditTrail")
	}
	return out
}

type strictKey struct{}

// withStrict marks a build whose engine has per-principal failure off: the
// first principal that cannot be read fails its whole account.
func (e *Engine) withStrict(ctx context.Context) context.Context {
	if e.has(DefensePerPrincipal) {
		return ctx
	}
	return context.WithValue(ctx, strictKey{}, true)
}

func strict(ctx context.Context) bool { v, _ := ctx.Value(strictKey{}).(bool); return v }
