package sim

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

// benchOrg is 50 accounts of 200 principals, SCPs enabled, with a deny-delete
// SCP at the root (so every call evaluates an SCP chain).
func benchOrg(b *testing.B) *Org {
	b.Helper()
	o := NewOrganization("100000000000")
	for i := 1; i < 50; i++ {
		must(b, o.AddAccount(fmt.Sprintf("1000000000%02d", i), "", "Workloads"))
	}
	must(b, o.EnableSCPs())
	o.mu.Lock()
	for _, id := range o.accountIDsLocked() {
		must(b, o.generateLocked(o.accounts[id], 150, 50))
	}
	o.mu.Unlock()
	m := mustClients(b, o, "100000000000").Organizations
	out, err := m.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String("d"), Description: aws.String(""), Content: aws.String(denyDeleteSCP()), Type: scpType})
	must(b, err)
	_, err = m.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: out.Policy.PolicySummary.Id, TargetId: aws.String(o.RootID())})
	must(b, err)
	return o
}

// BenchmarkDisableKeysAcrossOrg walks every user of every account, lists its
// keys and deactivates them: the shape of disable-users.
func BenchmarkDisableKeysAcrossOrg(b *testing.B) {
	o := benchOrg(b)
	p := o.Provider(DefaultBotRole)
	b.ResetTimer()
	for range b.N {
		calls := 0
		for _, acct := range o.Accounts() {
			c, err := p.Clients(bg, acct)
			must(b, err)
			pg := iam.NewListUsersPaginator(c.IAM, &iam.ListUsersInput{})
			for pg.HasMorePages() {
				out, err := pg.NextPage(bg)
				must(b, err)
				calls++
				for _, u := range out.Users {
					keys, err := c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: u.UserName})
					must(b, err)
					calls++
					for _, k := range keys.AccessKeyMetadata {
						_, err := c.IAM.UpdateAccessKey(bg, &iam.UpdateAccessKeyInput{UserName: u.UserName, AccessKeyId: k.AccessKeyId, Status: types.StatusTypeInactive})
						must(b, err)
						calls++
					}
				}
			}
		}
		b.ReportMetric(float64(calls), "calls/op")
	}
}

func BenchmarkAuthorize(b *testing.B) {
	o := benchOrg(b)
	c := Credential{Account: "100000000001", Principal: uarn("100000000001", "user-0003"), Console: true}
	b.ResetTimer()
	for range b.N {
		_ = o.Authorize(c, "ec2:DeleteSnapshot", "arn:aws:ec2:us-east-1::snapshot/snap-1")
	}
}
