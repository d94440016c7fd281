package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
)

// origin is who asked, and where to answer them.
type origin struct {
	User        string
	Team        string
	Channel     string
	ResponseURL string
}

// quick bounds the synchronous store work done before acknowledging.
const quick = 2 * time.Second

// command handles a verified slash command and returns the immediate
// ephemeral answer; slow work (plans, requests, undo) continues in the
// background and reports through response_url and the approval card.
func (s *Service) command(c slack.SlashCommand, endpoint string) reply {
	o := origin{User: c.UserID, Team: c.TeamID, Channel: c.ChannelID, ResponseURL: c.ResponseURL}
	log := s.log.WithField("endpoint", endpoint).WithField("user", c.UserID)
	count := func(outcome string) { s.metrics.slackRequests.WithLabelValues(endpoint, outcome).Inc() }
	if c.TeamID != s.cfg.TeamID {
		count("refused")
		log.WithField("team", c.TeamID).Warn("refused a command from another workspace")
		return ephemeral("This killswitch serves another workspace; nothing was done.")
	}
	if !s.isMember(c.UserID) {
		count("refused")
		log.Warn("refused a command from a user who is neither requester nor approver")
		return ephemeral(fmt.Sprintf("You are not on this killswitch's responder list (approval.requesters or approval.approvers); nothing was done. Ask your incident commander to add your Slack user id (%s).", c.UserID))
	}
	cmd, err := ParseCommand(c.Text, s.cfg.Accounts)
	if err != nil {
		count("refused")
		return ephemeral(err.Error() + "\nType `/killswitch help` for the grammar.")
	}
	log = log.WithField("verb", cmd.Verb)
	if cmd.Action != "" {
		log = log.WithField("action", cmd.Action)
	}
	switch cmd.Verb {
	case VerbHelp:
		count("ok")
		return reply{ResponseType: "ephemeral", Text: helpText(s.cfg)}
	case VerbActions:
		count("ok")
		return reply{ResponseType: "ephemeral", Text: actionsText()}
	case VerbStatus:
		ctx, cancel := context.WithTimeout(s.runCtx, quick)
		defer cancel()
		count("ok")
		return s.status(ctx, cmd.RequestID)
	case VerbCancel:
		ctx, cancel := context.WithTimeout(s.runCtx, quick)
		defer cancel()
		return s.cancel(ctx, o, cmd.RequestID, count, log)
	case VerbRequest:
		if !s.isRequester(c.UserID) {
			count("refused")
			return ephemeral("You are not allowed to request containment actions (approval.requesters); ask a listed requester. Nothing was done.")
		}
	case VerbDrill:
		return s.drillCommand(o, cmd, count, log)
	case VerbBaseline:
		if !s.cfg.ExemptBaseline {
			count("refused")
			return ephemeral("Exemption baselines are not enabled in this killswitch; nothing was recorded.")
		}
	}

	// plan, request, undo: hold a place in the queue, record who asked for
	// what, then work in the background.
	sl, err := s.reserve(jobPlan)
	var full queueFull
	switch {
	case errors.As(err, &full):
		count("busy")
		log.WithField("queued", full.depth).Warn("refused a command: the queue is full")
		return ephemeral(busyText(full.depth))
	case err != nil:
		count("error")
		return ephemeral("killswitch is restarting; nothing was done. Try again in a minute.")
	}
	defer sl.release() // unless submitted below
	ctx, cancel := context.WithTimeout(s.runCtx, quick)
	defer cancel()
	data := map[string]any{"verb": cmd.Verb, "channel": c.ChannelID}
	if cmd.Action != "" {
		data["action"], data["accounts"] = cmd.Action, cmd.Accounts
	}
	if cmd.RequestID != "" {
		data["request"] = cmd.RequestID
	}
	if cmd.Incident != "" {
		data["incident"] = cmd.Incident
	}
	if cmd.Reason != "" {
		data["reason"] = cmd.Reason
	}
	if err := s.d.Audit.Event(ctx, c.UserID, cmd.RequestID, "command", data); err != nil {
		if errors.Is(err, audit.ErrSecret) {
			count("refused")
			return ephemeral(":warning: That command looks like it contains a credential (a key or token). Never paste credentials into Slack: rotate it now. Nothing was done.")
		}
		count("error")
		log.WithError(err).Error("audit the command")
		return ephemeral("killswitch cannot write its audit log right now, so it does nothing; try again, and tell the operators.")
	}
	var ack string
	work := func(ctx context.Context) {}
	switch cmd.Verb {
	case VerbPlan:
		ack = fmt.Sprintf("Planning %s on %s (read-only)…", cmd.Action, plural(len(cmd.Accounts), "account", "accounts"))
		work = func(ctx context.Context) { s.planFor(ctx, o, cmd) }
	case VerbRequest:
		ack = fmt.Sprintf("Planning %s on %s… the approval card will be posted in <#%s>.", cmd.Action, plural(len(cmd.Accounts), "account", "accounts"), s.cfg.Channel)
		work = func(ctx context.Context) { s.request(ctx, o, cmd) }
	case VerbUndo:
		ack = fmt.Sprintf("Preparing the undo of %s… the approval card will be posted in <#%s>.", cmd.RequestID, s.cfg.Channel)
		work = func(ctx context.Context) { s.requestUndo(ctx, o, cmd) }
	case VerbBaseline:
		ack = fmt.Sprintf("Recording who is exempt by tag or pattern in %s (read-only)…", plural(len(s.cfg.Accounts), "account", "accounts"))
		work = func(ctx context.Context) { s.baselineCommand(ctx, o) }
	}
	sl.submit(job{kind: jobPlan, f: work, park: s.parkPlan(o, string(cmd.Verb))})
	count("ok")
	return ephemeral(ack)
}

