package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/test/awsint"
	"github.com/killswitch/killswitch/test/moto"
)

// slowProxy forwards to target and delays every mutating AWS query-API
// action (IAM, Organizations, STS) by delay, so a lockdown takes seconds.
type slowProxy struct {
	URL   string
	srv   *http.Server
	delay time.Duration
	mu    sync.Mutex
	slow  int
}

func mutatingAction(action string) bool {
	if action == "" {
		return false
	}
	// AssumeRole and AssumeRoot (a member's root session, find-backdoors
	// reads root credentials through it) only issue credentials
	for _, p := range []string{"List", "Get", "Describe", "AssumeRole", "AssumeRoot"} {
		if strings.HasPrefix(action, p) {
			return false
		}
	}
	return true
}

func startSlowProxy(t testing.TB, target string, delay time.Duration) *slowProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{delay: delay}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }}
	srv := serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		action := ""
		if vals, err := url.ParseQuery(string(body)); err == nil {
			action = vals.Get("Action")
		}
		if target := r.Header.Get("X-Amz-Target"); target != "" { // JSON protocol (Organizations)
			action = target[strings.LastIndex(target, ".")+1:]
		}
		if mutatingAction(action) {
			p.mu.Lock()
			p.slow++
			p.mu.Unlock()
			select {
			case <-time.After(p.delay):
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	p.URL = srv
	return p
}

// serveLoopback serves h on a loopback port until the test ends.
func serveLoopback(t testing.TB, h http.Handler) string {
	t.Helper()
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return "http://" + ln.Addr().String()
}

// stepOp maps a mutating AWS operation to the step op that makes it.
var stepOp = map[string]string{
	"IAM.DeleteLoginProfile":              "delete-login-profile",
	"IAM.UpdateAccessKey":                 "deactivate-access-key",
	"IAM.UpdateSSHPublicKey":              "deactivate-ssh-key",
	"IAM.UpdateServiceSpecificCredential": "deactivate-service-credential",
	"IAM.PutUserPolicy":                   "put-inline-policy",
	"IAM.PutRolePolicy":                   "put-inline-policy",
	"IAM.AttachUserPolicy":                "attach-managed-policy",
	"IAM.AttachRolePolicy":                "attach-managed-policy",
	"IAM.AttachGroupPolicy":               "attach-managed-policy",
	"IAM.CreatePolicy":                    "create-managed-policy",
}

// TestProcessCrashResumeMoto kills the process mid-lockdown against the moto
// AWS emulator, which outlives the process like AWS does, and restarts it:
// the resumed run finishes the lockdown without redoing anything. Every
// mutating AWS call audited as ok is matched by exactly one done step for
// the same operation, account and principal, and no step key is audited as
// done twice. The kill falls after lockdown's barrier (every guardrail step
// done), once 5 steps of the second phase (disable-users) are recorded, so
// the resumed run passes the barrier again and finishes the later phases.
// One account, whose principals' steps run in parallel (aws.per_account,
// default 8): the kill lands while several calls are in flight. One that
// the slow proxy still held never reached moto, and the resumed run makes
// it; one the proxy had passed on may have changed moto before the process
// died with its step recorded "started": the resumed run re-reads the live
// state, finds nothing left to do and leaves that record as it is, so its
// change must be in effect in moto.
func TestProcessCrashResumeMoto(t *testing.T) {
	srv := moto.StartT(t)
	shim, err := awsint.StartShim(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shim.Close() })
	ctx := context.Background()
	org, err := awsint.Seed(ctx, srv.AWSConfig(ctx), awsint.SeedOptions{Members: 0, ExtraUsers: 8, ExtraRoles: 2})
	if err != nil {
		t.Fatalf("%v\n%s", err, srv.Output())
	}
	slow := startSlowProxy(t, shim.URL, 150*time.Millisecond)
	mgmt := org.Management

	fake := slackfake.New(t, botToken)
	dir := t.TempDir()
	cfg, dsn := writeConfig(t, dir, fake, fmt.Sprintf(`aws:
  backend: aws
  region: %s
  endpoint_url: %q
  role_name: %s
  confirm_timeout: 1s
  regions: [%s]
  management_account: %q
  accounts: [%q]`, moto.Region, slow.URL, awsint.ResponderRole, moto.Region, mgmt, mgmt))
	env := childEnv(append(slackEnv,
		"AWS_ACCESS_KEY_ID="+moto.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+moto.SecretAccessKey,
		"AWS_REGION="+moto.Region, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true")...)

	id, _, done, st := crashMidRun(t, fake, cfg, dsn, env, actions.DisableUsers, 5)
	c := iam.NewFromConfig(awsint.AccountConfig(srv.AWSConfig(ctx), mgmt, mgmt))
	events := checkResumedRun(t, st, cfg, id, func(s actions.Step) error { return landedOnMoto(ctx, c, s) })

	// steps: done per (step op, account, principal); audit: done per key
	doneSteps := map[string]int{}
	for _, s := range stepsOf(t, st, id) {
		var step struct{ Op, Account, Principal, Status string }
		if err := json.Unmarshal(s.Data, &step); err != nil {
			t.Fatal(err)
		}
		// a created policy's step names it "policy ARN"; its call's target is the ARN
		doneSteps[step.Op+"|"+step.Account+"|"+strings.TrimPrefix(step.Principal, "policy ")]++
	}
	stepDone := map[string]int{}
	okCalls := map[string]int{}
	for _, e := range events {
		switch e.Event {
		case "step":
			if str(e.Data, "status") == "done" {
				stepDone[str(e.Data, "key")]++
			}
		case "aws_call":
			op := str(e.Data, "service") + "." + str(e.Data, "operation")
			if str(e.Data, "outcome") != "ok" || !mutatingAction(str(e.Data, "operation")) {
				continue
			}
			so, ok := stepOp[op]
			if !ok {
				t.Errorf("unexpected mutating call %s", op)
				continue
			}
			okCalls[so+"|"+str(e.Data, "account")+"|"+str(e.Data, "target")]++
		}
	}
	for k, n := range stepDone {
		if n > 1 {
			t.Errorf("step %s audited as done %d times", k, n)
		}
	}
	if len(okCalls) == 0 {
		t.Fatal("no mutating call audited")
	}
	for k, n := range okCalls {
		if n > doneSteps[k] {
			t.Errorf("%s: %d ok calls audited for %d done step(s): a change was made twice", k, n, doneSteps[k])
		}
	}
	if slow.slow == 0 {
		t.Error("the slow proxy saw no mutating call")
	}

	// AWS (moto) is contained: no non-exempt user keeps a console password
	// or an active key
	for _, u := range org.Accounts[mgmt].Users {
		if u.Exempt != "" {
			continue
		}
		_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(u.Name)})
		var nse *iamtypes.NoSuchEntityException
		if !errors.As(err, &nse) {
			t.Errorf("user %s still has a console password (%v)", u.Name, err)
		}
		keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys.AccessKeyMetadata {
			if k.Status == iamtypes.StatusTypeActive {
				t.Errorf("user %s key %s is still active", u.Name, aws.ToString(k.AccessKeyId))
			}
		}
	}
	t.Logf("lockdown %s finished %s after the restart; %d mutating calls, %d steps: %v", id, done.State, total(okCalls), len(stepsOf(t, st, id)), stepsByPhase(stepsOf(t, st, id)))
}
