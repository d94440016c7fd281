package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/killswitch/killswitch/actions/awsapi"
)

const faultOrg = `
accounts:
  - id: "111122223333"
    users: [{name: alice, access_keys: [{active: true}]}]
faults:
  - {account: "111122223333", operation: ListUsers, throttle: true, times: 1}
  - {account: "111122223333", operation: ListRoles, latency: 30ms}
`

func TestLoadFaults(t *testing.T) {
	o, err := Load(strings.NewReader(faultOrg))
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.Provider("KillSwitchResponder").Clients(context.Background(), "111122223333")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IAM.ListUsers(context.Background(), &iam.ListUsersInput{}); !awsapi.IsThrottle(err) {
		t.Fatalf("first ListUsers: want a throttle, got %v", err)
	}
	if _, err := c.IAM.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
		t.Fatalf("times: 1 must throttle once: %v", err)
	}
	start := time.Now()
	if _, err := c.IAM.ListRoles(context.Background(), &iam.ListRolesInput{}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("the latency fault did not delay ListRoles")
	}
}

func TestLoadFaultsRefusesHostileValues(t *testing.T) {
	base := "accounts:\n  - id: \"111122223333\"\nfaults:\n"
	for _, tc := range []struct{ fault, want string }{
		{`  - {account: "999999999999", operation: ListUsers, throttle: true}`, "not in the organization"},
		{`  - {account: "111122223333", operation: "List Users;rm", throttle: true}`, "operation"},
		{`  - {account: "111122223333", operation: ListUsers, latency: 2h}`, "latency"},
		{`  - {account: "111122223333", operation: ListUsers}`, "throttle: true or a latency"},
		{`  - {account: "111122223333", operation: ListUsers, throttle: true, times: -1}`, "times"},
		{`  - {account: "111122223333", operation: ListUsers, throttle: true, error: boom}`, "error"},
	} {
		if _, err := Load(strings.NewReader(base + tc.fault + "\n")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.fault, err, tc.want)
		}
	}
}
