package bot

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/bot/store"
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
	if !s.firstUse(w, r, endpoint) {
		return nil, false
	}
	return body, true
}

// replayWindow is how long a request's signature is remembered: Slack's
// 5-minute timestamp window and some clock skew. Slack does not retry
// slash commands or interactions, so a second use is a replay.
const replayWindow = 5*time.Minute + 30*time.Second

// firstUse refuses a verified request whose signature was already used in
// the window: here, before a restart or at another replica (the guard is
// in the store). It answers the refusal itself.
func (s *Service) firstUse(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	log := s.log.WithField("endpoint", endpoint)
	key, err := replayKey(r.Header.Get("X-Slack-Signature"))
	if err != nil {
		log.WithField("kind", "invalid signature").Warn("rejected an unverified Slack request")
		s.reject(w, endpoint, http.StatusUnauthorized, "unauthorized", "unauthorized")
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), quick)
	defer cancel()
	first, err := s.d.Store.Remember(ctx, key, time.Now(), replayWindow)
	switch {
	case errors.Is(err, store.ErrGone):
		log.WithError(err).Error("refused a Slack request: the store is gone")
		s.storeGone(w, endpoint)
		return false
	case err != nil:
		log.WithError(err).Error("refused a Slack request: the replay guard cannot be read")
		s.reject(w, endpoint, http.StatusServiceUnavailable, "error", "store unavailable")
		return false
	case !first:
		log.WithField("kind", "replayed request").Warn("rejected an unverified Slack request")
		s.reject(w, endpoint, http.StatusUnauthorized, "unauthorized", "unauthorized")
		return false
	}
	return true
}

// replayKey is a verified signature in one form, "v0=" and lower-case hex:
// the signature is compared as bytes, so the same request with its hex in
// another letter case is the same request.
func replayKey(header string) (string, error) {
	raw, err := hex.DecodeString(strings.TrimPrefix(header, "v0="))
	if err != nil || len(raw) == 0 {
		return "", errors.New("the signature is not v0= and hex")
	}
	return "v0=" + hex.EncodeToString(raw), nil
}

// storeGoneText tells a user why nothing happens while the store is gone.
const storeGoneText = ":warning: killswitch's database is gone (its file was deleted or replaced while the service ran), so it refuses new work and nothing was done. Tell the operators: restore the store and restart killswitch."

// storeGone refuses a request because the store's file is gone: a slash
// command gets an ephemeral explanation, a click a 503 (Slack shows it failed).
func (s *Service) storeGone(w http.ResponseWriter, endpoint string) {
	if endpoint != endpointCommands {
		s.reject(w, endpoint, http.StatusServiceUnavailable, "error", "store gone")
		return
	}
	s.metrics.slackRequests.WithLabelValues(endpoint, "error").Inc()
	w.Header().Set("Content-Type", "application/json")
	_ = writeJSONTo(w, ephemeral(storeGoneText))
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
