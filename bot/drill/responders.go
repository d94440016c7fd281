package drill

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/killswitch/killswitch/bot/slackfake"
)

// Timeline actors.
const (
	ActorAttacker  = "attacker"
	ActorResponder = "responder"
	ActorSlack     = "slack"
	ActorBot       = "bot"
)

// pollEvery is how often a waiting responder looks at the channel.
const pollEvery = time.Second

// move plays one responder move on the drill clock.
func (r *run) move(ctx context.Context, m Move) {
	switch {
	case m.Command != "":
		if r.clock.Until(ctx, Start.Add(m.At.D())) != nil {
			return
		}
		r.log(ActorResponder, "%s types /killswitch %s", m.User, m.Command)
		if r.marks.request.IsZero() && !strings.HasPrefix(m.Command, "plan ") {
			r.marks.request = r.clock.Now()
		}
		body := slackfake.SlashBody(drillTeam, m.User, drillChannel, m.Command, r.slack.HookURL("cmd-"+m.User))
		r.post(ctx, "/slack/commands", body)
	case m.Approve:
		card, ok := r.waitForCard(ctx)
		if !ok || r.clock.Sleep(ctx, m.After.D()) != nil {
			return
		}
		id := card.Buttons()["approve"]
		r.log(ActorResponder, "%s reads the card of %s and clicks Approve", m.User, id)
		body := slackfake.BlockAction(drillTeam, m.User, drillChannel, card.TS, "approve", id, r.slack.HookURL("click-"+m.User))
		r.post(ctx, "/slack/interactions", body)
		if r.marks.approval.IsZero() {
			r.marks.approval = r.clock.Now()
		}
	case m.Manual != "":
		if r.clock.Until(ctx, Start.Add(m.At.D())) != nil {
			return
		}
		r.manual(ctx, m)
	}
}

// post sends a Slack-signed request to the service, in process.
func (r *run) post(ctx context.Context, path, body string) {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// The signature is Slack's transport check: it carries the real time,
	// which the service compares with its own clock; nothing of it enters
	// the report.
	stamp, sig := slackfake.Sign(r.sign, time.Now(), []byte(body))
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	rec := httptest.NewRecorder()
	r.svc.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		r.log(ActorSlack, "the service answered %d: %s", rec.Code, firstLine(rec.Body.String()))
	}
}

// waitForCard waits until an approval card is in the channel and returns
// the newest.
func (r *run) waitForCard(ctx context.Context) (slackfake.Call, bool) {
	for {
		var card slackfake.Call
		found := false
		for _, c := range r.slack.Of(slackfake.PostMessage) {
			if c.OK() && c.ThreadTS == "" && c.Buttons()["approve"] != "" {
				card, found = c, true
			}
		}
		if found {
			return card, true
		}
		if r.clock.Sleep(ctx, pollEvery) != nil {
			return card, false
		}
	}
}

// manual is a console move of the 2014 response: "change-password USER"
// (the old password stops working; keys and sessions are untouched).
func (r *run) manual(ctx context.Context, m Move) {
	_, user, _ := strings.Cut(m.Manual, " ")
	for _, acct := range r.org.Accounts() {
		if _, ok := r.org.UserARN(acct, user); !ok {
			continue
		}
		r.log(ActorResponder, "changes the console password of %s in %s (the 2014 response: no guardrail, keys and sessions untouched)", user, acct)
		c, err := r.org.Provider(r.cfg.BotRoleName).Clients(ctx, acct)
		if err == nil {
			_, err = c.IAM.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(user)})
		}
		if err != nil {
			r.log(ActorResponder, "the password change of %s failed: %s", user, firstLine(err.Error()))
		}
		return
	}
	r.log(ActorResponder, "%s: there is no user %s", m.Manual, user)
}
