package e2e

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/slackfake"
)

// The browser test drives headless Chromium (Debian's chromium package)
// through its command line: --dump-dom gives the DOM after parsing, as a
// person's browser builds it, and --screenshot the page at a window size.
// No DevTools client, so no new Go dependency: the checks need the DOM
// and pictures, not events.

// chromiumInstall is what to run when Chromium is missing (test/run.sh
// runs it).
const chromiumInstall = "apt-get install -y chromium"

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("headless Chromium is not installed: run %s (test/run.sh installs it where missing)", chromiumInstall)
	return ""
}

// artifacts is the folder the screenshots are kept in: $KILLSWITCH_ARTIFACTS,
// or test/artifacts (ignored by git).
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KILLSWITCH_ARTIFACTS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "artifacts")
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type browser struct {
	t    *testing.T
	bin  string
	shot string // artifacts folder
}

func (b *browser) run(args ...string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--user-data-dir=" + b.t.TempDir()}
	cmd := exec.CommandContext(ctx, b.bin, append(base, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// dom loads url and returns the serialized DOM.
func (b *browser) dom(url string) string {
	b.t.Helper()
	d := b.run("--virtual-time-budget=2000", "--dump-dom", url)
	if !strings.Contains(d, "</html>") {
		b.t.Fatalf("%s: no document:\n%s", url, d)
	}
	return d
}

// screenshots keeps url at desktop and phone widths.
func (b *browser) screenshots(name, url string) {
	b.t.Helper()
	for _, s := range []struct{ suffix, size string }{{"desktop", "1280,900"}, {"phone", "390,844"}} {
		file := filepath.Join(b.shot, name+"-"+s.suffix+".png")
		b.run("--hide-scrollbars", "--window-size="+s.size, "--screenshot="+file, url)
		if fi, err := os.Stat(file); err != nil || fi.Size() < 1000 {
			b.t.Fatalf("screenshot %s: %v", file, err)
		}
	}
}

var rePolicy = regexp.MustCompile(`(?s)<pre class="policy" data-policy="([a-z-]+)">(.*?)</pre>`)

// policiesIn returns the policy texts of a page's DOM by document name.
func policiesIn(dom string) map[string]string {
	out := map[string]string{}
	for _, m := range rePolicy.FindAllStringSubmatch(dom, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// TestBrowserRunbooksAndDrillReport: headless Chromium loads every runbook
// page of a running service and of the static copy, a drill report written
// by `drill --html` and one served for a drill run in Slack; the policy
// text equals `policy show` for the configuration, the slash commands are
// there, a request made through signed Slack requests is listed with its
// approver, a hostile URL is not reflected; screenshots at desktop and
// phone widths are kept in the artefacts folder.
func TestBrowserRunbooksAndDrillReport(t *testing.T) {
	b := &browser{t: t, bin: chromium(t), shot: artifacts(t)}
	fake := slackfake.New(t, botToken)
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, fake, "aws:\n  backend: sim\n  sim: codespaces")
	env := childEnv(slackEnv...)
	p := serve(t, cfg, env)

	// a request through signed Slack requests, approved
	id, ts := request(t, p, fake, "deny-delete --all --incident IR-9 browser test", 0)
	approve(t, p, id, ts)
	waitFinished(t, openStore(t, filepath.Join(dir, "killswitch.db")), id, 60*time.Second, p.logs)

	shown := map[string]string{}
	for _, info := range actions.Catalog() {
		for _, name := range info.Policies {
			if _, ok := shown[name]; ok {
				continue
			}
			code, out, errOut := runCLI(t, env, "policy", "show", name, "--config", cfg)
			if code != 0 {
				t.Fatalf("policy show %s: %d %s", name, code, errOut)
			}
			shown[name] = out
		}
	}

	index := b.dom(p.url("/runbooks"))
	for _, info := range actions.Catalog() {
		if !strings.Contains(index, `href="/runbooks/`+info.Name+`"`) {
			t.Errorf("index does not link %s", info.Name)
		}
		page := b.dom(p.url("/runbooks/" + info.Name))
		checkRunbookDOM(t, "served "+info.Name, page, info, shown)
		if info.Name == actions.DenyDelete {
			row := regexp.MustCompile(`(?s)<tr class="request">.*?</tr>`).FindString(page)
			for _, want := range []string{id, requester, approver, "succeeded"} {
				if !strings.Contains(row, want) {
					t.Errorf("recent requests of deny-delete: %q lacks %q", row, want)
				}
			}
			if strings.Contains(page, "browser test") || strings.Contains(page, "IR-9") {
				t.Error("the runbook shows a request's reason or incident")
			}
		} else if strings.Contains(page, id) {
			t.Errorf("%s lists the deny-delete request", info.Name)
		}
	}
	b.screenshots("runbooks-index", p.url("/runbooks"))
	b.screenshots("runbook-lockdown", p.url("/runbooks/lockdown"))

	// nothing of a hostile URL reaches the page
	hostile := "/runbooks/" + url.PathEscape(`"><img src=x onerror=alert(1)><script>alert(2)</script>`)
	resp, err := http.Get(p.url(hostile))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("hostile URL: %d %v", resp.StatusCode, resp.Header)
	}
	hd := b.run("--dump-dom", p.url(hostile))
	if strings.Contains(hd, "<img") || strings.Contains(hd, "<script") || strings.Contains(hd, "onerror") || strings.Contains(hd, "alert") {
		t.Errorf("hostile URL reflected:\n%s", hd)
	}

	// the static copy for a wiki: the same pages
	static := filepath.Join(dir, "runbooks")
	if code, out, errOut := runCLI(t, env, "runbooks", "--out", static, "--config", cfg); code != 0 {
		t.Fatalf("runbooks --out: %d %s %s", code, out, errOut)
	}
	for _, info := range actions.Catalog() {
		page := b.dom("file://" + filepath.Join(static, info.Name+".html"))
		checkRunbookDOM(t, "static "+info.Name, page, info, shown)
	}
	b.screenshots("runbooks-static-lockdown", "file://"+filepath.Join(static, "lockdown.html"))

	// drill --html, on a fresh working directory
	report := filepath.Join(dir, "report.html")
	cmd := exec.Command(binary(t), "drill", "--html", report)
	cmd.Dir, cmd.Env = t.TempDir(), env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("drill --html: %v\n%s", err, out)
	}
	rd := b.dom("file://" + report)
	checkDrillDOM(t, "drill --html", rd)
	b.screenshots("drill-report", "file://"+report)

	// a drill run in Slack links the same page in its thread
	code, body := p.post("/slack/commands", slackfake.SlashBody(team, requester, channel, "drill start codespaces", fake.HookURL("proc")))
	if code != http.StatusOK {
		t.Fatalf("drill start: %d %s", code, body)
	}
	link := fake.WaitNth(t, 120*time.Second, "the drill report link", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostMessage && strings.Contains(c.Text, "/drills/drill-")
	})
	path := regexp.MustCompile(`/drills/drill-[0-9a-f]{16}`).FindString(link.Text)
	served := b.dom(p.url(path))
	checkDrillDOM(t, "served drill", served)
	b.screenshots("drill-served", p.url(path))

	// every Slack Web API method the service called is one the manifest's
	// scopes cover
	for _, c := range fake.Calls() {
		if strings.Contains(c.Method, ".") && !slices.Contains(bot.SlackMethods(), c.Method) {
			t.Errorf("the service called %s, which the Slack app manifest does not cover (bot.SlackMethods %v)", c.Method, bot.SlackMethods())
		}
	}
	t.Logf("screenshots in %s", b.shot)
}

func checkRunbookDOM(t *testing.T, what, dom string, info actions.Info, shown map[string]string) {
	t.Helper()
	if !strings.Contains(dom, "/killswitch "+info.Name+" --all --incident IR-123 REASON") || !strings.Contains(dom, "/killswitch plan "+info.Name+" --all") {
		t.Errorf("%s: no slash command", what)
	}
	if !strings.Contains(dom, `name="viewport"`) || strings.Contains(dom, "<script") {
		t.Errorf("%s: viewport missing or a script", what)
	}
	got := policiesIn(dom)
	if len(got) != len(info.Policies) {
		t.Errorf("%s: %d policy documents, want %v", what, len(got), info.Policies)
	}
	for _, name := range info.Policies {
		if got[name] != shown[name] {
			t.Errorf("%s: policy %s differs from policy show:\n page %q\n show %q", what, name, got[name], shown[name])
		}
	}
	for _, c := range info.Costs {
		if !strings.Contains(html.UnescapeString(dom), c) {
			t.Errorf("%s: cost %q missing", what, c)
		}
	}
	if want := fmt.Sprintf("%d approval(s)", 1+info.ExtraApprovals); !strings.Contains(dom, want) {
		t.Errorf("%s: %q missing", what, want)
	}
}

func checkDrillDOM(t *testing.T, what, dom string) {
	t.Helper()
	for _, want := range []string{"killswitch: codespaces", "CONTAINED: 0 of 20 resources lost", "NOT CONTAINED", "2014", ">intruder<", ">responders<", ">Slack<", ">bot<", "resources intact", "Scorecard"} {
		if !strings.Contains(dom, want) {
			t.Errorf("%s: report lacks %q", what, want)
		}
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "http://") || strings.Contains(dom, "https://") {
		t.Errorf("%s: script or external reference", what)
	}
}
