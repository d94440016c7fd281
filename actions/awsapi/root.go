package awsapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go/middleware"
)

// The task policies of centralised root access that killswitch uses: a
// root session (sts:AssumeRoot) can do nothing else. The audit policy
// allows iam:GetLoginProfile, ListAccessKeys, ListMFADevices,
// ListSigningCertificates, GetAccessKeyLastUsed and GetUser; the delete
// policy allows those and iam:DeleteLoginProfile, DeleteAccessKey,
// DeleteSigningCertificate, DeactivateMFADevice and DeleteVirtualMFADevice.
const (
	TaskAuditRootCredentials  = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
	TaskDeleteRootCredentials = "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
	// RootSessionSeconds is the longest root session AWS issues (15 min).
	RootSessionSeconds = 900
)

// RootSessionService is the service RecordOperations reports for a call
// made in a root session: the task policy, not the bot's policy, decides it.
const RootSessionService = "IAM root session"

// RootTaskActions are the calls each task policy killswitch uses allows
// (AWS managed policies IAMAuditRootUserCredentials and
// IAMDeleteRootUserCredentials).
var RootTaskActions = map[string][]string{
	TaskAuditRootCredentials: {"iam:GetAccessKeyLastUsed", "iam:GetLoginProfile", "iam:GetUser", "iam:ListAccessKeys", "iam:ListMFADevices", "iam:ListSigningCertificates"},
	TaskDeleteRootCredentials: {"iam:DeactivateMFADevice", "iam:DeleteAccessKey", "iam:DeleteLoginProfile", "iam:DeleteSigningCertificate", "iam:DeleteVirtualMFADevice",
		"iam:GetAccessKeyLastUsed", "iam:GetLoginProfile", "iam:GetUser", "iam:ListAccessKeys", "iam:ListMFADevices", "iam:ListSigningCertificates"},
}

type rootSessionKey struct{}

// tagRootSession marks a root session's calls (RecordOperations).
func tagRootSession(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("killswitch.RootSession",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(context.WithValue(ctx, rootSessionKey{}, true), in)
		}), middleware.Before)
}

// RootIAM is what a root session calls. Without a UserName each operation
// acts on the root user itself (AWS: "When you make this request with root
// user credentials, you must use an AssumeRoot session to omit the user
// name").
type RootIAM interface {
	GetLoginProfile(ctx context.Context, params *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	DeleteLoginProfile(ctx context.Context, params *iam.DeleteLoginProfileInput, optFns ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error)
	ListAccessKeys(ctx context.Context, params *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	DeleteAccessKey(ctx context.Context, params *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	ListSigningCertificates(ctx context.Context, params *iam.ListSigningCertificatesInput, optFns ...func(*iam.Options)) (*iam.ListSigningCertificatesOutput, error)
	DeleteSigningCertificate(ctx context.Context, params *iam.DeleteSigningCertificateInput, optFns ...func(*iam.Options)) (*iam.DeleteSigningCertificateOutput, error)
	ListMFADevices(ctx context.Context, params *iam.ListMFADevicesInput, optFns ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
	DeactivateMFADevice(ctx context.Context, params *iam.DeactivateMFADeviceInput, optFns ...func(*iam.Options)) (*iam.DeactivateMFADeviceOutput, error)
	DeleteVirtualMFADevice(ctx context.Context, params *iam.DeleteVirtualMFADeviceInput, optFns ...func(*iam.Options)) (*iam.DeleteVirtualMFADeviceOutput, error)
}

var _ RootIAM = (*iam.Client)(nil)

// RootSessions opens root sessions of member accounts.
type RootSessions interface {
	// Root returns IAM clients acting as target's root user, limited to
	// taskPolicy. The session is minted now (sts:AssumeRoot, so an error
	// such as centralised root access not being enabled surfaces here) and
	// renewed when it expires.
	Root(ctx context.Context, target, taskPolicy string) (RootIAM, error)
}

// rootSessions mints root sessions with the management account's
// responder-role session (its STS client).
type rootSessions struct {
	f   *Factory
	sts STS
}

var _ RootSessions = (*rootSessions)(nil)

func (r *rootSessions) Root(ctx context.Context, target, taskPolicy string) (RootIAM, error) {
	if err := ValidateAccountID(target); err != nil {
		return nil, fmt.Errorf("assume root in %s: %w", target, err)
	}
	if !strings.HasPrefix(taskPolicy, "arn:aws:iam::aws:policy/root-task/") {
		return nil, fmt.Errorf("assume root in %s: %q is not a root task policy", target, taskPolicy)
	}
	c := r.f.configFor(target)
	c.APIOptions = append([]func(*middleware.Stack) error{tagRootSession}, c.APIOptions...)
	c.Credentials = aws.NewCredentialsCache(&rootProvider{sts: r.sts, target: target, task: taskPolicy})
	if _, err := c.Credentials.Retrieve(ctx); err != nil {
		return nil, err
	}
	return iam.NewFromConfig(c), nil
}

// rootProvider is the credentials of a root session. The credentials go
// only to the SDK's signer: never into an error, a log line or a step.
type rootProvider struct {
	sts    STS
	target string
	task   string
}

func (p *rootProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	out, err := p.sts.AssumeRoot(ctx, &sts.AssumeRootInput{
		TargetPrincipal: aws.String(p.target),
		TaskPolicyArn:   &ststypes.PolicyDescriptorType{Arn: aws.String(p.task)},
		DurationSeconds: aws.Int32(RootSessionSeconds),
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("assume root in %s with task policy %s: %w", p.target, p.task[strings.LastIndexByte(p.task, '/')+1:], err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil {
		return aws.Credentials{}, errors.New("assume root in " + p.target + ": the answer carried no credentials")
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          "killswitch AssumeRoot",
		CanExpire:       c.Expiration != nil,
		Expires:         aws.ToTime(c.Expiration),
	}, nil
}
