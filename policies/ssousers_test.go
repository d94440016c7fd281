package policies

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRevokeSSOSessionsDocument: the SCP names the reserved SSO roles by
// their path, the cut-off rounded up, and exempts break-glass Identity
// Center users by session name; hostile names are refused.
func TestRevokeSSOSessionsDocument(t *testing.T) {
	p := Params{RevokeBefore: time.Date(2026, 6, 17, 9, 30, 0, 500, time.UTC), ExemptSSOUsers: []string{"breakglass-ic", "ops@example.com", "breakglass-ic"}}
	doc, err := Render("revoke-sso-sessions", p)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Statement []struct {
			Effect    string
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Statement) != 1 {
		t.Fatalf("%v: %s", err, doc)
	}
	c := d.Statement[0].Condition
	if got := fmt.Sprint(c["ArnLike"]["aws:PrincipalArn"]); got != "[arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*]" {
		t.Errorf("principal pattern %v", got)
	}
	if got := c["DateLessThan"]["aws:TokenIssueTime"]; got != "2026-06-17T09:30:01Z" {
		t.Errorf("cut-off %v, want rounded up to 09:30:01", got)
	}
	if got := fmt.Sprint(c["StringNotLike"]["aws:userid"]); got != "[*:breakglass-ic *:ops@example.com]" {
		t.Errorf("exempt sessions %v", got)
	}
	if n := Size(KindSCP, doc); n > LimitSCP {
		t.Errorf("%d characters, over the SCP limit", n)
	}
	none, err := Render("revoke-sso-sessions", Params{RevokeBefore: p.RevokeBefore})
	if err != nil || strings.Contains(none, "aws:userid") {
		t.Errorf("without break-glass users: %v %s", err, none)
	}
	for _, bad := range []string{"*", "a*", "bob?", "x:y", `q"`, "", strings.Repeat("a", 65), "tab\tname"} {
		if _, err := Render("revoke-sso-sessions", Params{RevokeBefore: p.RevokeBefore, ExemptSSOUsers: []string{bad}}); err == nil {
			t.Errorf("ExemptSSOUsers %q accepted", bad)
		}
	}
}