func helpText(cfg Config) string {
	rule := fmt.Sprintf("Every request needs %s from an approver other than the requester", plural(cfg.Required, "approval", "approvals"))
	if cfg.Expiry > 0 {
		rule += fmt.Sprintf(", within %s", cfg.Expiry)
	}
	if n := extraApprovalActions(); len(n) > 0 {
		rule += "; " + strings.Join(n, ", ") + " cannot be undone and need one more"
	}
	return strings.Join([]string{
		"*killswitch*: contain an AWS account takeover; a second responder approves every change.",
		"`/killswitch help` | `/killswitch actions`",
		"`/killswitch plan ACTION [--accounts ID,ID | --all]`: read-only dry run",
		"`/killswitch ACTION [--accounts ID,ID | --all] [--incident ID] REASON…`: request an action (a reason is required)",
		"`/killswitch status [REQUEST]` | `/killswitch cancel REQUEST` | `/killswitch undo REQUEST REASON…`",
		"`/killswitch baseline`: record who is exempt by tag or pattern now; do it when things are calm (it counts once it is old enough)",
		"Example: `/killswitch lockdown --all --incident INC-1 attacker has console access`",
		"Actions: " + strings.Join(actions.Names(), ", "),
		"Default scope (`--all`): " + esc(listClip(cfg.Accounts, 20)),
		rule + ".",
	}, "\n")
}

// extraApprovalActions names the actions that need approvals beyond
// approval.required.
func extraApprovalActions() []string {
	var out []string
	for _, i := range actions.Catalog() {
		if i.ExtraApprovals > 0 {
			out = append(out, i.Name)
		}
	}
	return out
}

func actionsText() string {
	var b strings.Builder
	b.WriteString("*Vetted actions*")
	for _, a := range actions.Catalog() {
		kind := "read-only"
		if a.Mutating {
			kind = "mutating"
		}
		undo := "no undo"
		if a.Reversible {
			undo = "undo: " + a.Undo
		}
		fmt.Fprintf(&b, "\n• `%s` (%s; %s): %s", a.Name, kind, esc(undo), esc(a.Summary))
	}
	return cut(b.String(), maxMessageText)
}

// respond answers the user who asked: through response_url when there is
// one, else with chat.postEphemeral.
func (s *Service) respond(ctx context.Context, o origin, text string, blocks []slack.Block) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	text = cut(text, maxMessageText)
	if strings.HasPrefix(o.ResponseURL, "https://") || strings.HasPrefix(o.ResponseURL, "http://") {
		msg := &slack.WebhookMessage{ResponseType: "ephemeral", Text: text}
		if len(blocks) > 0 {
			msg.Blocks = &slack.Blocks{BlockSet: blocks}
		}
		if err := slack.PostWebhookCustomHTTPContext(ctx, o.ResponseURL, s.http, msg); err != nil {
			// the response_url is a credential for the channel: never log it
			s.log.WithField("error", strings.ReplaceAll(err.Error(), o.ResponseURL, "[response_url]")).
				WithField("user", o.User).Warn("post to response_url")
		}
		return
	}
	s.ephemeralTo(ctx, o.Channel, o.User, text, blocks)
}

