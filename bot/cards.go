package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/store"
)

// cardState serialises the updates of one request's card, so the card
// always ends showing the request's latest state.
type cardState struct {
	mu       sync.Mutex
	rendered string // what the card shows (see cardKey)
}

func (s *Service) cardOf(id string) *cardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[id]
	if !ok {
		c = &cardState{}
		s.cards[id] = c
	}
	return c
}

func cardKey(v cardView) string {
	return fmt.Sprintf("%s|%d|%s|%s", v.Req.State, len(v.Approvals), v.DecidedBy, v.Req.Error)
}

// slackCtx bounds a Slack call, even when the caller's context has ended
// (the audit log is already written; Slack must catch up).
func slackCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}

// view gathers what the card shows.
func (s *Service) view(ctx context.Context, r *store.Request) cardView {
	v := cardView{Req: r, Required: s.required(r)}
	if as, err := s.d.Store.Approvals(ctx, r.ID); err == nil {
		v.Approvals = as
	}
	var p actions.Plan
	if json.Unmarshal(r.Plan, &p) == nil {
		v.Plan = &p
	}
	if r.State == store.Rejected || r.State == store.Cancelled {
		if es, err := s.d.Audit.Entries(ctx, r.ID); err == nil {
			for i := len(es) - 1; i >= 0; i-- {
				if es[i].Event == string(r.State) {
					v.DecidedBy = es[i].Actor
					break
				}
			}
		}
	}
	return v
}

// postCard posts the approval card of request id to the channel and
// records where it is.
func (s *Service) postCard(ctx context.Context, id string) error {
	cs := s.cardOf(id)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	ctx, cancel := slackCtx(ctx)
	defer cancel()
	r, err := s.d.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	v := s.view(ctx, r)
	ch, ts, err := s.api.PostMessageContext(ctx, s.cfg.Channel,
		slack.MsgOptionText(cardText(r), false), slack.MsgOptionBlocks(renderCard(v)...))
	if err != nil {
		return &postError{fmt.Errorf("chat.postMessage: %w", err)}
	}
	for attempt := 0; ; attempt++ {
		r.Channel, r.MessageTS = ch, ts
		err = s.d.Store.Update(ctx, r)
		if !errors.Is(err, store.ErrConflict) || attempt >= 10 {
			break
		}
		if r, err = s.d.Store.GetRequest(ctx, id); err != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("record the card of request %s: %w", id, err)
	}
	cs.rendered = cardKey(v)
	// the request may have moved on while the card was being posted
	return s.updateCardLocked(ctx, cs, id)
}

// postError: Slack did not take the card (nothing was posted), so posting
// it again cannot make a second card.
type postError struct{ err error }

func (e *postError) Error() string { return e.err.Error() }
func (e *postError) Unwrap() error { return e.err }

// permanentSlackErrors are chat.postMessage errors a retry cannot fix.
var permanentSlackErrors = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "invalid_auth": true, "not_authed": true,
	"account_inactive": true, "token_revoked": true, "token_expired": true, "missing_scope": true, "no_permission": true,
	"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true, "too_many_attachments": true,
}

// retryable: the card was not posted and posting it again may work (Slack
// unreachable, slow, rate limiting or failing on its side).
func retryable(err error) bool {
	var pe *postError
	if !errors.As(err, &pe) {
		return false
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && permanentSlackErrors[se.Err] {
		return false
	}
	return true
}

// cardRetryDelays are the waits before each new attempt to post a card
// that could not be posted: with the first attempt, 5 attempts over about
// a minute.
var cardRetryDelays = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 25 * time.Second}

