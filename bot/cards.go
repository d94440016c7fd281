package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

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
	v := cardView{Req: r, Required: s.cfg.Required}
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
		return fmt.Errorf("chat.postMessage: %w", err)
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
