package actions

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"golang.org/x/time/rate"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// The engine paces its own calls per account and service with a client-side
// token bucket (golang.org/x/time/rate) that adapts to throttling: AWS
// throttles per account and service, so one throttled account slows only
// its own calls, never the others'. The limiter reads the engine's clock
// (Config.Now) and waits with Config.Sleep, so on a drill's virtual clock it
// paces on virtual time.
//
// A service with a configured rate (Config.Rates) starts at it. A service
// without one starts unpaced; its first throttling error paces it at
// DefaultRates (or the configured rate). A throttling error halves the
// rate (down to MinRate; throttles within cutWindow of the last halving are
// the same overshoot and halve it once) and the call is retried after a
// back-off, up to
// Config.ThrottleRetries times (not when the SDK's retryer already gave up
// on it); every call that succeeds speeds it up by 5%, up to the ceiling.
// With the real factory the SDK's retryer retries a throttled call first;
// the engine's retries come on top, after the SDK gave up, and at the
// slower pace.

// DefaultRates are the per-account rates (calls/s) the pacer falls back to
// once a service throttles. They match sim.DefaultRateLimits, which gives
// their sources and assumptions.
var DefaultRates = map[string]float64{
	"IAM":            20,
	"Organizations":  10,
	"STS":            100,
	"EC2":            20,
	"S3":             3500,
	"SecretsManager": 50,
}

const (
	// MinRate is the slowest the pacer goes (calls/s).
	MinRate = 1.0
	// DefaultThrottleRetries is how often a throttled call is retried.
	DefaultThrottleRetries = 4
	// throttleBackoff is the first back-off; it doubles per retry.
	throttleBackoff = 100 * time.Millisecond
)

type paceKey struct{ account, service string }

// pacer holds one adaptive limiter per account and service, for the life
// of the engine (AWS's buckets outlive a run too).
type pacer struct {
	mu  sync.Mutex
	lim map[paceKey]*adaptive
}

type adaptive struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	ceiling float64        // the rate it recovers to
	current float64        // 0: unpaced
	stuck   map[string]int // operation -> calls in a row that ran out of retries
	cut     time.Time      // when a throttle last slowed it down
}

func (p *pacer) get(e *Engine, account, service string) *adaptive {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lim == nil {
		p.lim = map[paceKey]*adaptive{}
	}
	k := paceKey{account, service}
	a := p.lim[k]
	if a == nil {
		a = &adaptive{}
		if r := e.cfg.Rates[service]; r > 0 {
			a.ceiling, a.current = r, r
			a.lim = rate.NewLimiter(rate.Limit(r), burstFor(r))
			a.lim.SetBurstAt(e.paceNow(), burstFor(r))
		}
		p.lim[k] = a
	}
	return a
}

// paceNow is the pacer's clock: the engine's when it also sleeps on it (a
// drill's virtual clock passes both Now and Sleep), else the wall clock that
// the default Sleep waits on (a test's fixed Now would never refill).
func (e *Engine) paceNow() time.Time {
	if e.virtualPace {
		return e.cfg.Now()
	}
	return time.Now()
}

func burstFor(r float64) int { return max(1, int(r)) }

// maxReservation is the furthest ahead a caller holds a token: one due
// later is given back and asked for again after this long, so callers
// queued while the rate was low are not held to it once it has recovered.
const maxReservation = time.Second

// wait takes a token, sleeping until one is due.
func (a *adaptive) wait(ctx context.Context, e *Engine) error {
	for {
		a.mu.Lock()
		if a.lim == nil {
			a.mu.Unlock()
			return nil
		}
		now := e.paceNow()
		r := a.lim.ReserveN(now, 1)
		d := r.DelayFrom(now)
		if d > maxReservation {
			r.CancelAt(now)
		}
		a.mu.Unlock()
		switch {
		case d <= 0:
			return nil
		case d <= maxReservation:
			return e.cfg.Sleep(ctx, d)
		}
		if err := e.cfg.Sleep(ctx, maxReservation); err != nil {
			return err
		}
	}
}

// cutWindow: throttles within this long of the last slow-down are one
// overshoot (the calls in flight together), answered by one halving.
const cutWindow = time.Second

