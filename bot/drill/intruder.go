package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/killswitch/killswitch/actions/sim"
)

// intruder plays the scenario's adversary on the drill clock.
type intruder struct {
	r       *run
	held    []*held
	tried   []attempt
	lost    []Loss
	noticed time.Time
	names   int
}

// held is a credential the intruder holds.
type held struct {
	what    string
	cred    sim.Credential
	from    string // the technique that gave it; "" for what it started with
	created bool   // a backdoor it made (counted in backdoors_created)
}

// attempt is one technique the intruder tried (in one account).
type attempt struct {
	technique sim.Technique
	account   string
	at        time.Time
	cred      *held // the credential it worked with; nil when refused everywhere
	effect    sim.Effect
	err       error
}

func newIntruder(r *run) *intruder {
	in := &intruder{r: r}
	for _, h := range r.s.Intruder.Holds {
		acct := h.Account
		if acct == "" {
			acct = r.org.Accounts()[0]
		}
		switch {
		case h.Role != "":
			arn, _ := r.org.RoleARN(acct, h.Role)
			in.held = append(in.held, &held{what: "a session of role " + h.Role + " in " + acct,
				cred: sim.Credential{Account: acct, Principal: arn, SessionIssued: Start}})
		case h.Console:
			arn, _ := r.org.UserARN(acct, h.User)
			in.held = append(in.held, &held{what: "the console password of " + h.User + " in " + acct,
				cred: sim.Credential{Account: acct, Principal: arn, Console: true}})
		default:
			arn, _ := r.org.UserARN(acct, h.User)
			keys := r.org.AccessKeyIDs(acct, h.User)
			id := ""
			if h.Key < len(keys) {
				id = keys[h.Key]
			}
			in.held = append(in.held, &held{what: "the leaked access key " + mask(id) + " of " + h.User + " in " + acct,
				cred: sim.Credential{Account: acct, Principal: arn, AccessKeyID: id}})
		}
	}
	return in
}

func mask(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[:4] + "…" + id[len(id)-4:]
}

func (in *intruder) pace(ctx context.Context) error {
	return in.r.clock.Sleep(ctx, time.Duration(float64(time.Second)/in.r.s.Intruder.Rate))
}

// run is the intruder's lane: backup logins, then waiting to notice the
// response, then the playbook, in parallel with the bot.
func (in *intruder) run(ctx context.Context) {
	r := in.r
	r.log(ActorAttacker, "starts with %s", in.heldList())
	for _, id := range r.s.Intruder.Setup {
		if !in.try(ctx, id) {
			return
		}
	}
	if !in.waitToNotice(ctx) {
		return
	}
	for _, id := range in.playbook() {
		if !in.try(ctx, id) {
			return
		}
	}
	r.log(ActorAttacker, "has worked through its playbook")
}

func (in *intruder) heldList() string {
	var w []string
	for _, h := range in.held {
		w = append(w, h.what)
	}
	return strings.Join(w, "; ")
}

// playbook is the techniques it uses once it has noticed the response.
func (in *intruder) playbook() []string {
	s := in.r.s.Intruder
	if s.Random > 0 {
		all := techniqueIDs()
		rng := rand.New(rand.NewPCG(uint64(in.r.seed), 0x6b696c6c))
		out := make([]string, s.Random)
		for i := range out {
			out[i] = all[rng.IntN(len(all))]
		}
		return out
	}
	var out []string
	for _, id := range s.Playbook {
		if id == "all" {
			out = append(out, techniqueIDs()...)
			continue
		}
		out = append(out, id)
	}
	return out
}

// waitToNotice returns when the intruder has noticed the response (false
// when the drill's time ran out first).
func (in *intruder) waitToNotice(ctx context.Context) bool {
	r := in.r
	n := r.s.Intruder.Notices
	if n.On == NoticeNever {
		r.log(ActorAttacker, "never notices the response and stops")
		return false
	}
	tick := max(time.Duration(float64(time.Second)/r.s.Intruder.Rate), time.Second)
	for {
		if why := in.notices(ctx, n.On); why != "" {
			r.log(ActorAttacker, "notices the response (%s)", why)
			in.noticed = r.clock.Now()
			if n.After > 0 && r.clock.Sleep(ctx, n.After.D()) != nil {
				return false
			}
			r.log(ActorAttacker, "fights back: works through its playbook at %g calls/s with every credential it holds", r.s.Intruder.Rate)
			return true
		}
		if r.clock.Sleep(ctx, tick) != nil {
			return false
		}
	}
}

// notices checks the scenario's noticing condition once; for the denied
// and credential conditions the intruder makes a call (it is working).
func (in *intruder) notices(ctx context.Context, on string) string {
	r := in.r
	switch on {
	case NoticeFirstChange:
		if fc := r.org.FirstChange(); !fc.IsZero() {
			return fmt.Sprintf("the bot's first change at t+%.1fs", fc.Sub(Start).Seconds())
		}
	case NoticeFirstDenied, NoticeCredentialCut:
		for i, h := range in.held {
			if on == NoticeFirstDenied && i > 0 {
				break
			}
			err := r.org.Act(ctx, h.cred, "s3:ListAllMyBuckets", "*", nil)
			var d *sim.Denied
			if errors.As(err, &d) && (on == NoticeFirstDenied || d.Policy == "") {
				return "a call with " + h.what + " was refused: " + d.Reason
			}
		}
	}
	return ""
}

