package sim

import (
	"context"
	"strings"
	"time"
)

// Schedule puts an Org on a drill's virtual clock.
type Schedule struct {
	// Clock is the drill's clock; the Org reads its time from it, and every
	// call made from one of its lanes waits its service's latency on it.
	Clock *Clock
	// Latency per service, by the action prefix ("iam", "organizations",
	// "sts", "secretsmanager", "ec2", "s3", ...); "*" is the default for
	// services not listed.
	Latency map[string]time.Duration
	// Propagation per service (same keys; "*" the default): how long a
	// policy change (an inline policy put, a managed policy attached, an
	// SCP attached or updated) takes to apply. AWS documents that policy
	// changes take time to apply everywhere; removals are modelled as
	// immediate, which favours the intruder.
	Propagation map[string]time.Duration
}

// SetSchedule puts o on a drill's virtual clock (see Schedule). It replaces
// the clock set by SetClock.
func (o *Org) SetSchedule(s Schedule) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sched = s
	if s.Clock != nil {
		o.clock = s.Clock.Now
	}
}

func lookupDur(m map[string]time.Duration, service string) time.Duration {
	if d, ok := m[strings.ToLower(service)]; ok {
		return d
	}
	return m["*"]
}

// latency waits the service's latency on the drill clock; outside a drill
// (or outside a lane) it returns at once.
func (o *Org) latency(ctx context.Context, service string) error {
	o.mu.Lock()
	s := o.sched
	o.mu.Unlock()
	if s.Clock == nil {
		return nil
	}
	return s.Clock.Sleep(ctx, lookupDur(s.Latency, service))
}

// Policy-bearing things whose changes propagate: an *inlinePolicy, a
// managedAttachment, an scpAttachment, or an *scp whose content changed.
type managedAttachment struct {
	e   *entity
	arn string
}

type scpAttachment struct{ target, id string }

// propagateLocked marks a policy change made now as not in effect until the
// propagation delay has passed. Caller holds o.mu.
func (o *Org) propagateLocked(key any) {
	d := lookupDur(o.sched.Propagation, propagationService(key))
	if d <= 0 {
		return
	}
	if o.effect == nil {
		o.effect = map[any]time.Time{}
	}
	o.effect[key] = o.now().Add(d)
}

func propagationService(key any) string {
	switch key.(type) {
	case scpAttachment, *scp:
		return "organizations"
	}
	return "iam"
}

// pendingLocked reports whether a policy change is still propagating.
func (o *Org) pendingLocked(key any) bool {
	if len(o.effect) == 0 {
		return false
	}
	t, ok := o.effect[key]
	if !ok {
		return false
	}
	if !o.now().Before(t) {
		delete(o.effect, key)
		return false
	}
	return true
}

// scpDocLocked is an SCP's content as it is in effect now.
func (o *Org) scpDocLocked(p *scp) *policy {
	if p.prev != nil && o.pendingLocked(p) {
		return p.prev
	}
	return p.parsed
}

// versionDocLocked is a managed policy's default version as it is in
// effect now: a new default version applies once it has propagated.
func (o *Org) versionDocLocked(p *managedPolicy) *policy {
	cur := p.current()
	if cur.prev != nil && o.pendingLocked(cur) {
		return cur.prev
	}
	return cur.parsed
}

// Act is one AWS call by a credential that is not the bot (the intruder, a
// responder): it counts the call as "Service.Operation" (service is the
// action's prefix), applies faults, waits the service's latency on the
// drill clock, authorizes action on resource with c, then runs fn under
// the Org's lock. A refusal is a *Denied.
func (o *Org) Act(ctx context.Context, c Credential, action, resource string, fn func(a *account) error) error {
	svc, op, _ := strings.Cut(action, ":")
	if err := o.preflight(ctx, c.Account, svc, op); err != nil {
		return err
	}
	if err := o.latency(ctx, svc); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.callerAccountLocked(c.Account)
	if a == nil {
		_, err := o.account(c.Account)
		return err
	}
	if err := o.authorizeLocked(c, action, resource); err != nil {
		return err
	}
	if fn == nil {
		return nil
	}
	return fn(a)
}
