package drill

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	stdhtml "html"
	"regexp"
	"strings"
	"testing"
)

// TestManualVariant: the 2014 variant of a scenario keeps its intruder
// and replaces the killswitch commands with password changes of the users
// the intruder holds, at the first command's time; a scenario whose
// intruder holds no user has none.
func TestManualVariant(t *testing.T) {
	s, err := Open("codespaces")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := s.ManualVariant()
	if !ok {
		t.Fatal("codespaces has no 2014 variant")
	}
	if len(m.Responders) != 1 || m.Responders[0].Manual != "change-password ops-admin" || m.Responders[0].At != s.Responders[0].At {
		t.Fatalf("responders %+v", m.Responders)
	}
	if len(s.Responders) != 2 || s.Responders[0].Command == "" {
		t.Fatal("the variant changed the scenario it was derived from")
	}
	if _, ok := m.ManualVariant(); ok {
		t.Error("a manual scenario has a manual variant")
	}
	roleOnly := *s
	roleOnly.Intruder.Holds = []Hold{{Role: "ci-deploy"}}
	if _, ok := roleOnly.ManualVariant(); ok {
		t.Error("an intruder holding only a role session has a derived variant")
	}
}

// TestHTMLReport: the page has the swimlanes, both scorecards and the
// resources, its only style is allowed by the hash in its CSP, and it
// has no script and no external asset.
func TestHTMLReport(t *testing.T) {
	s, err := Open("codespaces")
	if err != nil {
		t.Fatal(err)
	}
	r, page, err := RunPage(context.Background(), s, 0, Config{})
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{"intruder", "responders", "Slack", "bot", "resources intact", "CONTAINED: 0 of 20 resources lost", "NOT CONTAINED", "the 2014 response", r.ScorecardLines()[0]} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(html, "<circle"); n < len(r.Timeline) {
		t.Errorf("%d dots for %d events", n, len(r.Timeline))
	}
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`(?i)<script`), regexp.MustCompile(`(?i)\b(src|href)=`), regexp.MustCompile(`(?i)url\(`), regexp.MustCompile(`(?i)\sstyle=`)} {
		if bad.MatchString(html) {
			t.Errorf("page matches %s", bad)
		}
	}
	css := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(html)
	if css == nil {
		t.Fatal("no stylesheet")
	}
	sum := sha256.Sum256([]byte(css[1]))
	meta := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(html)
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if meta == nil || !strings.Contains(stdhtml.UnescapeString(meta[1]), "style-src "+hash) || !strings.Contains(HTMLCSP, "style-src "+hash) {
		t.Errorf("the CSP does not allow the page's own style by hash: %s", HTMLCSP)
	}
	if strings.Contains(HTMLCSP, "unsafe") || strings.Contains(HTMLCSP, "script-src") {
		t.Errorf("CSP %s", HTMLCSP)
	}
}