func (s *Service) ephemeralTo(ctx context.Context, channel, user, text string, blocks []slack.Block) {
	if channel == "" {
		channel = s.cfg.Channel
	}
	opts := []slack.MsgOption{slack.MsgOptionText(cut(text, maxMessageText), false)}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	if _, err := s.api.PostEphemeralContext(ctx, channel, user, opts...); err != nil {
		s.log.WithError(err).WithField("user", user).Warn("chat.postEphemeral")
	}
}

// planFor answers the plan command.
func (s *Service) planFor(ctx context.Context, o origin, cmd Command) {
	p, err := s.d.Engine.Plan(ctx, cmd.Action, cmd.Accounts, actions.Options{Baseline: s.baselineFor(ctx, cmd.Accounts), IdentityCenter: cmd.Principals})
	if err != nil {
		s.respond(ctx, o, fmt.Sprintf("Could not plan %s: %v", cmd.Action, err), nil)
		return
	}
	text, blocks := planMessage(p)
	s.respond(ctx, o, text, blocks)
}

// request plans the action, records the request and posts its card.
func (s *Service) request(ctx context.Context, o origin, cmd Command) {
	log := s.log.WithFields(logrus.Fields{"action": cmd.Action, "user": o.User})
	p, err := s.d.Engine.Plan(ctx, cmd.Action, cmd.Accounts, actions.Options{Baseline: s.baselineFor(ctx, cmd.Accounts), IdentityCenter: cmd.Principals})
	if err != nil {
		s.respond(ctx, o, fmt.Sprintf("Could not plan %s, so nothing was requested: %v", cmd.Action, err), nil)
		return
	}
	planJSON, err := json.Marshal(p)
	if err != nil {
		s.respond(ctx, o, "Could not record the plan; nothing was requested.", nil)
		return
	}
	req, err := s.d.Approval.Submit(ctx, approval.NewRequest{
		Kind: store.KindAction, Action: cmd.Action, Accounts: cmd.Accounts, Reason: cmd.Reason, Principals: cmd.Principals,
		Incident: cmd.Incident, Requester: o.User, Team: o.Team, Plan: planJSON,
	})
	if err != nil {
		s.refused(ctx, o, "request "+cmd.Action, err, log)
		return
	}
	log = log.WithField("request_id", req.ID)
	log.Info("request submitted")
	if !s.postCardOrRetry(ctx, o, req.ID, "request "+req.ID, log) {
		return
	}
	s.respond(ctx, o, fmt.Sprintf("Request %s (%s on %s) is waiting for approval in <#%s>. It expires at %s.", req.ID, req.Action,
		plural(len(req.Accounts), "account", "accounts"), s.cfg.Channel, slackDate(req.ExpiresAt)), nil)
}

// refused reports a refusal (or an internal error) to the user.
func (s *Service) refused(ctx context.Context, o origin, what string, err error, log logrus.FieldLogger) {
	var ref *approval.Refusal
	if errors.As(err, &ref) {
		logUnaudited(log, ref)
		s.respond(ctx, o, ref.Msg+" Nothing was done.", nil)
		return
	}
	if errors.Is(err, approval.ErrAudit) && errors.Is(err, audit.ErrSecret) {
		s.respond(ctx, o, ":warning: That looks like it contains a credential (a key or token). Never paste credentials into Slack: rotate it now. Nothing was done.", nil)
		return
	}
	log.WithError(err).Error(what)
	s.respond(ctx, o, fmt.Sprintf("Could not %s: an internal error (logged). Nothing was done.", what), nil)
}

