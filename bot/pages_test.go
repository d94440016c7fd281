package bot

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/runbook"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/policies"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func checkPageHeaders(t *testing.T, url string, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", url, csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP %q allows script or inline", url, csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: headers %v", url, resp.Header)
	}
}

// TestRunbookPages: every action has a page with its policy documents as
// policy show renders them, its slash command, its approvals and its
// recent requests; an unknown or hostile path is a 404 that reflects
// nothing.
func TestRunbookPages(t *testing.T) {
	f := newFixture(t, stubEngine{}, func(c *Config) { c.Runbooks = nil })
	resp, index := get(t, f.srv.URL+"/runbooks")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/runbooks: %d", resp.StatusCode)
	}
	checkPageHeaders(t, "/runbooks", resp)
	params := policies.DefaultParams()
	for _, info := range actions.Catalog() {
		if !strings.Contains(index, `href="/runbooks/`+info.Name+`"`) {
			t.Errorf("index does not link %s", info.Name)
		}
		url := f.srv.URL + "/runbooks/" + info.Name
		resp, page := get(t, url)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", url, resp.StatusCode)
		}
		checkPageHeaders(t, url, resp)
		if strings.Contains(page, "<script") || strings.Contains(page, "style=") || strings.Contains(page, "<style") {
			t.Errorf("%s: inline script or style", info.Name)
		}
		if !strings.Contains(page, "/killswitch "+info.Name+" --all --incident IR-123 REASON") {
			t.Errorf("%s: no slash command", info.Name)
		}
		for _, p := range info.Policies {
			want, err := policies.Show(p, params)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(html.UnescapeString(page), want) {
				t.Errorf("%s: policy %s not shown as policy show prints it", info.Name, p)
			}
		}
		for _, c := range info.Costs {
			if !strings.Contains(html.UnescapeString(page), c) {
				t.Errorf("%s: cost %q missing", info.Name, c)
			}
		}
		want := fmt.Sprintf("%d approval(s)", 1+info.ExtraApprovals)
		if !strings.Contains(page, want) {
			t.Errorf("%s: approvals: want %q", info.Name, want)
		}
	}
	for _, path := range []string{"/runbooks/nope", "/runbooks/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/drills/drill-0000000000000000", "/drills/%3Cb%3Ex", "/runbooks/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/x/%3Cscript%3E"} {
		resp, body := get(t, f.srv.URL+path)
		checkPageHeaders(t, path, resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
		if strings.Contains(body, "script") || strings.Contains(body, "<b>") || strings.Contains(body, "nope") {
			t.Errorf("%s: reflected: %q", path, body)
		}
	}
	resp, css := get(t, f.srv.URL+"/runbooks/style.css")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || css != string(runbook.Stylesheet) {
		t.Errorf("style.css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// a request made through Slack is listed, with its approver
	code, _ := f.slash(t, requester, "deny-delete --all --incident IR-7 <script>x</script> zebrafish")
	if code != http.StatusOK {
		t.Fatalf("slash: %d", code)
	}
	f.slack.WaitNth(t, 10*time.Second, "approval card", 0, func(c slackfake.Call) bool { return c.Method == slackfake.PostMessage })
	reqs, err := f.st.ListRequests(context.Background(), store.Filter{})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests %v %v", reqs, err)
	}
	id := reqs[0].ID
	if err := f.st.AddApproval(context.Background(), store.Approval{RequestID: id, Approver: approver2, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, page := get(t, f.srv.URL+"/runbooks/deny-delete")
	if !strings.Contains(page, id) || !strings.Contains(page, requester) || !strings.Contains(page, approver2) || !strings.Contains(page, "pending") {
		t.Errorf("recent requests do not list %s by %s", id, requester)
	}
	if strings.Contains(page, "<script>x") || strings.Contains(page, "zebrafish") || strings.Contains(page, "IR-7") {
		t.Errorf("the page shows the request's reason or incident")
	}
	_, other := get(t, f.srv.URL+"/runbooks/disable-users")
	if strings.Contains(other, id) {
		t.Errorf("disable-users lists a deny-delete request")
	}
}

// TestDrillPageServed: a drill outcome's HTML is kept and served under an
// unguessable id with its own CSP.
func TestDrillPageServed(t *testing.T) {
	f := newFixture(t, stubEngine{}, func(c *Config) { c.PublicURL = "https://ks.example.com/" })
	link := f.svc.keepDrillPage(&DrillOutcome{HTML: []byte("<!DOCTYPE html><p>report</p>"), CSP: "default-src 'none'; frame-ancestors 'none'"})
	if !strings.HasPrefix(link, "https://ks.example.com/drills/drill-") {
		t.Fatalf("link %q", link)
	}
	resp, body := get(t, f.srv.URL+strings.TrimPrefix(link, "https://ks.example.com"))
	if resp.StatusCode != http.StatusOK || body != "<!DOCTYPE html><p>report</p>" {
		t.Fatalf("drill page: %d %q", resp.StatusCode, body)
	}
	checkPageHeaders(t, link, resp)
	if f.svc.keepDrillPage(&DrillOutcome{}) != "" {
		t.Error("a link for an outcome without a page")
	}
}
