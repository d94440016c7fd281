package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// CanaryRoleName is the role the responder template creates in every
// account beside the responder role: it is not exempt from the guardrail,
// trusts only the responder role, and may delete only CanarySnapshotID,
// which does not exist. The bot assumes it to confirm, with an EC2 dry run,
// that the guardrail is in effect before any access is cut.
const CanaryRoleName = "KillSwitchCanary"

// CanarySnapshotID is the snapshot the canary's dry run names.
const CanarySnapshotID = "snap-0000000000000c0de"

// Canary is what the canary credential calls. It is not part of the bot's
// own permissions (bot-policy): only the canary role may make these calls,
// and only as dry runs.
type Canary interface {
	DeleteSnapshot(ctx context.Context, params *ec2.DeleteSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error)
}

var _ Canary = (*ec2.Client)(nil)
