package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// slowChanges delays every IAM change of the codespaces account.
func slowChanges(d time.Duration) []sim.Fault {
	var fs []sim.Fault
	for _, op := range []string{"CreatePolicy", "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "PutUserPolicy",
		"PutRolePolicy", "DeleteLoginProfile", "UpdateAccessKey", "UpdateSSHPublicKey", "UpdateServiceSpecificCredential"} {
		fs = append(fs, sim.Fault{Account: acct, Operation: "IAM." + op, Latency: d})
	}
	return fs
}

// TestShutdownParksAndStartResumes: a shutdown whose deadline passes parks
// the running lockdown (it stays running); a new service on the same store
// resumes it, and since the organization outlived the first service, the
// resumed run changes only what was left: the audited successful changes
// are exactly those of one uninterrupted run.
func TestShutdownParksAndStartResumes(t *testing.T) {
	e := newEnv(t, options{faults: slowChanges(50 * time.Millisecond)})
	e.slash(requester, "lockdown --all --incident INC-7 attacker in prod", "r")
	card := e.card(0)
	id := card.Buttons()[bot.ActionApprove]
	e.click(approver, bot.ActionApprove, id, card.TS)
	deadline := time.Now().Add(30 * time.Second)
	for {
		steps, _ := e.st.Steps(context.Background(), id)
		if len(steps) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not get going")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	err := e.svc.Shutdown(ctx)
	e.stopped = true
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 running request(s) parked") {
		t.Fatalf("shutdown: %v", err)
	}
	r := e.waitState(id, store.Running)
	parkedSteps, _ := e.st.Steps(context.Background(), id)
	if n := e.events(id, bot.EventParked); n != 1 {
		t.Fatalf("%d parked events", n)
	}
	e.slack.Wait(t, 10*time.Second, "the paused note in the thread", func([]slackfake.Call) bool {
		for _, c := range e.slack.Thread(card.TS) {
			if strings.Contains(c.Text, "Paused") {
				return true
			}
		}
		return false
	})
	if r.PinnedAt.IsZero() {
		t.Fatal("no pinned time")
	}

	e.org.ClearFaults()
	e2 := newEnv(t, options{org: e.org, st: e.st, slack: e.slack})
	done := e2.waitState(id, store.Succeeded, store.Partial, store.Failed)
	if done.State != store.Succeeded || !done.PinnedAt.Equal(r.PinnedAt) {
		t.Fatalf("%s (%s), pinned %s then %s", done.State, done.Error, r.PinnedAt, done.PinnedAt)
	}
	// the call interrupted by the shutdown failed (the simulation counts it
	// as an attempt): compare the calls that succeeded, as audited. The
	// guardrail canary's EC2 DeleteSnapshot is a dry run that changes
	// nothing and, once the guardrail holds, is refused (audited as an
	// error): it is checked below as the guardrail's confirmation instead.
	got, want := map[string]int{}, singleRunMutations(t)
	delete(want, canaryDryRun)
	for _, r := range e2.auditEntries(id) {
		var c struct{ Service, Operation, Outcome string }
		if r.Event == "aws_call" && json.Unmarshal(r.Data, &c) == nil && c.Outcome == "ok" && mutatingAction(c.Operation) {
			got[c.Service+"."+c.Operation]++
		}
	}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("%s: %d ok calls, one uninterrupted run makes %d", op, got[op], n)
		}
	}
	if total(got) != total(want) {
		t.Errorf("ok mutating calls %v, one run %v", got, want)
	}
	steps, _ := e.st.Steps(context.Background(), id)
	if len(steps) <= len(parkedSteps) {
		t.Errorf("%d steps after resuming, %d when parked", len(steps), len(parkedSteps))
	}
	if n := e2.events(id, "running"); n != 1 {
		t.Errorf("%d running events", n)
	}
	if n := e2.events(id, bot.EventApplyStarted); n != 2 {
		t.Errorf("%d apply_started events, want 2", n)
	}
	// the resumed run confirmed the guardrail (the canary refused) before
	// cutting access
	var res actions.Result
	if err := json.Unmarshal(done.Result, &res); err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Accounts {
		if a.Guardrail == nil || !a.Guardrail.Confirmed {
			t.Errorf("%s: guardrail %+v after resuming, want confirmed", a.Account, a.Guardrail)
		}
	}
	refused := 0
	for _, r := range e2.auditEntries(id) {
		var c struct{ Service, Operation, Outcome string }
		if r.Event == "aws_call" && json.Unmarshal(r.Data, &c) == nil && c.Service+"."+c.Operation == canaryDryRun && c.Outcome == "error" {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no refused canary dry run audited: the guardrail was not confirmed")
	}
	contained(t, e.org, done.PinnedAt)
	e2.verifyAudit()
}

// canaryDryRun is the guardrail canary's call, as the simulation and the
// audit name it.
const canaryDryRun = "EC2.DeleteSnapshot"

// TestBackdoorCreatedAfterThePlan: approvers approve the intent; a backdoor
// user made between the plan and the approval is contained too, and the
// thread says it was not in the plan.
func TestBackdoorCreatedAfterThePlan(t *testing.T) {
	e := newEnv(t, options{})
	e.slash(requester, "disable-users --all --incident INC-7 intruder creating logins", "r")
	card := e.card(0)
	id := card.Buttons()[bot.ActionApprove]
	if strings.Contains(card.AllText(), "backdoor") {
		t.Fatal("the backdoor is in the plan already")
	}
	admin, _ := e.org.UserARN(acct, "ops-admin")
	cred := sim.Credential{Account: acct, Principal: admin, AccessKeyID: e.org.AccessKeyIDs(acct, "ops-admin")[0]}
	key, err := e.org.AttackerCreateUser(cred, "backdoor")
	if err != nil {
		t.Fatal(err)
	}
	e.click(approver, bot.ActionApprove, id, card.TS)
	if r := e.waitState(id, store.Succeeded, store.Partial, store.Failed); r.State != store.Succeeded {
		t.Fatalf("%s: %s", r.State, r.Error)
	}
	backdoor, _ := e.org.UserARN(acct, "backdoor")
	if err := e.org.Authorize(sim.Credential{Account: acct, Principal: backdoor, AccessKeyID: key.ID}, "iam:CreateUser", "*"); err == nil {
		t.Error("the backdoor key still works")
	}
	e.slack.Wait(t, 30*time.Second, "the diff in the thread", func([]slackfake.Call) bool {
		for _, c := range e.slack.Thread(card.TS) {
			if strings.Contains(c.AllText(), "Done but not in the approved plan") && strings.Contains(c.AllText(), "user/backdoor") {
				return true
			}
		}
		return false
	})
}
