package policies_test

import (
	"fmt"
	"time"

	"github.com/killswitch/killswitch/policies"
)

func ExampleRender() {
	p := policies.DefaultParams()
	p.RevokeBefore = time.Date(2026, time.November, 30, 18, 41, 3, 0, time.FixedZone("CET", 3600))
	doc, err := policies.Render("revoke-older-sessions", p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc)

	p.RevokeBefore = time.Time{}
	_, err = policies.Render("revoke-older-sessions", p)
	fmt.Println(err)
	// Output:
	// {"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-30T17:41:03Z"}}}]}
	// policy revoke-older-sessions: RevokeBefore is not set: refusing to render a session revocation without a cut-off time (a fixed or empty date revokes nothing)
}

func ExampleValidateDocument() {
	broken := `{"Version":"2012-10-17","Statement":[
		{"Sid":"Oops","Effect":"Allow","Action":"s3:PutObject","Resource":"*"},
		{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`
	fmt.Println(policies.ValidateDocument("broken", []policies.Kind{policies.KindSCP}, true, broken))
	// Output:
	// policy broken: 2 problems: statement 1 (Sid "Oops"): Allow statement in a deny-only document; statement 2: denies read-only calls: "s3:*" matches s3:Get...
}
