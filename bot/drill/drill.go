// Package drill runs tabletop exercises offline: a scenario (built-in or a
// YAML file) plays an intruder who fights back against the responders'
// moves, on one virtual clock (sim.Clock) shared by the intruder, the
// responders, the Slack service and the containment engine.
//
// The responders' moves go through the real service path: signed slash
// commands and button clicks are sent to the in-process bot.Service, which
// plans, posts its approval card to an in-process fake Slack, waits for the
// approval and runs the engine on the simulated organization. Every
// simulated AWS call (the bot's and the intruder's) takes its service's
// latency on the virtual clock, policy changes take effect after the
// scenario's propagation delay, and the intruder notices the response when
// the scenario says and then works through its playbook at its own rate
// while the bot's remaining steps run. The same scenario and seed always
// give the same report; no wall-clock time enters it.
package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// Config is what the responders' service needs from the configuration.
type Config struct {
	BreakGlassPatterns []string
	BreakGlassTag      string
	// BreakGlassICUsers and BreakGlassICGroups: IAM Identity Center
	// break-glass users and groups (actions.Config).
	BreakGlassICUsers, BreakGlassICGroups []string
	BotRoleName                           string
	Concurrency                           int // accounts at once, as in production (default: all)
}

// Start is when every drill's intrusion begins (simulated time).
var Start = time.Date(2026, 6, 17, 9, 0, 0, 0, time.UTC)

// The drill's Slack workspace.
const (
	drillTeam    = "T0DRILL"
	drillChannel = "C0DRILL"
	drillToken   = "xoxb-drill"
	slackBase    = "http://slack.drill.invalid"
	outsideAcct  = "999988887777"
)

// run is one drill in progress.
type run struct {
	s     *Scenario
	cfg   Config
	seed  int64
	org   *sim.Org
	clock *sim.Clock
	slack *slackfake.Fake
	svc   *bot.Service
	http  *http.Client
	sign  string // the drill's signing secret (random, never shown)

	mu       sync.Mutex
	timeline []Event
	marks    marks
	in       *intruder
}

// marks are the moments the scorecard measures.
type marks struct {
	request, approval, guardrail, contained time.Time
	guardrailIn                             map[string]time.Time // per account
	probes                                  map[string]string    // per account: a non-exempt role to test the guardrail with
}

