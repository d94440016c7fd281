package sim

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// ec2Client is the canary: EC2 as awsapi.CanaryRoleName, dry runs only.
type ec2Client struct{ c *conn }

var _ awsapi.Canary = (*ec2Client)(nil)

// DeleteSnapshot answers a dry run like EC2: DryRunOperation when the
// canary may delete the snapshot, UnauthorizedOperation when a policy (the
// guardrail, once it has propagated) denies it. Without DryRun it refuses:
// the simulation never lets the canary delete anything.
func (e *ec2Client) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	c, o := e.c, e.c.o
	if in == nil || str(in.SnapshotId) == "" {
		return nil, opErr("EC2", "DeleteSnapshot", required("DeleteSnapshotInput", "SnapshotId"))
	}
	if !aws.ToBool(in.DryRun) {
		return nil, opErr("EC2", "DeleteSnapshot", validationError("the simulated canary only makes dry runs"))
	}
	if err := o.preflight(ctx, c.account, "EC2", "DeleteSnapshot"); err != nil {
		return nil, opErr("EC2", "DeleteSnapshot", err)
	}
	if err := o.latency(ctx, "ec2"); err != nil {
		return nil, opErr("EC2", "DeleteSnapshot", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	arn, _ := ResourceARN(c.account, "snapshot", *in.SnapshotId)
	if err := o.authorizeLocked(Credential{Account: c.account, Principal: c.principal(), SessionIssued: c.issued}, "ec2:DeleteSnapshot", arn); err != nil {
		return nil, opErr("EC2", "DeleteSnapshot", &smithy.GenericAPIError{Code: "UnauthorizedOperation", Fault: smithy.FaultClient,
			Message: "You are not authorized to perform this operation. (" + err.Error() + ")"})
	}
	return nil, opErr("EC2", "DeleteSnapshot", &smithy.GenericAPIError{Code: "DryRunOperation", Fault: smithy.FaultClient,
		Message: "Request would have succeeded, but DryRun flag is set."})
}

// ensureCanaryRoleLocked creates the canary role the responder template
// creates: trusted by the bot role, not exempt from anything.
func (o *Org) ensureCanaryRoleLocked(a *account, botRole string) {
	if a.roles[strings.ToLower(awsapi.CanaryRoleName)] != nil {
		return
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + a.id + `:role/` + botRole + `"},"Action":"sts:AssumeRole"}]}`
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DeleteSnapshot","Resource":"arn:aws:ec2:*::snapshot/` + awsapi.CanarySnapshotID + `"}]}`
	if _, err := o.addRoleLimited(a, Role{Name: awsapi.CanaryRoleName, Description: "killswitch guardrail canary (simulated)", Trust: trust,
		InlinePolicies: map[string]string{"canary": allow}}, false); err != nil {
		panic("sim: create canary role in " + a.id + ": " + err.Error())
	}
}
