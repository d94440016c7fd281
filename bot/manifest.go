package bot

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SlashCommand is the command the Slack app registers.
const SlashCommand = "/killswitch"

// slackMethod is one Slack Web API method the bot calls and the bot token
// scope it needs.
type slackMethod struct{ method, scope string }

// slackMethods maps every method of slackAPI (the only Slack Web API
// calls the bot makes with its bot token) to the API method and scope.
// A test keeps it equal to slackAPI's method set. Slash commands need the
// commands scope; replies to response_url and interactivity need none;
// Socket Mode's apps.connections.open uses the app-level token
// (connections:write), not a bot scope.
var slackMethods = map[string]slackMethod{
	"PostMessageContext":   {"chat.postMessage", "chat:write"},
	"UpdateMessageContext": {"chat.update", "chat:write"},
	"PostEphemeralContext": {"chat.postEphemeral", "chat:write"},
}

// SlackMethods returns the Slack Web API methods the bot calls with its
// bot token (e.g. chat.postMessage), sorted.
func SlackMethods() []string {
	seen := map[string]bool{}
	for _, m := range slackMethods {
		seen[m.method] = true
	}
	return sortedKeys(seen)
}

// SlackScopes returns the least bot token scopes the service needs, sorted.
func SlackScopes() []string {
	seen := map[string]bool{"commands": true}
	for _, m := range slackMethods {
		seen[m.scope] = true
	}
	return sortedKeys(seen)
}

// ManifestOptions are what a Slack app manifest is generated for.
type ManifestOptions struct {
	Name       string // app and bot display name (default killswitch)
	PublicURL  string // https base URL Slack reaches serve at (not used in Socket Mode)
	SocketMode bool
}

// Slack app manifest (https://api.slack.com/reference/manifests), only the
// fields killswitch sets.
type manifest struct {
	DisplayInformation struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
	} `yaml:"display_information"`
	Features struct {
		BotUser struct {
			DisplayName  string `yaml:"display_name"`
			AlwaysOnline bool   `yaml:"always_online"`
		} `yaml:"bot_user"`
		SlashCommands []manifestCommand `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled  bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url,omitempty"`
		} `yaml:"interactivity"`
		OrgDeployEnabled     bool `yaml:"org_deploy_enabled"`
		SocketModeEnabled    bool `yaml:"socket_mode_enabled"`
		TokenRotationEnabled bool `yaml:"token_rotation_enabled"`
	} `yaml:"settings"`
}

type manifestCommand struct {
	Command      string `yaml:"command"`
	URL          string `yaml:"url,omitempty"`
	Description  string `yaml:"description"`
	UsageHint    string `yaml:"usage_hint"`
	ShouldEscape bool   `yaml:"should_escape"`
}

// Manifest returns the Slack app manifest (YAML) for serve: the slash
// command, interactivity and the least bot scopes; with SocketMode, no
// request URLs (the app connects out with its app-level token).
func Manifest(o ManifestOptions) ([]byte, error) {
	if o.Name == "" {
		o.Name = "killswitch"
	}
	var m manifest
	m.DisplayInformation.Name = o.Name
	m.DisplayInformation.Description = "Contain an AWS account takeover: vetted actions, approved by a second responder"
	m.Features.BotUser.DisplayName = o.Name
	cmd := manifestCommand{Command: SlashCommand, Description: "Plan, request, approve and undo AWS containment",
		UsageHint: "help | plan ACTION | ACTION [--accounts ID,ID | --all] REASON | status | undo REQUEST REASON"}
	m.OAuthConfig.Scopes.Bot = SlackScopes()
	m.Settings.Interactivity.IsEnabled = true
	m.Settings.SocketModeEnabled = o.SocketMode
	if !o.SocketMode {
		base, err := publicBase(o.PublicURL)
		if err != nil {
			return nil, err
		}
		cmd.URL = base + "/slack/commands"
		m.Settings.Interactivity.RequestURL = base + "/slack/interactions"
	}
	m.Features.SlashCommands = []manifestCommand{cmd}
	return yaml.Marshal(&m)
}

// publicBase checks an https base URL and returns it without a trailing
// slash.
func publicBase(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("manifest: the public URL is empty: give the https URL Slack reaches killswitch serve at (slack.public_url), or use Socket Mode")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("manifest: public URL %q: want https://host[/path], Slack only calls https", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}
