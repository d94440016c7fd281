package awsint

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/killswitch/killswitch/actions"
)

// TestReplacementKeysStayInSecretsManager runs rotate-keys (twice), every
// plan, lockdown, find-backdoors and the undos, capturing everything
// killswitch hands out: logrus output, the JSON of every Plan, Result and
// recorded Step, every audit Call (Config.OnCall) and this test's own log.
// The secret access keys read back from the emulator's Secrets Manager
// appear in none of it, though the new keys' ids do (so the capture works).
func TestReplacementKeysStayInSecretsManager(t *testing.T) {
	org := reseed(t, defaultSeed)
	ctx := context.Background()
	logrusStart := len(logrusOut.String())

	var testLog, calls SyncBuffer
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		fmt.Fprintln(&testLog, line)
		t.Log(line)
	}
	e := newEngine(t, newFactory(t), func(c actions.Call) {
		b, err := json.Marshal(c)
		if err != nil {
			t.Errorf("call %+v: %v", c, err)
		}
		fmt.Fprintf(&calls, "%s\n", b)
	})
	var captured []string
	show := func(what string, v any, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		j := mustJSON(t, v)
		captured = append(captured, what+": "+j)
		logf("%s: %s", what, j)
	}
	rec := &stepRecorder{}
	opt := actions.Options{RequestID: "ks-it-secrets"}

	for _, action := range actions.Names() {
		p, err := e.Plan(ctx, action, org.IDs(), opt)
		show("plan "+action, p, err)
	}
	rot, err := e.Apply(ctx, actions.RotateKeys, org.IDs(), opt, rec)
	show("apply rotate-keys", rot, err)
	if pr := rot.Problems(); len(pr) > 0 {
		t.Fatalf("rotate-keys: %v", pr)
	}
	r, err := e.Apply(ctx, actions.RotateKeys, org.IDs(), opt, rec)
	show("apply rotate-keys again", r, err)
	p, err := e.Plan(ctx, actions.RotateKeys, org.IDs(), opt)
	show("plan rotate-keys after rotating", p, err)
	p, err = e.Plan(ctx, actions.FindBackdoors, org.IDs(), opt)
	show("plan find-backdoors after rotating", p, err)
	r, err = e.Apply(ctx, actions.FindBackdoors, org.IDs(), opt, rec)
	show("apply find-backdoors", r, err)
	lrec := &stepRecorder{}
	r, err = e.Apply(ctx, actions.Lockdown, org.IDs(), actions.Options{RequestID: "ks-it-secrets-lockdown"}, lrec)
	show("apply lockdown", r, err)
	r, err = e.Undo(ctx, actions.Lockdown, lrec.all(), actions.Options{RequestID: "ks-it-secrets-lockdown-undo"}, lrec)
	show("undo lockdown", r, err)
	r, err = e.Undo(ctx, actions.RotateKeys, rec.all(), actions.Options{RequestID: "ks-it-secrets-undo"}, rec)
	show("undo rotate-keys", r, err)
	show("recorded steps", append(rec.all(), lrec.all()...), nil)

	secrets := map[string]string{}
	st := readState(t, org, secrets)
	// Every non-exempt user with one key got a replacement: 4 per account.
	if want := 4 * len(org.IDs()); len(secrets) != want {
		t.Fatalf("%d secrets in Secrets Manager, want %d", len(secrets), want)
	}
	haystacks := map[string]string{
		"logrus output":            logrusOut.String()[logrusStart:],
		"audit calls (OnCall)":     calls.String(),
		"plans, results and steps": strings.Join(captured, "\n"),
		"the test's own log":       testLog.String(),
	}
	for name, secret := range secrets {
		id, _, _ := strings.Cut(name, "/")
		fact := st.Accounts[id].Secrets[strings.TrimPrefix(name, id+"/")]
		if len(secret) != 40 || fact.AccessKeyID == "" {
			t.Errorf("secret %s: key id %q and a %d-character secret, want a 40-character one", name, fact.AccessKeyID, len(secret))
			continue
		}
		for where, text := range haystacks {
			if strings.Contains(text, secret) {
				// never print the secret itself
				t.Errorf("the secret access key stored in %s appears in %s", name, where)
			}
		}
		if !strings.Contains(haystacks["plans, results and steps"], fact.AccessKeyID) {
			t.Errorf("the new key id %s of %s is in no step: the capture is not capturing", fact.AccessKeyID, name)
		}
	}
	if strings.Count(calls.String(), "\n") < 100 || !strings.Contains(calls.String(), `"operation":"CreateAccessKey"`) {
		t.Errorf("OnCall captured %d calls, without CreateAccessKey", strings.Count(calls.String(), "\n"))
	}
}