// Run plays scenario s; seed 0 takes the scenario's seed.
func Run(ctx context.Context, s *Scenario, seed int64, cfg Config) (*Report, error) {
	if seed == 0 {
		seed = s.Seed
	}
	if cfg.BotRoleName == "" {
		cfg.BotRoleName = actions.DefaultBotRoleName
	}
	org, err := s.loadOrg()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "killswitch-drill-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &run{s: s, cfg: cfg, seed: seed, org: org, clock: sim.NewClock(Start, s.Duration.D())}
	r.marks.guardrailIn = map[string]time.Time{}
	r.marks.probes = map[string]string{}
	for _, a := range org.Accounts() {
		if p, ok := r.probePrincipal(a); ok {
			r.marks.probes[a] = p
		}
	}
	org.SetSchedule(sim.Schedule{Clock: r.clock, Latency: durations(s.Latency), Propagation: durations(s.Propagation)})
	if limits, err := sim.ResolveRateLimits(s.RateLimits); err != nil {
		return nil, err
	} else if limits != nil {
		if err := org.SetRateLimits(limits); err != nil {
			return nil, err
		}
	}
	for _, f := range s.Faults {
		org.InjectFault(sim.Fault{Account: f.Account, Operation: f.Operation, Throttle: f.Throttle, Times: f.Times, Latency: f.Latency.D()})
	}
	st, err := store.Open(ctx, "sqlite", filepath.Join(dir, "drill.db")+"?_pragma=synchronous(OFF)&_pragma=journal_mode(MEMORY)") // a drill's store is thrown away
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := r.newService(st); err != nil {
		return nil, err
	}
	before := r.breakGlassState()
	total := r.resources()
	r.clock.Run(ctx, func(ctx context.Context) {
		r.in = newIntruder(r)
		r.clock.Go(ctx, r.in.run)
		for i := range s.Responders {
			m := s.Responders[i]
			r.clock.Go(ctx, func(ctx context.Context) { r.move(ctx, m) })
		}
		r.clock.Go(ctx, r.monitor)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.report(total, before), nil
}

func durations(m map[string]Duration) map[string]time.Duration {
	out := make(map[string]time.Duration, len(m))
	for k, v := range m {
		out[k] = v.D()
	}
	return out
}

// newService builds the Slack service the responders use, on the drill's
// clock, store, fake Slack and simulated organization.
func (r *run) newService(st store.Store) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	r.sign = hex.EncodeToString(b[:])
	r.slack = slackfake.InProcess(drillToken, slackBase)
	r.http = &http.Client{Transport: slackLogger{r, r.slack.Transport()}}
	eng, err := actions.New(r.org.Provider(r.cfg.BotRoleName), actions.Config{
		BreakGlassPatterns: r.cfg.BreakGlassPatterns, BreakGlassTag: r.cfg.BreakGlassTag, BotRoleName: r.cfg.BotRoleName,
		BreakGlassICUsers: r.cfg.BreakGlassICUsers, BreakGlassICGroups: r.cfg.BreakGlassICGroups,
		Concurrency: r.cfg.Concurrency, Now: r.clock.Now, Runner: r.clock, Sleep: r.clock.Sleep, OnCall: r.botCall,
		Without: r.s.Without,
	})
	if err != nil {
		return err
	}
	baselines := !slices.Contains(r.s.Without, actions.DefenseBaseline)
	if baselines {
		if err := r.seedBaseline(eng, st); err != nil {
			return err
		}
	}
	al := audit.New(st, r.clock.Now)
	requesters, approvers := r.responders()
	seq := 0
	appr := &approval.Service{Store: st, Audit: al, Now: r.clock.Now,
		Policy: approval.Policy{Requesters: requesters, Approvers: approvers, Required: 1, Expiry: time.Hour},
		NewID:  func() string { seq++; return fmt.Sprintf("drill-%d", seq) }}
	log := logrus.New()
	log.SetOutput(io.Discard)
	r.svc, err = bot.New(bot.Config{
		TeamID: drillTeam, Channel: drillChannel, SigningSecret: r.sign,
		Requesters: requesters, Approvers: approvers, Required: 1, Expiry: time.Hour,
		Accounts: r.org.Accounts(), ExemptBaseline: baselines,
	}, bot.Deps{
		Engine: eng, Store: st, Audit: al, Approval: appr, Log: log, Now: r.clock.Now,
		Slack: bot.NewSlackClientHTTP(drillToken, r.slack.APIURL(), r.http), HTTPClient: r.http, Go: r.clock.Go,
	})
	return err
}

// seedBaseline records who is exempt by tag or pattern as the company's
// calm state two days before the intrusion, as serve would have.
func (r *run) seedBaseline(eng *actions.Engine, st store.Store) error {
	ctx := context.Background() // outside the clock's lanes: no simulated time passes
	got, err := eng.ExemptBaseline(ctx, r.org.Accounts())
	if err != nil {
		return fmt.Errorf("drill: record the exemption baseline: %w", err)
	}
	for _, a := range r.org.Accounts() {
		if _, err := st.PutBaseline(ctx, a, Start.Add(-48*time.Hour), got[a]); err != nil {
			return err
		}
	}
	return nil
}

// responders returns the scenario's requesters and approvers; a scenario
// with no Slack moves still needs a valid service.
func (r *run) responders() (requesters, approvers []string) {
	for _, m := range r.s.Responders {
		switch {
		case m.Command != "" && !contains(requesters, m.User):
			requesters = append(requesters, m.User)
		case m.Approve && !contains(approvers, m.User):
			approvers = append(approvers, m.User)
		}
	}
	if len(requesters) == 0 {
		requesters = []string{"U0NOBODY1"}
	}
	if len(approvers) == 0 {
		approvers = []string{"U0NOBODY2"}
	}
	return requesters, approvers
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// log adds a timeline event at the current virtual time.
func (r *run) log(actor, format string, a ...any) {
	t := r.clock.Now().Sub(Start).Seconds()
	r.mu.Lock()
	r.timeline = append(r.timeline, Event{T: round3(t), Actor: actor, Event: fmt.Sprintf(format, a...)})
	r.mu.Unlock()
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// botCall puts the bot's changes and failures on the timeline.
func (r *run) botCall(c actions.Call) {
	if !changes(c.Operation) {
		return // reads (a NoSuchEntity there is an answer, not a failure)
	}
	what := c.Service + "." + c.Operation
	if c.Target != "" {
		what += " " + c.Target
	}
	if c.Outcome != "ok" {
		what += ": " + firstLine(c.Error)
	}
	r.log(ActorBot, "%s (account %s)", what, c.Account)
}

func changes(op string) bool {
	for _, p := range []string{"List", "Get", "Describe"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// resources counts the data at the start, by account.
func (r *run) resources() int {
	n := 0
	for _, a := range r.org.Accounts() {
		n += len(r.org.ResourceStates(a))
	}
	return n
}

// monitor samples, every second of simulated time, whether the
// guardrail is in effect in each account and whether any intruder
// credential still works; it ends when it is the last lane.
func (r *run) monitor(ctx context.Context) {
	const every = time.Second
	settled := false
	for r.clock.Sleep(ctx, every) == nil {
		now := r.clock.Now()
		for _, a := range r.org.Accounts() {
			if _, ok := r.marks.guardrailIn[a]; !ok && r.guardrailHolds(a) {
				r.marks.guardrailIn[a] = now
			}
		}
		if r.in.working() == 0 {
			if r.marks.contained.IsZero() && !r.marks.approval.IsZero() {
				r.marks.contained = now
			}
		} else {
			r.marks.contained = time.Time{}
		}
		if r.clock.Lanes() == 1 { // the rest is done: let the last changes propagate, then score
			if settled {
				return
			}
			settled = true
			if r.clock.Sleep(ctx, r.settle()) != nil {
				return
			}
		}
	}
}

// settle is how long the last changes take to apply: the longest
// propagation delay, and a second.
func (r *run) settle() time.Duration {
	d := time.Second
	for _, p := range r.s.Propagation {
		d = max(d, p.D()+time.Second)
	}
	return d
}

// guardrailHolds reports whether a destructive call by a fresh session of
// a non-exempt principal is denied in the account (deny-delete in effect).
func (r *run) guardrailHolds(acct string) bool {
	res := r.org.ResourceStates(acct)
	if len(res) == 0 {
		return false
	}
	probe, ok := r.marks.probes[acct]
	if !ok {
		return false
	}
	action, _ := sim.DestroyAction(res[0].Kind)
	arn, _ := sim.ResourceARN(acct, res[0].Kind, res[0].ID)
	c := sim.Credential{Account: acct, Principal: probe, SessionIssued: r.clock.Now()}
	return r.org.Authorize(c, action, arn) != nil
}

// probePrincipal is a role no exemption covers, to test the guardrail with.
func (r *run) probePrincipal(acct string) (string, bool) {
	st := r.org.Snapshot(acct)
	for _, ro := range st.Roles {
		if r.exempt(ro.Arn, ro.Tags) || strings.HasPrefix(ro.Path, "/aws-") || ro.Name == r.cfg.BotRoleName {
			continue
		}
		return ro.Arn, true
	}
	return "", false
}

func (r *run) exempt(arn string, tags map[string]string) bool {
	for _, p := range r.cfg.BreakGlassPatterns {
		if actions.ArnLike(p, arn) {
			return true
		}
	}
	_, tagged := tags[r.cfg.BreakGlassTag]
	return r.cfg.BreakGlassTag != "" && tagged
}

// slackLogger puts the Slack conversation on the timeline.
type slackLogger struct {
	r    *run
	next http.RoundTripper
}

func (l slackLogger) RoundTrip(req *http.Request) (*http.Response, error) {
	n := len(l.r.slack.Calls())
	resp, err := l.next.RoundTrip(req)
	calls := l.r.slack.Calls()
	for _, c := range calls[n:] {
		l.r.log(ActorSlack, "%s", describeSlack(c))
	}
	return resp, err
}

func describeSlack(c slackfake.Call) string {
	text := strings.Join(strings.Fields(c.AllText()), " ")
	if len(text) > 240 {
		text = text[:240] + "…"
	}
	where := "in the channel"
	switch {
	case c.Method == slackfake.Update:
		where = "card updated"
	case c.ThreadTS != "":
		where = "in the thread"
	case c.Method == slackfake.PostEphemeral || c.Method == slackfake.ResponseURL:
		where = "to the responder only"
	}
	if c.Error != "" {
		return fmt.Sprintf("%s refused (%s)", c.Method, c.Error)
	}
	return fmt.Sprintf("%s: %s", where, text)
}

// SlackRunner plays built-in scenarios for the service's drill mode
// (bot.DrillRunner). It builds its own simulated organization for every
// drill and never sees the service's engine or AWS clients.
type SlackRunner struct{ Config Config }

var _ bot.DrillRunner = SlackRunner{}

// Scenarios implements bot.DrillRunner: the built-in scenarios.
func (SlackRunner) Scenarios() []string { return Scenarios() }

// Run implements bot.DrillRunner.
func (sr SlackRunner) Run(ctx context.Context, scenario string) (*bot.DrillOutcome, error) {
	b, ok := BuiltinSource(scenario)
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q", scenario)
	}
	s, err := Parse(b, "built-in "+scenario, "")
	if err != nil {
		return nil, err
	}
	rep, page, err := RunPage(ctx, s, 0, sr.Config)
	if err != nil {
		return nil, err
	}
	out := &bot.DrillOutcome{Contained: rep.Contained, Scorecard: rep.ScorecardLines(), HTML: page, CSP: HTMLCSP}
	for _, e := range rep.Timeline {
		out.Timeline = append(out.Timeline, fmt.Sprintf("t+%7.1fs %-9s %s", e.T, e.Actor, e.Event))
	}
	return out, nil
}