// requestUndo records an undo request for the steps a request made.
func (s *Service) requestUndo(ctx context.Context, o origin, cmd Command) {
	log := s.log.WithFields(logrus.Fields{"user": o.User, "undo_of": cmd.RequestID})
	orig, err := s.d.Store.GetRequest(ctx, cmd.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		s.refuseUndo(ctx, o, cmd.RequestID, fmt.Sprintf("Request %s not found; check the request id (`/killswitch status` lists recent requests).", cmd.RequestID), log)
		return
	}
	if err != nil {
		s.refused(ctx, o, "undo "+cmd.RequestID, err, log)
		return
	}
	if info, err := actions.Lookup(orig.Action); err == nil && !info.Mutating {
		s.refuseUndo(ctx, o, orig.ID, fmt.Sprintf("Request %s ran %s, which is read-only: there is nothing to undo.", orig.ID, orig.Action), log)
		return
	}
	steps, err := s.loadSteps(ctx, orig.ID)
	if err != nil {
		s.refused(ctx, o, "undo "+cmd.RequestID, err, log)
		return
	}
	planJSON, _ := json.Marshal(undoPlan(orig, steps))
	req, err := s.d.Approval.Submit(ctx, approval.NewRequest{
		Kind: store.KindUndo, UndoOf: orig.ID, Reason: cmd.Reason, Incident: cmd.Incident,
		Requester: o.User, Team: o.Team, Plan: planJSON,
	})
	if err != nil {
		s.refused(ctx, o, "undo "+cmd.RequestID, err, log)
		return
	}
	log = log.WithField("request_id", req.ID)
	log.Info("undo request submitted")
	if !s.postCardOrRetry(ctx, o, req.ID, "undo request "+req.ID, log) {
		return
	}
	s.respond(ctx, o, fmt.Sprintf("Undo request %s (undo of %s) is waiting for approval in <#%s>.", req.ID, orig.ID, s.cfg.Channel), nil)
}

// refuseUndo audits an undo refused before it reaches approval, and tells the user.
func (s *Service) refuseUndo(ctx context.Context, o origin, id, msg string, log logrus.FieldLogger) {
	ref := approval.NewRefusal(msg)
	_ = s.d.Approval.Refused(ctx, o.User, id, "undo", ref)
	logUnaudited(log, ref)
	s.respond(ctx, o, msg, nil)
}

// undoPlan shows what an undo will reverse: the done, reversible steps of
// the original request, and what cannot come back.
func undoPlan(orig *store.Request, steps []actions.Step) *actions.Plan {
	p := &actions.Plan{Action: orig.Action}
	idx := map[string]int{}
	acct := func(id string) *actions.AccountPlan {
		i, ok := idx[id]
		if !ok {
			i = len(p.Accounts)
			idx[id] = i
			p.Accounts = append(p.Accounts, actions.AccountPlan{Account: id, Targets: []actions.Target{}, Exempt: []actions.Exemption{}, Warnings: []string{}})
		}
		return &p.Accounts[i]
	}
	tidx := map[string]int{}
	for _, st := range steps {
		if st.Status != actions.StepDone {
			continue
		}
		a := acct(st.Account)
		if !st.Reversible {
			a.Warnings = append(a.Warnings, fmt.Sprintf("cannot be undone: %s (%s)", st.Change, st.Principal))
			continue
		}
		k := st.Account + "|" + st.Principal
		i, ok := tidx[k]
		if !ok {
			i = len(a.Targets)
			tidx[k] = i
			a.Targets = append(a.Targets, actions.Target{Principal: st.Principal})
		}
		a.Targets[i].Changes = append(a.Targets[i].Changes, "undo: "+st.Change)
	}
	return p
}

