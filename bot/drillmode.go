package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/bot/approval"
)

// DrillRunner plays tabletop exercises for drill mode (/killswitch drill
// start SCENARIO). cmd fills it with bot/drill, so bot never imports the
// drill package. A drill runs only on its own simulated organization: the
// runner is never given the service's engine or AWS clients.
type DrillRunner interface {
	// Scenarios are the built-in scenario names.
	Scenarios() []string
	// Run plays a scenario to its end (or until ctx ends).
	Run(ctx context.Context, scenario string) (*DrillOutcome, error)
}

// DrillOutcome is what the channel is told at the end of a drill.
type DrillOutcome struct {
	Contained bool
	Timeline  []string // one line per event, with its simulated time
	Scorecard []string // the scorecard, one line per figure
	// HTML is the report as one self-contained page (served at
	// /drills/{id} and linked in the thread), CSP its
	// Content-Security-Policy; nil: no page.
	HTML []byte
	CSP  string
}

// drillLabel starts every drill-mode message.
const drillLabel = ":rotating_light: *DRILL* (simulation only: nothing touches AWS)"

// drillMode is the drill running in this process, if any.
type drillMode struct {
	cancel  context.CancelFunc
	starter string
}

func (s *Service) drillCommand(o origin, cmd Command, count func(string), log logrus.FieldLogger) reply {
	if s.d.Drills == nil {
		count("refused")
		return ephemeral("Drill mode is not enabled in this killswitch; run `killswitch drill` on a workstation instead.")
	}
	if cmd.DrillOp == "stop" {
		s.mu.Lock()
		d := s.drill
		s.mu.Unlock()
		if d == nil {
			count("refused")
			return ephemeral("No drill is running.")
		}
		d.cancel()
		count("ok")
		log.Info("drill stopped")
		_ = s.auditDrill(o.User, "drill_stop", map[string]any{})
		return reply{ResponseType: "in_channel", Text: drillLabel + fmt.Sprintf(" stopped by <@%s>.", o.User)}
	}
	if !slices.Contains(s.d.Drills.Scenarios(), cmd.Scenario) {
		count("refused")
		return ephemeral(fmt.Sprintf("Unknown scenario %q: choose one of %s.", cmd.Scenario, strings.Join(s.d.Drills.Scenarios(), ", ")))
	}
	s.mu.Lock()
	if s.drill != nil {
		s.mu.Unlock()
		count("refused")
		return ephemeral("A drill is already running; `/killswitch drill stop` ends it.")
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	s.drill = &drillMode{cancel: cancel, starter: o.User}
	s.mu.Unlock()
	if err := s.auditDrill(o.User, "drill_start", map[string]any{"scenario": cmd.Scenario}); err != nil {
		s.endDrill()
		cancel()
		count("error")
		return ephemeral("killswitch cannot write its audit log right now, so it does nothing; try again, and tell the operators.")
	}
	if !s.spawn(func(context.Context) { s.playDrill(ctx, o, cmd.Scenario) }) {
		s.endDrill()
		cancel()
		count("error")
		return ephemeral("killswitch is restarting; nothing was done. Try again in a minute.")
	}
	count("ok")
	return ephemeral(fmt.Sprintf("Starting the %s drill; it is announced in <#%s>.", cmd.Scenario, s.cfg.Channel))
}

func (s *Service) endDrill() {
	s.mu.Lock()
	s.drill = nil
	s.mu.Unlock()
}

func (s *Service) auditDrill(user, event string, data map[string]any) error {
	ctx, cancel := context.WithTimeout(s.runCtx, quick)
	defer cancel()
	return s.d.Audit.Event(ctx, user, "", event, data)
}

// playDrill announces the drill, plays it, and posts the timeline and the
// scorecard in the announcement's thread, every message labelled DRILL.
func (s *Service) playDrill(ctx context.Context, o origin, scenario string) {
	defer s.endDrill()
	pctx, cancel := slackCtx(context.WithoutCancel(ctx))
	_, ts, err := s.api.PostMessageContext(pctx, s.cfg.Channel, slack.MsgOptionText(fmt.Sprintf("%s <@%s> started the *%s* drill. The scorecard follows in this thread.", drillLabel, o.User, scenario), false))
	cancel()
	if err != nil {
		s.log.WithError(err).Warn("announce the drill")
		s.respond(ctx, o, "The drill could not be announced in the channel: "+err.Error(), nil)
		return
	}
	out, err := s.d.Drills.Run(ctx, scenario)
	thread := func(text string) {
		c, cancel := slackCtx(context.WithoutCancel(ctx))
		defer cancel()
		if _, _, err := s.api.PostMessageContext(c, s.cfg.Channel, slack.MsgOptionText(cut(text, maxMessageText), false), slack.MsgOptionTS(ts)); err != nil {
			s.log.WithError(err).Warn("post in the drill's thread")
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		thread(drillLabel + " stopped before the end; no scorecard.")
		return
	case err != nil:
		thread(drillLabel + " failed: " + err.Error())
		return
	}
	for _, chunk := range chunks(out.Timeline, 60) {
		thread(drillLabel + " timeline\n```\n" + strings.Join(chunk, "\n") + "\n```")
	}
	verdict := "CONTAINED"
	if !out.Contained {
		verdict = "NOT CONTAINED"
	}
	thread(fmt.Sprintf("%s scorecard: *%s*\n%s", drillLabel, verdict, strings.Join(out.Scorecard, "\n")))
	if link := s.keepDrillPage(out); link != "" {
		thread(drillLabel + " report with the timeline, for the room: " + link)
	}
	_ = s.auditDrill(approval.SystemActor, "drill_end", map[string]any{"scenario": scenario, "contained": out.Contained})
}

// chunks splits lines into groups of at most n.
func chunks(lines []string, n int) [][]string {
	var out [][]string
	for len(lines) > n {
		out = append(out, lines[:n])
		lines = lines[n:]
	}
	if len(lines) > 0 {
		out = append(out, lines)
	}
	return out
}

// keepDrillPage keeps a drill's HTML report and returns its link ("" when
// the runner gave none).
func (s *Service) keepDrillPage(out *DrillOutcome) string {
	if len(out.HTML) == 0 {
		return ""
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		s.log.WithError(err).Warn("drill report id")
		return ""
	}
	id := "drill-" + hex.EncodeToString(b[:])
	s.drillPages.put(id, drillPage{html: out.HTML, csp: out.CSP})
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + "/drills/" + id
}
