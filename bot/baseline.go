package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/store"
)

// Exemption baselines (Config.ExemptBaseline): who is exempt by tag or
// pattern is recorded while nothing is pending, approved or running, and on
// demand; every plan and run is checked against the newest baseline older
// than the engine's minimum age (actions/baseline.go), so a tag or a name
// the intruder gave itself protects nothing.

// DefaultBaselineInterval is Config.BaselineInterval's default.
const DefaultBaselineInterval = time.Hour

// EventBaseline is the audit event of a recorded baseline.
const EventBaseline = "baseline"

// baseliner is what the service needs of the engine for baselines.
type baseliner interface {
	ExemptBaseline(ctx context.Context, accounts []string) (map[string][]string, error)
	BaselineMinAge() time.Duration
}

var _ baseliner = (*actions.Engine)(nil)

func (s *Service) baseliner() baseliner { return s.d.Engine.(baseliner) }

// baselineLoop records a baseline at start and every BaselineInterval,
// whenever nothing is pending or running.
func (s *Service) baselineLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.BaselineInterval)
	defer t.Stop()
	for {
		s.recordIfIdle(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordIfIdle records a baseline unless a request is pending, approved or
// running (before and after reading the accounts): during an incident the
// intruder may be tagging and naming its backdoors.
func (s *Service) recordIfIdle(ctx context.Context) {
	log := s.log.WithField("event", EventBaseline)
	if busy, err := s.busy(ctx); err != nil || busy {
		if err != nil && ctx.Err() == nil {
			log.WithError(err).Error("read requests before recording the exemption baseline")
		}
		return
	}
	got, err := s.baseliner().ExemptBaseline(ctx, s.cfg.Accounts)
	if err != nil && ctx.Err() == nil {
		log.WithError(err).Warn("exemption baseline: some accounts were not read; their previous baseline stays")
	}
	if busy, err := s.busy(ctx); err != nil || busy {
		return
	}
	if _, err := s.storeBaseline(ctx, approval.SystemActor, got); err != nil && ctx.Err() == nil {
		log.WithError(err).Error("record the exemption baseline")
	}
}

// busy reports whether a request is pending, approved or running.
func (s *Service) busy(ctx context.Context) (bool, error) {
	rs, err := s.d.Store.ListRequests(ctx, store.Filter{States: []store.State{store.Pending, store.Approved, store.Running}, Limit: 1})
	return len(rs) > 0, err
}

// recorded is one account's stored baseline and what is new in it.
type recorded struct {
	b     store.Baseline
	added []string
}

// storeBaseline stores the baselines read, then audits them.
func (s *Service) storeBaseline(ctx context.Context, actor string, got map[string][]string) ([]recorded, error) {
	now := s.now()
	var out []recorded
	ev := map[string]any{}
	for _, acct := range sortedKeys(got) {
		prev, err := s.d.Store.BaselineAt(ctx, acct, now)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return out, err
		}
		b, err := s.d.Store.PutBaseline(ctx, acct, now, got[acct])
		if err != nil {
			return out, err
		}
		r := recorded{b: b}
		for _, p := range b.Principals {
			if !slices.Contains(prev.Principals, p) { // new, or changed (a new fingerprint)
				r.added = append(r.added, actions.BaselineARN(p))
			}
		}
		out = append(out, r)
		ev[acct] = map[string]any{"exempt": len(b.Principals), "since": b.At.Format(time.RFC3339Nano), "added": r.added}
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, s.d.Audit.Event(ctx, actor, "", EventBaseline, map[string]any{"accounts": ev})
}

// baselineCommand answers /killswitch baseline: record one now.
func (s *Service) baselineCommand(ctx context.Context, o origin) {
	got, readErr := s.baseliner().ExemptBaseline(ctx, s.cfg.Accounts)
	recs, err := s.storeBaseline(ctx, o.User, got)
	if err != nil {
		s.log.WithError(err).WithField("user", o.User).Error("record the exemption baseline")
		s.respond(ctx, o, "Could not record the exemption baseline: an internal error (logged).", nil)
		return
	}
	s.respond(ctx, o, baselineText(recs, readErr, s.now(), s.baseliner().BaselineMinAge()), nil)
}

func baselineText(recs []recorded, readErr error, now time.Time, minAge time.Duration) string {
	b := newBuilder()
	b.line(fmt.Sprintf("*Exemption baseline* recorded %s for %s. Exemptions by tag or pattern count only once a baseline is %s old; ARNs listed in break_glass.principals always count.",
		slackDate(now), plural(len(recs), "account", "accounts"), hours(minAge)))
	for _, r := range recs {
		line := fmt.Sprintf("• `%s`: %s exempt by tag or pattern, ", esc(r.b.Account), plural(len(r.b.Principals), "principal", "principals"))
		if len(r.added) == 0 {
			line += "unchanged since " + slackDate(r.b.At) + "; counts from " + slackDate(r.b.At.Add(minAge))
		} else {
			short := make([]string, len(r.added))
			for i, a := range r.added {
				short[i] = "`" + esc(shortPrincipal(a)) + "`"
			}
			line += "counts from " + slackDate(r.b.At.Add(minAge)) + "; new since the last baseline (check they are genuine): " + listClip(short, 10)
		}
		b.line(line)
	}
	if readErr != nil {
		b.line(":x: not recorded (the previous baseline stays): " + esc(cut(readErr.Error(), 800)))
	}
	return b.String()
}

// hours prints whole hours as "24h".
func hours(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// baselineFor reads, per account, the newest baseline older than the
// engine's minimum age, for a plan or a run (nil when baselines are off).
// An account with none, or whose baseline cannot be read, gets none: its
// exemptions by tag or pattern then protect nobody, and the plan says so.
func (s *Service) baselineFor(ctx context.Context, accounts []string) *actions.Baseline {
	if !s.cfg.ExemptBaseline {
		return nil
	}
	cut := s.now().Add(-s.baseliner().BaselineMinAge())
	out := &actions.Baseline{Accounts: map[string]actions.Recorded{}}
	for _, a := range accounts {
		b, err := s.d.Store.BaselineAt(ctx, a, cut)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log.WithError(err).WithField("account", a).Error("read the exemption baseline: exemptions by tag or pattern protect nobody there")
			}
			continue
		}
		out.Accounts[a] = actions.Recorded{At: b.At, Principals: b.Principals}
	}
	return out
}

// Warnings in Slack: those about exemptions the baseline did not confirm
// come first (a card shows a few), each once; the one about a missing
// baseline says how to record one.
func orderWarnings(ws []string) []string {
	seen := map[string]bool{}
	var first, rest []string
	for _, w := range ws {
		if seen[w] {
			continue
		}
		seen[w] = true
		if actions.IsBaselineWarning(w) {
			first = append(first, w)
		} else {
			rest = append(rest, w)
		}
	}
	return append(first, rest...)
}

func slackWarning(w string) string {
	return strings.Replace(w, "record one when things are calm", "record one with `/killswitch baseline` when things are calm", 1)
}
