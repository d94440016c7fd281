package bot

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Endpoints of Socket Mode (metric label values).
const (
	endpointSocketCommands     = "socket_commands"
	endpointSocketInteractions = "socket_interactions"
)

// acker is what dispatch needs of *socketmode.Client.
type acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

var _ acker = (*socketmode.Client)(nil)

// runSocketMode connects to Slack over Socket Mode and dispatches its
// events to the same handlers as the HTTP endpoints (Slack authenticated the
// connection with the app token, so there is no request signature).
func (s *Service) runSocketMode(ctx context.Context) {
	client, ok := s.api.(*slack.Client)
	if !ok {
		s.log.Error("socket mode needs a *slack.Client")
		return
	}
	smc := socketmode.New(client)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := smc.RunContext(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.WithError(err).Error("socket mode connection ended")
		}
	}()
	defer func() { <-done }()
	for {
		select {
		case <-ctx.Done():
			return
		case evt, ok := <-smc.Events:
			if !ok {
				return
			}
			s.dispatchSocket(smc, evt)
		}
	}
}

// dispatchSocket handles one Socket Mode event: slash commands are answered
// in their acknowledgement, interactions are acknowledged then handled.
func (s *Service) dispatchSocket(a acker, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			s.metrics.slackRequests.WithLabelValues(endpointSocketCommands, "bad_request").Inc()
			return
		}
		rep := s.command(cmd, endpointSocketCommands)
		if err := a.Ack(*evt.Request, rep); err != nil {
			s.log.WithError(err).Warn("socket mode: acknowledge a slash command")
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			s.metrics.slackRequests.WithLabelValues(endpointSocketInteractions, "bad_request").Inc()
			return
		}
		if err := a.Ack(*evt.Request); err != nil {
			s.log.WithError(err).Warn("socket mode: acknowledge an interaction")
		}
		s.interaction(cb, endpointSocketInteractions)
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			_ = a.Ack(*evt.Request)
		}
	case socketmode.EventTypeConnecting, socketmode.EventTypeConnected, socketmode.EventTypeHello:
		s.log.WithField("event", string(evt.Type)).Info("socket mode")
	case socketmode.EventTypeInvalidAuth:
		s.log.Error("socket mode: Slack rejected the app-level token (SLACK_APP_TOKEN)")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		s.log.WithField("event", string(evt.Type)).Warn("socket mode error")
	}
}

// NewSlackClient builds the Web API client for Deps.Slack: apiURL ("" =
// Slack) overrides the API base (tests, proxies), appToken ("" = none) is
// the app-level token of Socket Mode. It keeps slack-go out of cmd.
func NewSlackClient(botToken, apiURL, appToken string) *slack.Client {
	var opts []slack.Option
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(apiURL, "/")+"/"))
	}
	if appToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(appToken))
	}
	return slack.New(botToken, opts...)
}

// NewSlackClientHTTP is NewSlackClient (no Socket Mode) whose calls go
// through hc: a drill's in-process fake Slack.
func NewSlackClientHTTP(botToken, apiURL string, hc *http.Client) *slack.Client {
	return slack.New(botToken, slack.OptionAPIURL(strings.TrimSuffix(apiURL, "/")+"/"), slack.OptionHTTPClient(hc))
}
