// Package drill runs tabletop exercises offline: a scripted intruder in a
// simulated organization, the responders' move, and a scorecard in the
// report format of CONTRACT.md.
//
// The built-in scenarios replay Code Spaces (2014) in the codespaces
// organization: the intruder holds a leaked administrator key, makes backup
// logins (a new user with a key and a password, an extra key on a service
// user) and keeps a role session; then the responders act, which tips the
// intruder off, and the intruder tries to destroy every snapshot, AMI,
// volume, bucket and backup with every credential it holds.
//
//   - codespaces: responders run lockdown (deny-delete, then revoke
//     sessions, then disable users) through the containment engine.
//   - codespaces-manual: the 2014 response: the leaked user's password is
//     changed (its login profile removed); no guardrail, nothing else.
package drill

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// Report is the drill report of CONTRACT.md.
type Report struct {
	Scenario           string  `json:"scenario"`
	Contained          bool    `json:"contained"`
	TimeToContainmentS float64 `json:"time_to_containment_s"`
	ResourcesTotal     int     `json:"resources_total"`
	ResourcesLost      int     `json:"resources_lost"`
	BackdoorsCreated   int     `json:"backdoors_created"`
	BackdoorsDisabled  int     `json:"backdoors_disabled"`
	BreakGlassIntact   bool    `json:"break_glass_intact"`
	Timeline           []Event `json:"timeline"`
}

// Event is one line of the timeline; T is seconds since the intrusion.
type Event struct {
	T     float64 `json:"t"`
	Actor string  `json:"actor"` // attacker | responder | bot
	Event string  `json:"event"`
}

// Scenarios lists the built-in scenarios.
func Scenarios() []string { return []string{"codespaces", "codespaces-manual"} }

// Config is what the responders' engine needs (the configured exemptions).
type Config struct {
	BreakGlassPatterns []string
	BreakGlassTag      string
	BotRoleName        string
}

// the scenario's fixed facts (the codespaces built-in organization)
const (
	account      = "111122223333"
	leakedUser   = "ops-admin"       // its key leaked
	serviceUser  = "ci-runner"       // gets an extra key from the intruder
	backdoorUser = "backup-admin"    // created by the intruder
	sessionRole  = "ci-deploy"       // the intruder keeps a session of it
	bgRole       = "BreakGlassAdmin" // break-glass, by pattern
	respondAfter = 3 * time.Minute   // the responders move this long after the intrusion starts
)

// destroyable are the kinds of data the intruder goes for.
var destroyable = map[string]bool{"snapshot": true, "ami": true, "volume": true, "bucket": true, "backup": true, "db-snapshot": true, "table": true}

