package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// The binary is built once per test binary, by the first process-level
// test (so benchmarks and in-process runs do not pay for it), into a
// directory TestMain removes.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "killswitch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds ./cmd/killswitch (once) and returns its path.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		binPath = filepath.Join(binDir, "killswitch")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/killswitch")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build ./cmd/killswitch: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// childEnv is the environment of killswitch processes: no Slack or AWS
// settings from the developer's shell, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SLACK_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

var slackEnv = []string{"SLACK_SIGNING_SECRET=" + secret, "SLACK_BOT_TOKEN=" + botToken}

// runCLI runs killswitch to completion.
func runCLI(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatalf("run killswitch %v: %v", args, err)
	}
	return 0, out.String(), errb.String()
}

// proc is a running `killswitch serve`.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// serve starts `killswitch serve --config cfg` and waits for its "listening"
// log line with the address.
func serve(t testing.TB, cfg string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--config", cfg)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "listening" {
				if a, ok := entry["addr"].(string); ok {
					select {
					case addrc <- a:
					default:
					}
				}
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	})
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		t.Fatalf("killswitch serve exited before listening: %v\n%s", p.err, p.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("killswitch serve did not log its address\n%s", p.logs())
	}
	return p
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func (p *proc) post(path, body string) (int, string) {
	p.t.Helper()
	resp, err := http.DefaultClient.Do(slackfake.SignedRequest(p.t, p.url(path), secret, time.Now(), body))
	if err != nil {
		p.t.Fatalf("%v\n%s", err, p.logs())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("killswitch did not exit within %s\n%s", timeout, p.logs())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// kill sends SIGKILL: no shutdown, no cleanup, like a crash.
func (p *proc) kill() {
	p.t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// writeConfig writes a serve configuration for the fake Slack.
func writeConfig(t testing.TB, dir string, fake *slackfake.Fake, aws string) (cfg, dsn string) {
	t.Helper()
	dsn = filepath.Join(dir, "killswitch.db")
	cfg = filepath.Join(dir, "killswitch.yaml")
	yaml := fmt.Sprintf(`listen: "127.0.0.1:0"
slack:
  team_id: %s
  channel: %s
  api_url: %q
approval:
  requesters: [%s, %s]
  approvers: [%s, %s]
  required: 1
  expiry: 15m
break_glass:
  principals: ["arn:aws:iam::*:role/BreakGlass*", "arn:aws:iam::*:user/breakglass-*"]
  tag: "killswitch:break-glass"
%s
store:
  driver: sqlite
  dsn: %q
`, team, channel, fake.APIURL(), requester, approver, approver, approver2, aws, dsn)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, dsn
}

// openStore opens the process's SQLite store from the test (a second
// client of the same file, like a replica).
func openStore(t testing.TB, dsn string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.DriverSQLite, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// request runs "/killswitch text" against the process and returns the id
// and ts of the approval card it posts (the n-th card of the fake).
func request(t testing.TB, p *proc, fake *slackfake.Fake, text string, n int) (id, ts string) {
	t.Helper()
	code, body := p.post("/slack/commands", slackfake.SlashBody(team, requester, channel, text, fake.HookURL("proc")))
	if code != http.StatusOK || !strings.Contains(body, "Planning") {
		t.Fatalf("slash command: %d %s\n%s", code, body, p.logs())
	}
	card := fake.WaitNth(t, 60*time.Second, "the approval card", n, isCard)
	return card.Buttons()[bot.ActionApprove], card.TS
}

func approve(t testing.TB, p *proc, id, ts string) {
	t.Helper()
	code, body := p.post("/slack/interactions", slackfake.BlockAction(team, approver, channel, ts, bot.ActionApprove, id, ""))
	if code != http.StatusOK {
		t.Fatalf("approve: %d %s\n%s", code, body, p.logs())
	}
}

func waitFinished(t testing.TB, st store.Store, id string, timeout time.Duration, logs func() string) *store.Request {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, err := st.GetRequest(context.Background(), id)
		if err == nil && r.State.Terminal() {
			return r
		}
		if time.Now().After(deadline) {
			state := "?"
			if r != nil {
				state = string(r.State)
			}
			t.Fatalf("request %s is %s after %s\n%s", id, state, timeout, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProcessServeRequiresSecretsFromTheEnvironment(t *testing.T) {
	fake := slackfake.New(t, botToken)
	cfg, _ := writeConfig(t, t.TempDir(), fake, "aws:\n  backend: sim\n  sim: codespaces")
	for _, c := range []struct {
		env  []string
		want string
	}{
		{childEnv("SLACK_BOT_TOKEN=" + botToken), "SLACK_SIGNING_SECRET is not set"},
		{childEnv("SLACK_SIGNING_SECRET=" + secret), "SLACK_BOT_TOKEN is not set"},
	} {
		code, _, stderr := runCLI(t, c.env, "serve", "--config", cfg)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
		}
	}
	code, _, stderr := runCLI(t, childEnv(slackEnv...), "serve", "--config", cfg, "extra")
	if code != 2 || !strings.Contains(stderr, "serve takes no arguments") {
		t.Errorf("extra argument: exit %d %q", code, stderr)
	}
}

func TestProcessServeApproveShutdownAuditVerifyTamper(t *testing.T) {
	fake := slackfake.New(t, botToken)
	dir := t.TempDir()
	cfg, dsn := writeConfig(t, dir, fake, "aws:\n  backend: sim\n  sim: codespaces")
	env := childEnv(slackEnv...)
	p := serve(t, cfg, env)

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp, err := http.Get(p.url(path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if code, _ := p.post("/slack/commands", "x=1"); code != http.StatusOK && code != http.StatusBadRequest {
		t.Errorf("signed junk: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, p.url("/slack/commands"), strings.NewReader("text=lockdown"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned: %v %v", resp, err)
	}

	id, ts := request(t, p, fake, "lockdown --all --incident INC-7 attacker in prod", 0)
	approve(t, p, id, ts)
	st := openStore(t, dsn)
	r := waitFinished(t, st, id, 60*time.Second, p.logs)
	if r.State != store.Succeeded {
		t.Fatalf("%s: %s\n%s", r.State, r.Error, p.logs())
	}
	fake.Wait(t, 30*time.Second, "the result in the thread", func([]slackfake.Call) bool {
		for _, c := range fake.Thread(ts) {
			if strings.Contains(c.Text, "succeeded") {
				return true
			}
		}
		return false
	})

	// graceful shutdown on SIGTERM
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.logs())
	}
	logs := p.logs()
	for _, want := range []string{`"msg":"listening"`, `"request_id":"` + id + `"`, `"action":"lockdown"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %s", want)
		}
	}
	for _, secretValue := range []string{secret, botToken} {
		if strings.Contains(logs, secretValue) {
			t.Errorf("the log contains a secret")
		}
	}

	// audit verify and show
	code, out, errOut := runCLI(t, childEnv(), "audit", "verify", "--config", cfg)
	if code != 0 || !strings.Contains(out, "audit log intact") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, childEnv(), "audit", "show", "--config", cfg, "--request", id)
	if code != 0 || !strings.Contains(out, "aws_call") || !strings.Contains(out, "IAM.DeleteLoginProfile") || !strings.Contains(out, "approved") {
		t.Fatalf("audit show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, childEnv(), "audit", "show", "--config", cfg, "--json")
	var entries []struct {
		Seq   int64  `json:"seq"`
		Event string `json:"event"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) < 10 || entries[0].Seq != 1 {
		t.Fatalf("audit show --json: exit %d, %d entries", code, len(entries))
	}

	// tamper with one row, as someone with database access could
	var target int64
	for _, e := range entries {
		if e.Event == "aws_call" {
			target = e.Seq
			break
		}
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := db.Exec(`UPDATE audit SET data = replace(data, '"ok"', '"error"') WHERE seq = ?`, target); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tampered %d rows", n)
	}
	code, _, errOut = runCLI(t, childEnv(), "audit", "verify", "--config", cfg)
	if want := fmt.Sprintf("audit log tampered: entry %d:", target); code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("audit verify after tampering: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
}

// simSlowOrg is a standalone account whose changes are slow (100 ms per
// mutating call), so a lockdown takes several seconds.
const simSlowOrg = `accounts:
  - id: "111122223333"
    name: prod
    users:
      - {name: alice, password: true, access_keys: [{active: true}]}
      - {name: breakglass-admin, password: true}
    roles:
      - {name: BreakGlassAdmin, managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]}
    generate: {users: 30, roles: 5}
faults:
  - {operation: DeleteLoginProfile, latency: 100ms}
  - {operation: UpdateAccessKey, latency: 100ms}
  - {operation: AttachUserPolicy, latency: 100ms}
  - {operation: AttachRolePolicy, latency: 100ms}
  - {operation: AttachGroupPolicy, latency: 100ms}
  - {operation: PutUserPolicy, latency: 100ms}
  - {operation: PutRolePolicy, latency: 100ms}
`

// stepsOf reads a request's recorded steps straight from the database.
func stepsOf(t testing.TB, st store.Store, id string) []store.Step {
	t.Helper()
	steps, err := st.Steps(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// crashMidRun approves a lockdown, SIGKILLs the process once at least
// minSteps steps of phase ("" = any phase) are recorded, restarts it and
// waits for the lockdown to finish.
func crashMidRun(t *testing.T, fake *slackfake.Fake, cfg, dsn string, env []string, phase string, minSteps int) (string, string, *store.Request, store.Store) {
	t.Helper()
	p := serve(t, cfg, env)
	id, ts := request(t, p, fake, "lockdown --all --incident INC-7 attacker in prod", 0)
	st := openStore(t, dsn)
	approve(t, p, id, ts)
	deadline := time.Now().Add(120 * time.Second)
	for stepsOfPhase(stepsOf(t, st, id), phase) < minSteps {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d steps of phase %q recorded\n%s", minSteps, phase, p.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill()
	before := stepsOf(t, st, id)
	r, err := st.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.Running {
		t.Fatalf("the lockdown was %s when killed (%d steps): make the run slower", r.State, len(before))
	}
	t.Logf("killed with %d step(s) recorded: %v", len(before), stepsByPhase(before))
	if phase != "" && phase != actions.DenyDelete {
		// lockdown's one barrier: the guardrail is in place before any
		// later phase starts anywhere
		for k, n := range stepsByPhase(before) {
			if strings.HasPrefix(k, actions.DenyDelete+" ") && k != actions.DenyDelete+" "+actions.StepDone {
				t.Errorf("%d %s step(s) when %s had begun", n, k, phase)
			}
		}
	}

	p2 := serve(t, cfg, env)
	done := waitFinished(t, st, id, 180*time.Second, p2.logs)
	if done.State != store.Succeeded {
		t.Fatalf("after restart: %s: %s\n%s", done.State, done.Error, p2.logs())
	}
	fake.Wait(t, 30*time.Second, "the resumed result in the thread", func([]slackfake.Call) bool {
		resumed, finished := false, false
		for _, c := range fake.Thread(ts) {
			resumed = resumed || strings.Contains(c.Text, "Resuming lockdown")
			finished = finished || strings.Contains(c.Text, "lockdown succeeded")
		}
		return resumed && finished
	})
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p2.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p2.logs())
	}
	return id, ts, done, st
}

// stepsOfPhase counts the recorded steps of phase ("" = every step).
func stepsOfPhase(steps []store.Step, phase string) int {
	if phase == "" {
		return len(steps)
	}
	n := 0
	for _, s := range steps {
		var step actions.Step
		if json.Unmarshal(s.Data, &step) == nil && step.Action == phase {
			n++
		}
	}
	return n
}

// stepsByPhase counts recorded steps by "action status".
func stepsByPhase(steps []store.Step) map[string]int {
	n := map[string]int{}
	for _, s := range steps {
		var step actions.Step
		_ = json.Unmarshal(s.Data, &step)
		n[step.Action+" "+step.Status]++
	}
	return n
}

type auditEvent struct {
	Event string
	Data  map[string]any
}

func auditOf(t testing.TB, st store.Store, id string) []auditEvent {
	t.Helper()
	recs, err := st.Audit(context.Background(), store.AuditFilter{RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []auditEvent
	for _, r := range recs {
		var m map[string]any
		_ = json.Unmarshal(r.Data, &m)
		out = append(out, auditEvent{Event: r.Event, Data: m})
	}
	return out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// checkResumedRun: the request ran once (one "running" transition), was
// started twice (the second resumed), every step key is stored once and
// done, and the audit chain verifies. A step the killed run left
// "started" is accepted only when landed (nil: never) says its change is
// in effect: its call reached AWS before the kill, so the resumed run found
// nothing left to do for it and left the record as it was.
func checkResumedRun(t *testing.T, st store.Store, cfg, id string, landed func(actions.Step) error) []auditEvent {
	t.Helper()
	events := auditOf(t, st, id)
	count := map[string]int{}
	resumed := 0
	for _, e := range events {
		count[e.Event]++
		if e.Event == bot.EventApplyStarted && e.Data["resumed"] == true {
			resumed++
		}
	}
	if count["running"] != 1 || count[bot.EventApplyStarted] != 2 || resumed != 1 || count["succeeded"] != 1 {
		t.Errorf("events: running %d, apply_started %d (resumed %d), succeeded %d; want 1, 2 (1), 1",
			count["running"], count[bot.EventApplyStarted], resumed, count["succeeded"])
	}
	seen := map[string]bool{}
	for _, s := range stepsOf(t, st, id) {
		if seen[s.Key] {
			t.Errorf("step %s stored twice", s.Key)
		}
		seen[s.Key] = true
		var step actions.Step
		if err := json.Unmarshal(s.Data, &step); err != nil {
			t.Fatalf("step %s: %v", s.Key, err)
		}
		switch {
		case step.Status == actions.StepDone:
		case step.Status == actions.StepStarted && landed != nil:
			if err := landed(step); err != nil {
				t.Errorf("step %s is still started and its change is not in effect: %v", s.Key, err)
			} else {
				t.Logf("step %s was in flight at the kill and reached AWS: the resumed run left it started", s.Key)
			}
		default:
			t.Errorf("step %s is %s", s.Key, step.Status)
		}
	}
	code, out, errOut := runCLI(t, childEnv(), "audit", "verify", "--config", cfg)
	if code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	return events
}

// TestProcessCrashResumeSim kills the process mid-lockdown on the simulated
// organization and restarts it. The simulation lives in the process, so the
// restarted process sees a fresh organization and its resumed run redoes
// the changes the first one made: this proves resumption from the store
// (the run finishes, every step is stored once), not idempotence against a
// surviving AWS (see TestProcessCrashResumeMoto for that).
func TestProcessCrashResumeSim(t *testing.T) {
	fake := slackfake.New(t, botToken)
	dir := t.TempDir()
	orgFile := filepath.Join(dir, "org.yaml")
	if err := os.WriteFile(orgFile, []byte(simSlowOrg), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, dsn := writeConfig(t, dir, fake, fmt.Sprintf("aws:\n  backend: sim\n  sim: %q", orgFile))
	id, _, done, st := crashMidRun(t, fake, cfg, dsn, childEnv(slackEnv...), "", 3)
	checkResumedRun(t, st, cfg, id, nil) // a fresh organization: every change is redone
	if !strings.Contains(string(done.Result), "user-0030") {
		t.Errorf("the result does not cover the last generated user")
	}
}

func TestProcessAuditUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"audit"}, "audit needs: verify"},
		{[]string{"audit", "frob"}, `audit "frob": want verify or show`},
		{[]string{"audit", "show", "extra"}, "use --request ID"},
		{[]string{"audit", "verify", "--bogus"}, "flag provided but not defined"},
	} {
		code, _, stderr := runCLI(t, childEnv(), c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// a missing database is refused, not created empty and reported intact
	fake := slackfake.New(t, botToken)
	cfg, dsn := writeConfig(t, t.TempDir(), fake, "aws:\n  backend: sim\n  sim: codespaces")
	code, out, stderr := runCLI(t, childEnv(), "audit", "verify", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "no audit database at "+dsn) {
		t.Errorf("missing database: exit %d %q %q", code, out, stderr)
	}
}