// try runs one technique in every account where the intruder holds a
// credential, with each credential until one works. It returns false when
// the drill's time is up.
func (in *intruder) try(ctx context.Context, id string) bool {
	r := in.r
	t, ok := sim.LookupTechnique(id)
	if !ok {
		return true
	}
	accts := in.accounts(t)
	if len(accts) == 0 {
		r.log(ActorAttacker, "%s: cannot be tried: it needs a foothold in a %s account", t.ID, t.Needs)
	}
	for _, acct := range accts {
		a := attempt{technique: t, account: acct, at: r.clock.Now()}
		for _, h := range in.held {
			if h.cred.Account != acct {
				continue
			}
			if err := in.pace(ctx); err != nil {
				return false
			}
			in.names++
			eff, err := t.Run(ctx, sim.Attempt{Org: r.org, Cred: h.cred, Pace: in.pace, Outside: outsideAcct,
				Name: fmt.Sprintf("svc-%s-%d", strings.SplitN(t.ID, "-", 2)[0], in.names)})
			if errors.Is(err, sim.ErrHorizon) || ctx.Err() != nil {
				return false
			}
			a.effect.What = append(a.effect.What, eff.What...)
			a.effect.Lost = append(a.effect.Lost, eff.Lost...)
			a.effect.Creds = append(a.effect.Creds, eff.Creds...)
			a.err = err
			if len(eff.What) > 0 || len(eff.Lost) > 0 || len(eff.Creds) > 0 || err == nil {
				a.cred = h
			}
			in.record(t, h, eff, err)
			if err == nil || errors.Is(err, sim.ErrNotFound) {
				break // done, or nothing to act on: the next account
			}
		}
		in.tried = append(in.tried, a)
	}
	return true
}

// accounts are where the technique can be tried: every account where the
// intruder holds a credential, narrowed by what the technique needs.
func (in *intruder) accounts(t sim.Technique) []string {
	mgmt := in.r.org.ManagementAccount()
	seen := map[string]bool{}
	var out []string
	for _, h := range in.held {
		a := h.cred.Account
		switch {
		case seen[a]:
			continue
		case t.Needs == "management" && a != mgmt, t.Needs == "member" && (a == mgmt || mgmt == ""):
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// record puts a technique's outcome on the timeline and keeps what it won.
func (in *intruder) record(t sim.Technique, h *held, eff sim.Effect, err error) {
	r := in.r
	for _, w := range eff.What {
		r.log(ActorAttacker, "%s: %s (with %s)", t.ID, w, h.what)
	}
	for _, res := range eff.Lost {
		in.lost = append(in.lost, Loss{Resource: res.Kind + " " + res.ID, Account: h.cred.Account, Technique: t.ID,
			Credential: h.what, T: round3(r.clock.Now().Sub(Start).Seconds())})
	}
	for _, c := range eff.Creds {
		in.held = append(in.held, &held{what: describeCred(c), cred: c, from: t.ID, created: t.Tactic == "persistence"})
	}
	var d *sim.Denied
	switch {
	case err == nil:
	case errors.As(err, &d):
		r.log(ActorAttacker, "%s is refused for %s: %s", t.ID, h.what, d.Reason)
	case errors.Is(err, sim.ErrNotFound):
		r.log(ActorAttacker, "%s: nothing to act on in %s", t.ID, h.cred.Account)
	default:
		r.log(ActorAttacker, "%s fails with %s: %s", t.ID, h.what, firstLine(err.Error()))
	}
}

func describeCred(c sim.Credential) string {
	name := c.Principal[strings.LastIndexAny(c.Principal, "/:")+1:]
	switch {
	case c.AccessKeyID != "":
		return "access key " + mask(c.AccessKeyID) + " of " + name + " in " + c.Account
	case c.Console:
		return "the console password of " + name + " in " + c.Account
	case strings.Contains(c.Principal, ":assumed-role/"):
		parts := strings.Split(c.Principal, "/")
		return "a session of role " + parts[1] + " in " + c.Account
	}
	return "a session of " + name + " in " + c.Account
}

// probes are the calls that show a credential still works: a read and a
// write, destructive or not.
var probes = []string{"s3:ListAllMyBuckets", "iam:CreateUser", "ec2:DeleteSnapshot", "sts:AssumeRole"}

// works reports whether a credential can still make any probe call now.
func (in *intruder) works(h *held) bool {
	for _, p := range probes {
		if in.r.org.Authorize(h.cred, p, "*") == nil {
			return true
		}
	}
	return false
}

// working counts the credentials that still work.
func (in *intruder) working() int {
	n := 0
	for _, h := range in.held {
		if in.works(h) {
			n++
		}
	}
	return n
}