// Run plays a built-in scenario.
func Run(ctx context.Context, name string, cfg Config) (*Report, error) {
	manual := false
	switch name {
	case "codespaces":
	case "codespaces-manual":
		manual = true
	default:
		return nil, fmt.Errorf("unknown scenario %q: choose one of %s", name, strings.Join(Scenarios(), ", "))
	}
	if cfg.BotRoleName == "" {
		cfg.BotRoleName = actions.DefaultBotRoleName
	}
	org, err := sim.Builtin("codespaces")
	if err != nil {
		return nil, err
	}
	start := time.Date(2014, 6, 17, 9, 0, 0, 0, time.UTC)
	clock := start
	org.SetClock(func() time.Time { return clock })
	r := &Report{Scenario: name, Timeline: []Event{}}
	log := func(actor, format string, a ...any) {
		r.Timeline = append(r.Timeline, Event{T: clock.Sub(start).Seconds(), Actor: actor, Event: fmt.Sprintf(format, a...)})
	}
	for _, res := range org.Resources(account) {
		if destroyable[res.Kind] {
			r.ResourcesTotal++
		}
	}

	// 1. the intruder, with the leaked key, makes backup logins
	leakedARN, _ := org.UserARN(account, leakedUser)
	keys := org.AccessKeyIDs(account, leakedUser)
	if len(keys) == 0 {
		return nil, errors.New("the scenario's leaked user has no key")
	}
	held := []credHeld{{"leaked key of " + leakedUser, sim.Credential{Account: account, Principal: leakedARN, AccessKeyID: keys[0]}, ""}}
	log("attacker", "signs in with the leaked access key of %s", leakedUser)
	clock = clock.Add(20 * time.Second)
	if k, err := org.AttackerCreateUser(held[0].cred, backdoorUser); err == nil {
		arn, _ := org.UserARN(account, backdoorUser)
		held = append(held, credHeld{"backdoor user " + backdoorUser + " (key)", sim.Credential{Account: account, Principal: arn, AccessKeyID: k.ID}, backdoorUser},
			credHeld{"backdoor user " + backdoorUser + " (console)", sim.Credential{Account: account, Principal: arn, Console: true}, backdoorUser})
		r.BackdoorsCreated++
		log("attacker", "creates backdoor user %s with a console password and an access key", backdoorUser)
	}
	clock = clock.Add(20 * time.Second)
	if k, err := org.AttackerCreateAccessKey(held[0].cred, serviceUser); err == nil {
		arn, _ := org.UserARN(account, serviceUser)
		held = append(held, credHeld{"extra key on " + serviceUser, sim.Credential{Account: account, Principal: arn, AccessKeyID: k.ID}, "key:" + k.ID})
		r.BackdoorsCreated++
		log("attacker", "adds a second access key to service user %s", serviceUser)
	}
	clock = clock.Add(20 * time.Second)
	roleARN, _ := org.RoleARN(account, sessionRole)
	held = append(held, credHeld{"session of role " + sessionRole, sim.Credential{Account: account, Principal: roleARN, SessionIssued: clock}, ""})
	log("attacker", "assumes role %s and keeps the session", sessionRole)

	// 2. the responders move
	clock = start.Add(respondAfter)
	var took time.Duration
	if manual {
		log("responder", "changes the password of %s (the 2014 response: no guardrail, keys and sessions untouched)", leakedUser)
		c, err := org.Provider(cfg.BotRoleName).Clients(ctx, account)
		if err != nil {
			return nil, err
		}
		if _, err := c.IAM.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(leakedUser)}); err != nil {
			return nil, fmt.Errorf("reset the password of %s: %w", leakedUser, err)
		}
	} else {
		log("responder", "requests lockdown --all; a second responder approves")
		eng, err := actions.New(org.Provider(cfg.BotRoleName), actions.Config{BreakGlassPatterns: cfg.BreakGlassPatterns, BreakGlassTag: cfg.BreakGlassTag, BotRoleName: cfg.BotRoleName,
			Now: func() time.Time { return clock }})
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		res, err := eng.Apply(ctx, actions.Lockdown, org.Accounts(), actions.Options{RequestID: "drill-" + name}, nil)
		took = time.Since(t0)
		if err != nil {
			return nil, err
		}
		byAction := map[string]int{}
		for _, s := range res.Steps() {
			if s.Status == actions.StepDone {
				byAction[s.Action]++
			}
		}
		for _, a := range []string{actions.DenyDelete, actions.RevokeSessions, actions.DisableUsers} {
			log("bot", "%s: %d change(s)", a, byAction[a])
		}
		if p := res.Problems(); len(p) > 0 {
			log("bot", "lockdown %s: %s", res.Status, strings.Join(p, "; "))
		}
	}
	clock = clock.Add(took)
	r.TimeToContainmentS = clock.Sub(start).Seconds()

	// 3. tipped off, the intruder goes for the data with everything it holds
	clock = clock.Add(30 * time.Second)
	log("attacker", "notices the response and starts deleting snapshots, AMIs, volumes, buckets and backups")
	resources := org.Resources(account)
	sort.Slice(resources, func(i, j int) bool { return resources[i].Kind+resources[i].ID < resources[j].Kind+resources[j].ID })
	for _, res := range resources {
		if !destroyable[res.Kind] {
			continue
		}
		for _, h := range held {
			if org.Destroy(h.cred, res.Kind, res.ID) == nil {
				r.ResourcesLost++
				log("attacker", "deletes %s %s with the %s", res.Kind, res.ID, h.what)
				break
			}
		}
	}
	if r.ResourcesLost == 0 {
		log("attacker", "every deletion is denied")
	}

	// 4. the scorecard
	r.Contained = true
	alive := map[string]bool{} // backdoor -> one of its credentials still works
	for _, h := range held {
		works := org.Authorize(h.cred, "iam:CreateUser", "*") == nil || org.Authorize(h.cred, "ec2:DeleteSnapshot", "*") == nil
		if works {
			r.Contained = false
			log("attacker", "the %s still works", h.what)
		}
		if h.backdoor != "" {
			alive[h.backdoor] = alive[h.backdoor] || works
		}
	}
	for _, works := range alive {
		if !works {
			r.BackdoorsDisabled++
		}
	}
	bgARN, _ := org.RoleARN(account, bgRole)
	bg := sim.Credential{Account: account, Principal: bgARN, SessionIssued: clock}
	r.BreakGlassIntact = org.Authorize(bg, "ec2:DeleteSnapshot", "*") == nil && org.Authorize(bg, "iam:CreateUser", "*") == nil
	return r, nil
}

type credHeld struct {
	what     string
	cred     sim.Credential
	backdoor string // the backdoor it belongs to, "" for what the intruder found
}
