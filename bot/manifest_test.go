package bot

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every Slack Web API call the bot makes goes through slackAPI: the
// manifest's scopes come from a table that must name exactly its methods.
func TestSlackMethodsAreSlackAPI(t *testing.T) {
	it := reflect.TypeOf((*slackAPI)(nil)).Elem()
	var have []string
	for i := 0; i < it.NumMethod(); i++ {
		have = append(have, it.Method(i).Name)
		if _, ok := slackMethods[it.Method(i).Name]; !ok {
			t.Errorf("slackAPI.%s has no Slack method and scope in slackMethods", it.Method(i).Name)
		}
	}
	for m := range slackMethods {
		if !slices.Contains(have, m) {
			t.Errorf("slackMethods lists %s, which slackAPI does not have", m)
		}
	}
	if got, want := SlackScopes(), []string{"chat:write", "commands"}; !slices.Equal(got, want) {
		t.Errorf("scopes %v, want %v", got, want)
	}
}

func TestManifest(t *testing.T) {
	for _, socket := range []bool{false, true} {
		out, err := Manifest(ManifestOptions{PublicURL: "https://killswitch.example.com/base/", SocketMode: socket})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(out, &m); err != nil {
			t.Fatalf("socket %v: manifest does not parse: %v\n%s", socket, err, out)
		}
		var parsed manifest
		if err := yaml.Unmarshal(out, &parsed); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(parsed.OAuthConfig.Scopes.Bot, SlackScopes()) {
			t.Errorf("scopes %v, want %v", parsed.OAuthConfig.Scopes.Bot, SlackScopes())
		}
		cmds := parsed.Features.SlashCommands
		if len(cmds) != 1 || cmds[0].Command != SlashCommand {
			t.Fatalf("slash commands %+v", cmds)
		}
		if parsed.Settings.SocketModeEnabled != socket || !parsed.Settings.Interactivity.IsEnabled {
			t.Errorf("socket %v: settings %+v", socket, parsed.Settings)
		}
		wantCmd, wantInt := "https://killswitch.example.com/base/slack/commands", "https://killswitch.example.com/base/slack/interactions"
		if socket {
			wantCmd, wantInt = "", ""
		}
		if cmds[0].URL != wantCmd || parsed.Settings.Interactivity.RequestURL != wantInt {
			t.Errorf("socket %v: urls %q %q, want %q %q", socket, cmds[0].URL, parsed.Settings.Interactivity.RequestURL, wantCmd, wantInt)
		}
		if socket && strings.Contains(string(out), "https://") {
			t.Errorf("socket mode manifest names a URL:\n%s", out)
		}
	}
	for _, bad := range []string{"", "http://x.example.com", "https://", "https://x.example.com/?a=b", "https://u:p@x.example.com"} {
		if _, err := Manifest(ManifestOptions{PublicURL: bad}); err == nil {
			t.Errorf("public URL %q accepted", bad)
		}
	}
}
