package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions/awsapi"
)

const (
	mgmtID   = "111111111111"
	memberID = "222222222222"
	soloID   = "111122223333"
)

var bg = context.Background()

// isErr reports whether err wraps an error of type T (errors.As).
func isErr[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustClients(t testing.TB, o *Org, acct string) *awsapi.Clients {
	t.Helper()
	c, err := o.Provider(DefaultBotRole).Clients(bg, acct)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixedClock returns a settable clock.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time          { return c.t }
func (c *fixedClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// doc returns an identity policy with one statement.
func doc(effect, action, resource string, cond string) string {
	s := fmt.Sprintf(`{"Effect":%q,"Action":%s,"Resource":%s`, effect, jsonish(action), jsonish(resource))
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return `{"Version":"2012-10-17","Statement":[` + s + `}]}`
}

// jsonish quotes a plain value, or passes a JSON array through.
func jsonish(v string) string {
	if strings.HasPrefix(v, "[") {
		return v
	}
	return fmt.Sprintf("%q", v)
}

// docOfSize returns a valid identity policy of exactly n non-white-space
// characters (n >= 110), padded with ws spaces.
func docOfSize(n, ws int) string {
	base := `{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	pad := n - len(base)
	if pad < 0 {
		panic("docOfSize: too small")
	}
	d := strings.Replace(base, `"Sid":""`, `"Sid":"`+strings.Repeat("A", pad)+`"`, 1)
	return d[:1] + strings.Repeat(" ", ws) + d[1:]
}

// testOrg is an Organization with SCPs enabled: management 111111111111,
// member 222222222222 in OU Prod/Web, member 333333333333 at the root.
func testOrg(t testing.TB) *Org {
	t.Helper()
	o := NewOrganization(mgmtID)
	must(t, o.AddAccount(memberID, "prod", "Prod/Web"))
	must(t, o.AddAccount("333333333333", "dev", ""))
	must(t, o.EnableSCPs())
	return o
}