// postCardOrRetry posts the card of request id. When Slack does not take
// it, the requester is told (through response_url or an ephemeral message,
// which may fail too: then it is only logged) that the card could not be
// posted and is retried, and posting is retried with backoff until it
// works, the request is no longer pending, the attempts run out or
// killswitch shuts down. It reports whether the card is posted; when it is
// not, the requester has been told what to do. what names the request
// ("request ks-…").
func (s *Service) postCardOrRetry(ctx context.Context, o origin, id, what string, log logrus.FieldLogger) bool {
	err := s.postCard(ctx, id)
	if err == nil {
		return true
	}
	log.WithError(err).Error("post the approval card")
	if !retryable(err) {
		s.respond(ctx, o, fmt.Sprintf(":x: %s is recorded but its approval card could not be posted in <#%s> (%s). Approvers cannot see it: cancel it with `/killswitch cancel %s`, fix the cause and try again.",
			upperFirst(what), s.cfg.Channel, esc(cut(err.Error(), 300)), id), nil)
		return false
	}
	s.respond(ctx, o, fmt.Sprintf(":warning: %s is recorded, but its approval card could not be posted in <#%s> (%s): approvers cannot see it yet. killswitch retries posting it (%d attempts over about %s) and tells you here when it is up. Nothing runs without approval.",
		upperFirst(what), s.cfg.Channel, esc(cut(err.Error(), 300)), len(cardRetryDelays)+1, totalDelay().Round(time.Second)), nil)
	attempts := 1
	for _, d := range cardRetryDelays {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
		case <-s.loopCtx.Done(): // shutdown
		case <-t.C:
		}
		t.Stop()
		if ctx.Err() != nil || s.loopCtx.Err() != nil {
			log.Warn("shutting down: stopped retrying the approval card")
			s.respond(ctx, o, fmt.Sprintf(":x: killswitch is shutting down, so it stopped retrying the approval card of %s; it was never posted. Cancel it with `/killswitch cancel %s` and request it again once killswitch is back.", what, id), nil)
			return false
		}
		r, gerr := s.d.Store.GetRequest(ctx, id)
		switch {
		case gerr != nil:
			log.WithError(gerr).Error("read the request to retry its card")
		case r.MessageTS != "":
			return true // posted meanwhile
		case r.State != store.Pending:
			log.WithField("state", r.State).Info("stopped retrying the approval card: the request is no longer pending")
			return false
		}
		attempts++
		if err = s.postCard(ctx, id); err == nil {
			log.WithField("attempt", attempts).Info("approval card posted after a retry")
			return true
		}
		log.WithError(err).WithField("attempt", attempts).Error("post the approval card")
		if !retryable(err) {
			break
		}
	}
	s.respond(ctx, o, fmt.Sprintf(":x: The approval card of %s still could not be posted in <#%s> after %d attempts (%s). Approvers cannot see it: cancel it with `/killswitch cancel %s` and request it again once Slack is reachable.",
		what, s.cfg.Channel, attempts, esc(cut(err.Error(), 300)), id), nil)
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func totalDelay() time.Duration {
	var t time.Duration
	for _, d := range cardRetryDelays {
		t += d
	}
	return t
}

// refreshCard brings the card of request id up to date with the store.
func (s *Service) refreshCard(ctx context.Context, id string) {
	cs := s.cardOf(id)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	ctx, cancel := slackCtx(ctx)
	defer cancel()
	if err := s.updateCardLocked(ctx, cs, id); err != nil {
		s.log.WithError(err).WithField("request_id", id).Warn("update the approval card")
	}
}

func (s *Service) updateCardLocked(ctx context.Context, cs *cardState, id string) error {
	r, err := s.d.Store.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	if r.MessageTS == "" || r.Channel == "" {
		return nil // not posted yet: postCard renders the latest state
	}
	v := s.view(ctx, r)
	key := cardKey(v)
	if key == cs.rendered {
		return nil
	}
	if _, _, _, err := s.api.UpdateMessageContext(ctx, r.Channel, r.MessageTS,
		slack.MsgOptionText(cardText(r), false), slack.MsgOptionBlocks(renderCard(v)...)); err != nil {
		return fmt.Errorf("chat.update: %w", err)
	}
	cs.rendered = key
	return nil
}

// threadPost posts a message in the thread of request id's card.
func (s *Service) threadPost(ctx context.Context, id, text string, blocks []slack.Block) {
	ctx, cancel := slackCtx(ctx)
	defer cancel()
	r, err := s.d.Store.GetRequest(ctx, id)
	if err != nil {
		s.log.WithError(err).WithField("request_id", id).Warn("read request for a thread message")
		return
	}
	channel := r.Channel
	if channel == "" {
		channel = s.cfg.Channel
	}
	opts := []slack.MsgOption{slack.MsgOptionText(cut(text, maxMessageText), false)}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	if r.MessageTS != "" {
		opts = append(opts, slack.MsgOptionTS(r.MessageTS))
	}
	if _, _, err := s.api.PostMessageContext(ctx, channel, opts...); err != nil {
		s.log.WithError(err).WithField("request_id", id).Warn("post in the card's thread")
	}
}

// required is the number of approvals request r needs.
func (s *Service) required(r *store.Request) int {
	if s.d.Approval == nil {
		return s.cfg.Required
	}
	return s.d.Approval.Policy.RequiredFor(r)
}

// extraApprovals gives the approvals an action needs beyond
// approval.required (approval.Policy.Extra).
func extraApprovals(action string) int {
	info, err := actions.Lookup(action)
	if err != nil {
		return 0
	}
	return info.ExtraApprovals
}