// loadSteps reads a request's recorded steps.
func (s *Service) loadSteps(ctx context.Context, id string) ([]actions.Step, error) {
	recs, err := s.d.Store.Steps(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read the steps of request %s: %w", id, err)
	}
	out := make([]actions.Step, 0, len(recs))
	for _, r := range recs {
		var st actions.Step
		if err := json.Unmarshal(r.Data, &st); err != nil {
			return nil, fmt.Errorf("step %s of request %s: %w", r.Key, id, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// status shows one request, or the recent ones.
func (s *Service) status(ctx context.Context, id string) reply {
	if id == "" {
		reqs, err := s.d.Store.ListRequests(ctx, store.Filter{Limit: 10})
		if err != nil {
			s.log.WithError(err).Error("list requests")
			return ephemeral("Could not read the requests right now; try again.")
		}
		if len(reqs) == 0 {
			return ephemeral("No requests yet. Type `/killswitch help` to see how to make one.")
		}
		b := newBuilder()
		b.line("*Recent requests* (newest first)")
		for _, r := range reqs {
			inc := ""
			if r.Incident != "" {
				inc = ", " + esc(r.Incident)
			}
			b.line(fmt.Sprintf("• `%s` %s *%s* on %s, by %s%s, %s", r.ID, esc(what(r)), r.State,
				plural(len(r.Accounts), "account", "accounts"), userRef(r.Requester), inc, slackDate(r.CreatedAt)))
		}
		return ephemeral(b.String())
	}
	r, err := s.d.Store.GetRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ephemeral(fmt.Sprintf("Request %s not found; `/killswitch status` lists recent requests.", id))
	}
	if err != nil {
		s.log.WithError(err).WithField("request_id", id).Error("read request")
		return ephemeral("Could not read the request right now; try again.")
	}
	as, _ := s.d.Store.Approvals(ctx, id)
	var who []string
	for _, a := range as {
		if a.Approver != r.Requester { // never counts (two-person rule)
			who = append(who, userRef(a.Approver))
		}
	}
	b := newBuilder()
	b.line(fmt.Sprintf("*%s*: %s is *%s*", r.ID, esc(what(r)), r.State))
	b.line("Scope: " + scopeText(r.Accounts))
	b.line("Requested by " + userRef(r.Requester) + " at " + slackDate(r.CreatedAt))
	if r.Incident != "" {
		b.line("Incident: " + esc(r.Incident))
	}
	b.line("Reason: " + esc(r.Reason))
	if len(who) > 0 {
		b.line(fmt.Sprintf("Approvals (%d of %d): %s", len(who), s.required(r), strings.Join(who, ", ")))
	} else {
		b.line(fmt.Sprintf("Approvals: 0 of %d", s.required(r)))
	}
	if r.State == store.Pending {
		b.line(fmt.Sprintf("Expires %s (in %s)", slackDate(r.ExpiresAt), max(r.ExpiresAt.Sub(s.now()), 0).Round(time.Second)))
	}
	if !r.PinnedAt.IsZero() {
		b.line("Started " + slackDate(r.PinnedAt))
	}
	if len(r.Result) > 0 {
		var res actions.Result
		if json.Unmarshal(r.Result, &res) == nil {
			// an undo says first what did not come back
			if r.Kind == store.KindUndo && r.State.Terminal() {
				if orig, err := s.loadSteps(ctx, r.UndoOf); err == nil {
					u := summariseUndo(orig, &res)
					b.line("Undo: " + u.headline())
					for _, l := range u.lines() {
						b.line(l)
					}
				}
			}
			for _, a := range res.Accounts {
				done, failed := countSteps(a.Steps)
				line := fmt.Sprintf("%s `%s` %s: %d done, %d failed", resultIcon(a.Status), a.Account, a.Status, done, failed)
				if a.Error != "" {
					line += ": " + esc(cut(a.Error, 300))
				}
				if !b.line(line) {
					break
				}
			}
		}
	}
	if r.Error != "" {
		b.line(":x: " + esc(cut(r.Error, 500)))
	}
	return ephemeral(b.String())
}

// cancel withdraws a pending or approved request.
func (s *Service) cancel(ctx context.Context, o origin, id string, count func(string), log logrus.FieldLogger) reply {
	r, err := s.d.Approval.Cancel(ctx, id, o.User)
	var ref *approval.Refusal
	switch {
	case errors.As(err, &ref):
		count("refused")
		s.metrics.decisions.WithLabelValues("refused").Inc()
		logUnaudited(log.WithField("request_id", id), ref)
		return ephemeral(ref.Msg)
	case err != nil && r == nil:
		count("error")
		log.WithError(err).WithField("request_id", id).Error("cancel")
		return ephemeral(fmt.Sprintf("Could not cancel %s: an internal error (logged).", id))
	case err != nil:
		// cancelled, but the audit write failed: do not touch Slack
		count("error")
		log.WithError(err).WithField("request_id", id).Error("cancel: audit")
		return ephemeral(fmt.Sprintf("%s is cancelled, but the audit log could not record it; tell the operators.", id))
	}
	count("ok")
	s.metrics.decisions.WithLabelValues("cancelled").Inc()
	log.WithField("request_id", id).Info("request cancelled")
	s.spawn(func(ctx context.Context) {
		s.refreshCard(ctx, id)
		s.threadPost(ctx, id, fmt.Sprintf(":heavy_multiplication_x: Cancelled by %s.", userRef(o.User)), nil)
	})
	return ephemeral(fmt.Sprintf("Cancelled %s (%s). Nothing was run.", r.ID, what(r)))
}
