package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Endpoints (metric label values).
const (
	endpointCommands     = "commands"
	endpointInteractions = "interactions"
)

// verified reads the body (at most MaxBody bytes) and checks Slack's v0
// signature over it before anything else looks at the request. On failure
// it answers (413 or 401, a terse body), counts the failure and logs only
// its kind: never the body, the headers or the secret.
func (s *Service) verified(w http.ResponseWriter, r *http.Request, endpoint string) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.reject(w, endpoint, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return nil, false
		}
		s.reject(w, endpoint, http.StatusBadRequest, "bad_request", "cannot read request body")
		return nil, false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, s.cfg.SigningSecret)
	if err != nil {
		kind := "malformed signature headers"
		switch {
		case errors.Is(err, slack.ErrMissingHeaders):
			kind = "missing signature headers"
		case errors.Is(err, slack.ErrExpiredTimestamp):
			kind = "timestamp outside the 5-minute window"
		case errors.Is(err, slack.ErrInvalidSignature):
			kind = "invalid signature"
		case errors.Is(err, slack.ErrInvalidConfiguration):
			kind = "no signing secret configured"
		}
		s.log.WithField("endpoint", endpoint).WithField("kind", kind).Warn("rejected an unverified Slack request")
		s.reject(w, endpoint, http.StatusUnauthorized, "unauthorized", "unauthorized")
		return nil, false
	}
	if _, err := sv.Write(body); err != nil {
		s.reject(w, endpoint, http.StatusUnauthorized, "unauthorized", "unauthorized")
		return nil, false
	}
	if err := sv.Ensure(); err != nil {
		s.log.WithField("endpoint", endpoint).WithField("kind", "invalid signature").Warn("rejected an unverified Slack request")
		s.reject(w, endpoint, http.StatusUnauthorized, "unauthorized", "unauthorized")
		return nil, false
	}
	if !s.replays.first(r.Header.Get("X-Slack-Signature"), time.Now()) {
		s.log.WithField("endpoint", endpoint).WithField("kind", "replayed request").Warn("rejected an unverified Slack request")
		s.reject(w, endpoint, http.StatusUnauthorized, "unauthorized", "unauthorized")
		return nil, false
	}
	return body, true
}

// replayGuard remembers the signatures of the last 5 minutes (Slack's
// timestamp window), so a captured request cannot be replayed within it.
// Slack does not retry slash commands or interactions.
type replayGuard struct {
	mu   sync.Mutex
	seen map[string]time.Time // signature -> when it may be forgotten
	next time.Time            // next pruning
}

const replayWindow = 5*time.Minute + 30*time.Second

// first reports whether sig is seen for the first time.
func (g *replayGuard) first(sig string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	if now.After(g.next) {
		for k, until := range g.seen {
			if now.After(until) {
				delete(g.seen, k)
			}
		}
		g.next = now.Add(time.Minute)
	}
	if until, ok := g.seen[sig]; ok && now.Before(until) {
		return false
	}
	g.seen[sig] = now.Add(replayWindow)
	return true
}

func (s *Service) reject(w http.ResponseWriter, endpoint string, code int, outcome, msg string) {
	s.metrics.slackRequests.WithLabelValues(endpoint, outcome).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// reply is the immediate (acknowledging) answer to a slash command, and
// the payload of response_url posts.
type reply struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
}

func ephemeral(text string) reply {
	return reply{ResponseType: "ephemeral", Text: cut(text, maxMessageText)}
}

func (s *Service) handleCommands(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verified(w, r, endpointCommands)
	if !ok {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	cmd, err := slack.SlashCommandParse(r)
	if err != nil || (cmd.TeamID == "" && cmd.UserID == "") {
		s.reject(w, endpointCommands, http.StatusBadRequest, "bad_request", "not a slash command")
		return
	}
	rep := s.command(cmd, endpointCommands)
	w.Header().Set("Content-Type", "application/json")
	_ = writeJSONTo(w, rep)
}

func (s *Service) handleInteractions(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verified(w, r, endpointInteractions)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	payload := form.Get("payload")
	if err != nil || payload == "" {
		s.reject(w, endpointInteractions, http.StatusBadRequest, "bad_request", "no interaction payload")
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		s.reject(w, endpointInteractions, http.StatusBadRequest, "bad_request", "malformed interaction payload")
		return
	}
	// acknowledge first: the decision runs in the background
	w.WriteHeader(http.StatusOK)
	s.interaction(cb, endpointInteractions)
}
