package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/bot/approval"
)

// interaction handles a verified interaction payload: it only checks the
// workspace and schedules the decisions; the caller has acknowledged (or
// acknowledges right after).
func (s *Service) interaction(cb slack.InteractionCallback, endpoint string) {
	count := func(outcome string) { s.metrics.slackRequests.WithLabelValues(endpoint, outcome).Inc() }
	if cb.Type != slack.InteractionTypeBlockActions {
		count("ignored")
		return
	}
	o := origin{User: cb.User.ID, Team: cb.Team.ID, Channel: cb.Channel.ID, ResponseURL: cb.ResponseURL}
	if o.Channel == "" {
		o.Channel = cb.Container.ChannelID
	}
	if cb.Team.ID != s.cfg.TeamID {
		count("refused")
		s.log.WithField("team", cb.Team.ID).WithField("user", cb.User.ID).Warn("refused a button click from another workspace")
		s.spawn(func(ctx context.Context) {
			s.respond(ctx, o, "This killswitch serves another workspace; nothing was done.", nil)
		})
		return
	}
	if cb.User.TeamID != "" && cb.User.TeamID != s.cfg.TeamID {
		// Slack Connect: a shared channel carries users of other
		// workspaces; the card's team is ours, the clicking user's is not.
		count("refused")
		s.log.WithField("team", cb.Team.ID).WithField("user_team", cb.User.TeamID).WithField("user", cb.User.ID).
			Warn("refused a button click from a user of another workspace (Slack Connect)")
		msg := fmt.Sprintf("You are a member of another Slack workspace (%s): only members of this killswitch's workspace decide on its requests, even in a shared channel. Nothing was done.", esc(cb.User.TeamID))
		ids := decisionIDs(cb)
		s.spawn(func(ctx context.Context) {
			for _, a := range ids {
				ref := approval.NewRefusal(msg)
				_ = s.d.Approval.Refused(ctx, o.User, a.Value, a.ActionID, ref)
				logUnaudited(s.log.WithField("request_id", a.Value), ref)
			}
			s.respond(ctx, o, msg, nil)
		})
		return
	}
	n := 0
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil || (a.ActionID != ActionApprove && a.ActionID != ActionReject) {
			continue
		}
		a := *a
		if !requestIDRE.MatchString(a.Value) {
			continue
		}
		n++
		s.spawn(func(ctx context.Context) { s.decide(ctx, o, a.ActionID, a.Value) })
	}
	if n == 0 {
		count("ignored")
		return
	}
	count("ok")
}

// decide records an approval or a rejection, updates the card, and runs the
// request when this approval was the one that approved it.
func (s *Service) decide(ctx context.Context, o origin, actionID, id string) {
	log := s.log.WithField("request_id", id).WithField("user", o.User).WithField("decision", actionID)
	tell := func(text string) {
		ctx, cancel := slackCtx(ctx)
		defer cancel()
		s.ephemeralTo(ctx, o.Channel, o.User, text, nil)
	}
	var (
		err      error
		approved bool
	)
	switch actionID {
	case ActionApprove:
		var out approval.Outcome
		out, err = s.d.Approval.Approve(ctx, id, o.User)
		approved = out.Approved
	case ActionReject:
		_, err = s.d.Approval.Reject(ctx, id, o.User)
	default:
		return
	}
	var ref *approval.Refusal
	switch {
	case errors.As(err, &ref):
		s.metrics.decisions.WithLabelValues("refused").Inc()
		log.WithField("refusal", ref.Msg).Info("decision refused")
		logUnaudited(log, ref)
		tell(ref.Msg)
		s.refreshCard(ctx, id) // e.g. it expired just now
		return
	case err != nil:
		log.WithError(err).Error("record the decision")
		if errors.Is(err, approval.ErrAudit) {
			tell(fmt.Sprintf("Your decision on %s could not be written to the audit log, so nothing changed and nothing runs. Tell the operators.", id))
		} else {
			tell(fmt.Sprintf("Your decision on %s could not be recorded (internal error, logged). Try again.", id))
		}
		return
	}
	switch {
	case actionID == ActionReject:
		s.metrics.decisions.WithLabelValues("rejected").Inc()
		log.Info("request rejected")
		s.refreshCard(ctx, id)
		s.threadPost(ctx, id, fmt.Sprintf(":no_entry: Rejected by %s. Nothing was run.", userRef(o.User)), nil)
	case approved:
		s.metrics.decisions.WithLabelValues("approval").Inc()
		s.metrics.decisions.WithLabelValues("approved").Inc()
		log.Info("request approved")
		s.refreshCard(ctx, id)
		s.runApproved(o, id, log)
	default:
		s.metrics.decisions.WithLabelValues("approval").Inc()
		log.Info("approval recorded; more needed")
		s.refreshCard(ctx, id)
	}
}

// logUnaudited logs a refusal whose audit write failed.
func logUnaudited(log logrus.FieldLogger, ref *approval.Refusal) {
	if ref.Unaudited != nil {
		log.WithError(ref.Unaudited).Error("the refusal could not be written to the audit log")
	}
}

// decisionIDs returns the approve and reject clicks of cb that name a request.
func decisionIDs(cb slack.InteractionCallback) []slack.BlockAction {
	var out []slack.BlockAction
	for _, a := range cb.ActionCallback.BlockActions {
		if a != nil && (a.ActionID == ActionApprove || a.ActionID == ActionReject) && requestIDRE.MatchString(a.Value) {
			out = append(out, *a)
		}
	}
	return out
}

// runApproved queues the run of request id, which o's click approved. When
// the queue is full the request stays approved in the store (nothing is
// lost): the sweeper queues it again, and the approver is told so.
func (s *Service) runApproved(o origin, id string, log logrus.FieldLogger) {
	err := s.queueRun(id, false)
	if err == nil {
		return
	}
	logQueueFull(log, err)
	var full queueFull
	text := fmt.Sprintf("killswitch is shutting down: %s is approved and runs when it is back; nothing else to do.", id)
	if errors.As(err, &full) {
		text = fmt.Sprintf("%s. %s is approved and nothing is lost: it starts by itself when a worker is free (checked every %s); nothing else to do.",
			full.Error(), id, s.cfg.SweepInterval)
	}
	ctx, cancel := slackCtx(context.Background())
	defer cancel()
	s.ephemeralTo(ctx, o.Channel, o.User, text, nil)
}