// throttled slows the limiter down.
func (a *adaptive) throttled(e *Engine, service string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := e.paceNow()
	if a.lim == nil {
		r := DefaultRates[service]
		if r <= 0 {
			r = 10
		}
		a.ceiling, a.current, a.cut = r, r, now
		a.lim = rate.NewLimiter(rate.Limit(r), 1)
		return
	}
	if now.Sub(a.cut) < cutWindow {
		return // parallel calls throttled by the same burst: one cut
	}
	a.cut = now
	a.current = max(MinRate, a.current/2)
	a.lim.SetLimitAt(now, rate.Limit(a.current))
	a.lim.SetBurstAt(now, 1)
}

// stuckAfter: calls of one operation that ran out of retries before it
// counts as stuck.
const stuckAfter = 3

func (a *adaptive) isStuck(op string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stuck[op] >= stuckAfter
}

// exhausted counts a call of op that ran out of retries. Once op is stuck,
// the throttling was its own, not the account's: the limiter goes back to
// its ceiling (the account's other calls halve it again if AWS throttles
// them too).
func (a *adaptive) exhausted(e *Engine, op string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stuck == nil {
		a.stuck = map[string]int{}
	}
	a.stuck[op]++
	if a.stuck[op] == stuckAfter && a.lim != nil {
		now := e.paceNow()
		a.current = a.ceiling
		a.lim.SetLimitAt(now, rate.Limit(a.current))
		a.lim.SetBurstAt(now, burstFor(a.current))
	}
}

func (a *adaptive) unstick(op string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.stuck, op)
}

// succeeded speeds the limiter back up towards its ceiling.
func (a *adaptive) succeeded(e *Engine) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lim == nil || a.current >= a.ceiling {
		return
	}
	now := e.paceNow()
	a.current = min(a.ceiling, a.current*recovery)
	a.lim.SetLimitAt(now, rate.Limit(a.current))
	a.lim.SetBurstAt(now, burstFor(a.current))
}

// recovery is how much faster each success makes a throttled limiter: about
// 5% a call, so a rate halved by a throttle is back in some 14 calls, and
// several parallel workers probe the account's real rate gently instead
// of overshooting it together.
const recovery = 1.05

// throttleRetryCap bounds a back-off.
const throttleRetryCap = 5 * time.Second

// paced runs f at the account's pace for the service, retrying it after a
// back-off when AWS throttles it. It returns f's last error.
//
// An operation whose last stuckAfter calls were throttled on every retry
// is stuck (AWS keeps refusing it here, whatever the pace): it is tried
// once a call, without slowing the account's other calls, until it
// succeeds again. The principals it fails on are reported; a rerun
// completes them.
func (e *Engine) paced(ctx context.Context, account, service, op string, f func() error) error {
	a := e.pace.get(e, account, service)
	if a.isStuck(op) {
		if err := a.wait(ctx, e); err != nil {
			return err
		}
		err := f()
		if err == nil {
			a.unstick(op)
			a.succeeded(e)
		}
		return err
	}
	backoff := throttleBackoff
	for attempt := 0; ; attempt++ {
		if err := a.wait(ctx, e); err != nil {
			return err
		}
		err := f()
		if !awsapi.IsThrottle(err) {
			if err == nil {
				a.unstick(op)
				a.succeeded(e)
			}
			return err
		}
		a.throttled(e, service)
		var gaveUp *retry.MaxAttemptsError // the SDK's retryer already backed off and retried
		if attempt >= e.cfg.ThrottleRetries || ctx.Err() != nil || errors.As(err, &gaveUp) {
			if attempt >= e.cfg.ThrottleRetries {
				a.exhausted(e, op)
			}
			return err
		}
		if serr := e.cfg.Sleep(ctx, backoff); serr != nil {
			return err
		}
		backoff = min(2*backoff, throttleRetryCap)
	}
}

// Pace reports the pacer's current rate for an account and service (calls
// per second; 0: unpaced), for tests and benchmarks.
func (e *Engine) Pace(account, service string) float64 {
	a := e.pace.get(e, account, service)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.current
}
