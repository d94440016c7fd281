package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// The root user of every account and centralised root access
// (sts:AssumeRoot). Semantics modelled, as AWS documents them:
//   - every account has a root user, arn:aws:iam::ACCT:root, with at most a
//     password, two access keys, MFA devices and signing certificates; by
//     default a password and one virtual MFA device;
//   - IAM policies never bind the root user; SCPs bind it in member
//     accounts, never in the management account (authorize.go);
//   - with the Organization's RootCredentialsManagement and RootSessions
//     features on, the management account calls sts:AssumeRoot with a
//     member account id (never the management account's own) and a task
//     policy: the root session can make only the calls the task policy
//     allows, and SCPs bind it like the root user (aws:AssumedRoot is true);
//   - iam:GetAccountSummary reports AccountMFAEnabled,
//     AccountAccessKeysPresent and AccountSigningCertificatesPresent, and
//     not whether the root user has a password (the API reference lists no
//     such key; only a root session's GetLoginProfile tells).

// rootFeatures is the Organization's centralised root access.
type rootFeatures struct{ credentials, sessions bool }

type rootUser struct {
	login *loginProfile
	keys  []*accessKey
	certs []*cred
	mfa   []*mfaDevice
}

type mfaDevice struct {
	serial  string
	virtual bool
	active  bool // assigned to the root user (DeactivateMFADevice unassigns)
	enabled time.Time
}

// Root describes an account's root user for SetRoot.
type Root struct {
	Password            bool
	AccessKeys          []AccessKey // at most 2
	MFA                 int         // virtual MFA devices assigned
	SigningCertificates int
}

// RootState is what an account's root user holds now.
type RootState struct {
	Password            bool
	AccessKeys          []string // ids
	MFA                 []string // serial numbers of assigned devices
	VirtualMFA          []string // serial numbers of virtual devices that exist (assigned or not)
	SigningCertificates []string
}

// The root-task policies and the IAM (or other) actions each allows.
var rootTasks = map[string][]string{
	awsapi.TaskAuditRootCredentials: {"iam:getaccesskeylastused", "iam:getloginprofile", "iam:getuser", "iam:listaccesskeys", "iam:listmfadevices", "iam:listsigningcertificates"},
	awsapi.TaskDeleteRootCredentials: {"iam:getaccesskeylastused", "iam:getloginprofile", "iam:getuser", "iam:listaccesskeys", "iam:listmfadevices", "iam:listsigningcertificates",
		"iam:deactivatemfadevice", "iam:deleteaccesskey", "iam:deleteloginprofile", "iam:deletesigningcertificate", "iam:deletevirtualmfadevice"},
	"arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword": {"iam:createloginprofile", "iam:getloginprofile", "iam:getuser"},
	"arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy":      {"s3:deletebucketpolicy", "s3:getbucketpolicy", "s3:listallmybuckets"},
	"arn:aws:iam::aws:policy/root-task/SQSUnlockQueuePolicy":      {"sqs:getqueueattributes", "sqs:listqueues", "sqs:setqueueattributes"},
}

// taskNeedsSessions: the S3 and SQS unlock tasks are privileged root
// sessions (the RootSessions feature); the IAM credential tasks need
// RootCredentialsManagement.
func taskNeedsSessions(task string) bool {
	return strings.Contains(task, "/root-task/S3") || strings.Contains(task, "/root-task/SQS")
}

func taskAllows(task, action string) bool {
	for _, a := range rootTasks[task] {
		if a == action {
			return true
		}
	}
	return false
}

// rootOf returns a's root user, the default one on first use. Caller holds o.mu.
func (o *Org) rootOf(a *account) *rootUser {
	if a.root == nil {
		a.root = &rootUser{login: &loginProfile{created: a.joined},
			mfa: []*mfaDevice{{serial: "arn:aws:iam::" + a.id + ":mfa/root-account-mfa-device", virtual: true, active: true, enabled: a.joined}}}
	}
	return a.root
}

// SetRoot replaces the credentials of an account's root user.
func (o *Org) SetRoot(acct string, r Root) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return err
	}
	return o.setRootLocked(a, r)
}

func (o *Org) setRootLocked(a *account, r Root) error {
	if len(r.AccessKeys) > maxAccessKeys || r.MFA < 0 || r.MFA > 8 || r.SigningCertificates < 0 || r.SigningCertificates > 2 {
		return fmt.Errorf("root of %s: at most 2 access keys, 8 MFA devices and 2 signing certificates", a.id)
	}
	ru := &rootUser{}
	if r.Password {
		ru.login = &loginProfile{created: a.joined}
	}
	for _, k := range r.AccessKeys {
		id := k.ID
		if id == "" {
			id = o.newAccessKeyID()
		}
		if _, dup := o.keyOwners[id]; dup {
			return fmt.Errorf("root of %s: access key %s exists already", a.id, clip(id))
		}
		o.keyOwners[id] = a.id
		ru.keys = append(ru.keys, &accessKey{credBase: credBase{id: id, active: k.Active, created: orBase(k.Created)}})
	}
	for i := 0; i < r.MFA; i++ {
		ru.mfa = append(ru.mfa, &mfaDevice{serial: fmt.Sprintf("arn:aws:iam::%s:mfa/root-mfa-%d", a.id, i+1), virtual: true, active: true, enabled: a.joined})
	}
	for i := 0; i < r.SigningCertificates; i++ {
		ru.certs = append(ru.certs, &cred{credBase: credBase{id: o.newID("", 32, upperAlnum), active: true, created: a.joined}})
	}
	a.root = ru
	return nil
}

// RootStatus reads back what an account's root user holds.
func (o *Org) RootStatus(acct string) (RootState, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return RootState{}, err
	}
	ru := o.rootOf(a)
	st := RootState{Password: ru.login != nil}
	for _, k := range ru.keys {
		st.AccessKeys = append(st.AccessKeys, k.id)
	}
	for _, m := range ru.mfa {
		if m.active {
			st.MFA = append(st.MFA, m.serial)
		}
		if m.virtual {
			st.VirtualMFA = append(st.VirtualMFA, m.serial)
		}
	}
	for _, c := range ru.certs {
		st.SigningCertificates = append(st.SigningCertificates, c.id)
	}
	return st, nil
}

// EnableCentralRootAccess turns the Organization's centralised root access
// features on or off (iam:EnableOrganizationsRootCredentialsManagement and
// iam:EnableOrganizationsRootSessions, with trusted access for IAM).
func (o *Org) EnableCentralRootAccess(credentials, sessions bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.isOrg {
		return fmt.Errorf("centralised root access needs an Organization: %w", ErrNotFound)
	}
	o.rootAccess = rootFeatures{credentials, sessions}
	return nil
}

// validRootLocked checks a root credential (see Credential).
func (o *Org) validRootLocked(a *account, c Credential) error {
	ru := o.rootOf(a)
	switch {
	case !c.SessionIssued.IsZero():
		return nil
	case c.AccessKeyID != "":
		for _, k := range ru.keys {
			if k.id == c.AccessKeyID {
				if !k.active {
					return denied("", "root access key %s is Inactive", k.id)
				}
				return nil
			}
		}
		return denied("", "access key %s does not exist for the root user of %s", c.AccessKeyID, a.id)
	case ru.login == nil:
		return denied("", "the root user of %s has no password: it cannot sign in", a.id)
	}
	return nil
}

// ---- the bot's read of the account summary and the Organization's features ----

// GetAccountSummary counts the account's IAM entities and says whether the
// root user has MFA, access keys and signing certificates.
func (c *iamClient) GetAccountSummary(ctx context.Context, _ *iam.GetAccountSummaryInput, _ ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error) {
	out := &iam.GetAccountSummaryOutput{}
	return call(ctx, c.c, "IAM", "GetAccountSummary", nil, out, func(a *account) error {
		ru := c.c.o.rootOf(a)
		mfa := 0
		for _, m := range ru.mfa {
			if m.active {
				mfa = 1
			}
		}
		out.SummaryMap = map[string]int32{
			"Users": int32(len(a.users)), "Roles": int32(len(a.roles)), "Groups": int32(len(a.groups)), "Policies": int32(len(a.policies)),
			"AccessKeysPerUserQuota": maxAccessKeys, "SigningCertificatesPerUserQuota": 2,
			"AccountMFAEnabled": int32(mfa), "AccountAccessKeysPresent": b2i(len(ru.keys) > 0), "AccountSigningCertificatesPresent": b2i(len(ru.certs) > 0),
		}
		return nil
	})
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// ListOrganizationsFeatures says which centralised root access features
// the Organization has; only its management account may ask.
func (c *iamClient) ListOrganizationsFeatures(ctx context.Context, _ *iam.ListOrganizationsFeaturesInput, _ ...func(*iam.Options)) (*iam.ListOrganizationsFeaturesOutput, error) {
	out := &iam.ListOrganizationsFeaturesOutput{}
	o := c.c.o
	return call(ctx, c.c, "IAM", "ListOrganizationsFeatures", nil, out, func(a *account) error {
		switch {
		case !o.isOrg || a.left:
			return &types.OrganizationNotFoundException{Message: aws.String("The request was rejected because no organization is associated with your account.")}
		case a.id != o.mgmt:
			return &types.AccountNotManagementOrDelegatedAdministratorException{Message: aws.String("The request was rejected because the account making the request is not the management account or delegated administrator account for centralized root access.")}
		}
		out.OrganizationId = aws.String(o.orgID)
		out.EnabledFeatures = []types.FeatureType{}
		if o.rootAccess.credentials {
			out.EnabledFeatures = append(out.EnabledFeatures, types.FeatureTypeRootCredentialsManagement)
		}
		if o.rootAccess.sessions {
			out.EnabledFeatures = append(out.EnabledFeatures, types.FeatureTypeRootSessions)
		}
		return nil
	})
}

// ---- sts:AssumeRoot ----

func stsDenied(msg string) error {
	return &smithy.GenericAPIError{Code: "AccessDenied", Message: msg, Fault: smithy.FaultClient}
}

// AssumeRoot mints a root session of a member account, limited to a task
// policy. The caller must be in the management account, the Organization
// must have RootSessions enabled, and the target must be a member account.
// The bot's own policies authorize sts:AssumeRoot on the target's root
// with sts:TaskPolicyArn in the request.
func (c *stsClient) AssumeRoot(ctx context.Context, in *sts.AssumeRootInput, _ ...func(*sts.Options)) (*sts.AssumeRootOutput, error) {
	in = orEmpty(in)
	if in.TargetPrincipal == nil || in.TaskPolicyArn == nil || in.TaskPolicyArn.Arn == nil {
		return nil, opErr("STS", "AssumeRoot", required("AssumeRootInput", "TargetPrincipal", "TaskPolicyArn"))
	}
	target := strings.TrimSuffix(strings.TrimPrefix(*in.TargetPrincipal, "arn:aws:iam::"), ":root")
	task := *in.TaskPolicyArn.Arn
	out := &sts.AssumeRootOutput{}
	o := c.c.o
	return call(ctx, c.c, "STS", "AssumeRoot", nil, out, func(a *account) error {
		res := "arn:aws:iam::" + target + ":root"
		err := o.authorizeWithLocked(Credential{Account: c.c.account, Principal: c.c.principal(), SessionIssued: c.c.issued, RootTask: c.c.rootTask}, "sts:AssumeRoot", res,
			func(r *reqCtx) { r.taskPolicy = task })
		switch {
		case err != nil:
			return accessDenied("STS", c.c.principal(), "sts:AssumeRoot", res, err)
		case c.c.rootTask != "":
			return stsDenied("AssumeRoot cannot be called with root user credentials")
		case in.DurationSeconds != nil && (*in.DurationSeconds < 0 || *in.DurationSeconds > awsapi.RootSessionSeconds):
			return validationError("DurationSeconds must be at most 900")
		case rootTasks[task] == nil:
			return validationError("TaskPolicyArn " + clip(task) + " is not a root task policy")
		case !o.isOrg || a.id != o.mgmt:
			return stsDenied("AssumeRoot can be called only from the management account (or the delegated administrator for IAM)")
		case taskNeedsSessions(task) && !o.rootAccess.sessions:
			return stsDenied("centralized root access (RootSessions) is not enabled for the organization")
		case !taskNeedsSessions(task) && !o.rootAccess.credentials:
			return stsDenied("centralized root access (RootCredentialsManagement) is not enabled for the organization")
		case target == o.mgmt:
			return stsDenied("AssumeRoot cannot target the management account")
		}
		t := o.accounts[target]
		if t == nil || t.left {
			return stsDenied("account " + clip(target) + " is not a member of the organization")
		}
		exp := o.now().Add(awsapi.RootSessionSeconds * time.Second)
		out.Credentials = &ststypes.Credentials{AccessKeyId: aws.String("ASIA" + hashID("root/"+target+"/"+task, 16, upperAlnum)),
			SecretAccessKey: aws.String("sim-root-session"), SessionToken: aws.String("sim-root-session"), Expiration: &exp}
		return nil
	})
}

// rootSessions is the simulation's awsapi.RootSessions: AssumeRoot through
// the bot's session in its account, then IAM clients of the root session.
type rootSessions struct{ c *conn }

var _ awsapi.RootSessions = (*rootSessions)(nil)

func (r *rootSessions) Root(ctx context.Context, target, task string) (awsapi.RootIAM, error) {
	if _, err := (&stsClient{r.c}).AssumeRoot(ctx, &sts.AssumeRootInput{TargetPrincipal: aws.String(target),
		TaskPolicyArn: &ststypes.PolicyDescriptorType{Arn: aws.String(task)}, DurationSeconds: aws.Int32(awsapi.RootSessionSeconds)}); err != nil {
		return nil, fmt.Errorf("assume root in %s with task policy %s: %w", target, policyName(task), err)
	}
	o := r.c.o
	o.mu.Lock()
	issued := o.now()
	o.mu.Unlock()
	return &rootIAM{&conn{o: o, account: target, session: r.c.session, issued: issued, rootTask: task}}, nil
}

// rootIAM is IAM as a root session: every call acts on the root user.
type rootIAM struct{ c *conn }

var _ awsapi.RootIAM = (*rootIAM)(nil)

func (c *rootIAM) root(a *account) string { return "arn:aws:iam::" + a.id + ":root" }

// onRoot runs op on the root user; a UserName is refused (the task
// policies cover the root user only).
func onRoot[O any](ctx context.Context, c *rootIAM, op string, user *string, out *O, fn func(a *account, ru *rootUser) error) (*O, error) {
	return call(ctx, c.c, "IAM", op, c.root, out, func(a *account) error {
		if aws.ToString(user) != "" {
			return accessDenied("IAM", c.c.principal(), "iam:"+op, iamARN(a.id, "user", "/", *user), fmt.Errorf("a root session acts on the root user only"))
		}
		return fn(a, c.c.o.rootOf(a))
	})
}

func (c *rootIAM) GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, _ ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	in = orEmpty(in)
	out := &iam.GetLoginProfileOutput{}
	return onRoot(ctx, c, "GetLoginProfile", in.UserName, out, func(a *account, ru *rootUser) error {
		if ru.login == nil {
			return noSuchEntity("Login Profile for User root cannot be found.")
		}
		out.LoginProfile = &types.LoginProfile{CreateDate: aws.Time(ru.login.created), UserName: aws.String("root")}
		return nil
	})
}

func (c *rootIAM) DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, _ ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	in = orEmpty(in)
	return onRoot(ctx, c, "DeleteLoginProfile", in.UserName, &iam.DeleteLoginProfileOutput{}, func(a *account, ru *rootUser) error {
		if ru.login == nil {
			return noSuchEntity("Login Profile for User root cannot be found.")
		}
		ru.login = nil
		return nil
	})
}

func (c *rootIAM) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	in = orEmpty(in)
	out := &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{}}
	return onRoot(ctx, c, "ListAccessKeys", in.UserName, out, func(a *account, ru *rootUser) error {
		for _, k := range ru.keys {
			st := types.StatusTypeInactive
			if k.active {
				st = types.StatusTypeActive
			}
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{AccessKeyId: aws.String(k.id), Status: st, CreateDate: aws.Time(k.created)})
		}
		return nil
	})
}

func (c *rootIAM) DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	in = orEmpty(in)
	if in.AccessKeyId == nil {
		return nil, opErr("IAM", "DeleteAccessKey", required("DeleteAccessKeyInput", "AccessKeyId"))
	}
	return onRoot(ctx, c, "DeleteAccessKey", in.UserName, &iam.DeleteAccessKeyOutput{}, func(a *account, ru *rootUser) error {
		for i, k := range ru.keys {
			if k.id == *in.AccessKeyId {
				ru.keys = append(ru.keys[:i:i], ru.keys[i+1:]...)
				delete(c.c.o.keyOwners, k.id)
				return nil
			}
		}
		return noSuchEntity("The Access Key with id %s cannot be found.", *in.AccessKeyId)
	})
}

func (c *rootIAM) ListSigningCertificates(ctx context.Context, in *iam.ListSigningCertificatesInput, _ ...func(*iam.Options)) (*iam.ListSigningCertificatesOutput, error) {
	in = orEmpty(in)
	out := &iam.ListSigningCertificatesOutput{Certificates: []types.SigningCertificate{}}
	return onRoot(ctx, c, "ListSigningCertificates", in.UserName, out, func(a *account, ru *rootUser) error {
		for _, k := range ru.certs {
			out.Certificates = append(out.Certificates, types.SigningCertificate{CertificateId: aws.String(k.id), Status: types.StatusTypeActive,
				UploadDate: aws.Time(k.created), CertificateBody: aws.String("-----BEGIN CERTIFICATE-----"), UserName: aws.String("root")})
		}
		return nil
	})
}

func (c *rootIAM) DeleteSigningCertificate(ctx context.Context, in *iam.DeleteSigningCertificateInput, _ ...func(*iam.Options)) (*iam.DeleteSigningCertificateOutput, error) {
	in = orEmpty(in)
	if in.CertificateId == nil {
		return nil, opErr("IAM", "DeleteSigningCertificate", required("DeleteSigningCertificateInput", "CertificateId"))
	}
	return onRoot(ctx, c, "DeleteSigningCertificate", in.UserName, &iam.DeleteSigningCertificateOutput{}, func(a *account, ru *rootUser) error {
		for i, k := range ru.certs {
			if k.id == *in.CertificateId {
				ru.certs = append(ru.certs[:i:i], ru.certs[i+1:]...)
				return nil
			}
		}
		return noSuchEntity("The Certificate with id %s cannot be found.", *in.CertificateId)
	})
}

func (c *rootIAM) ListMFADevices(ctx context.Context, in *iam.ListMFADevicesInput, _ ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error) {
	in = orEmpty(in)
	out := &iam.ListMFADevicesOutput{MFADevices: []types.MFADevice{}}
	return onRoot(ctx, c, "ListMFADevices", in.UserName, out, func(a *account, ru *rootUser) error {
		for _, m := range ru.mfa {
			if m.active {
				out.MFADevices = append(out.MFADevices, types.MFADevice{SerialNumber: aws.String(m.serial), EnableDate: aws.Time(m.enabled), UserName: aws.String("root")})
			}
		}
		return nil
	})
}

func (c *rootIAM) DeactivateMFADevice(ctx context.Context, in *iam.DeactivateMFADeviceInput, _ ...func(*iam.Options)) (*iam.DeactivateMFADeviceOutput, error) {
	in = orEmpty(in)
	if in.SerialNumber == nil {
		return nil, opErr("IAM", "DeactivateMFADevice", required("DeactivateMFADeviceInput", "SerialNumber"))
	}
	return onRoot(ctx, c, "DeactivateMFADevice", in.UserName, &iam.DeactivateMFADeviceOutput{}, func(a *account, ru *rootUser) error {
		for i, m := range ru.mfa {
			if m.serial == *in.SerialNumber && m.active {
				m.active = false
				if !m.virtual { // a hardware device is only unassigned: it is gone from the account
					ru.mfa = append(ru.mfa[:i:i], ru.mfa[i+1:]...)
				}
				return nil
			}
		}
		return noSuchEntity("MFA Device with serial number %s does not exist.", *in.SerialNumber)
	})
}

func (c *rootIAM) DeleteVirtualMFADevice(ctx context.Context, in *iam.DeleteVirtualMFADeviceInput, _ ...func(*iam.Options)) (*iam.DeleteVirtualMFADeviceOutput, error) {
	in = orEmpty(in)
	if in.SerialNumber == nil {
		return nil, opErr("IAM", "DeleteVirtualMFADevice", required("DeleteVirtualMFADeviceInput", "SerialNumber"))
	}
	return onRoot(ctx, c, "DeleteVirtualMFADevice", nil, &iam.DeleteVirtualMFADeviceOutput{}, func(a *account, ru *rootUser) error {
		for i, m := range ru.mfa {
			if m.serial == *in.SerialNumber && m.virtual {
				if m.active {
					return &types.DeleteConflictException{Message: aws.String("MFA VirtualDevice in use. Must deactivate first.")}
				}
				ru.mfa = append(ru.mfa[:i:i], ru.mfa[i+1:]...)
				return nil
			}
		}
		return noSuchEntity("VirtualMFADevice with serial number %s doesn't exist.", *in.SerialNumber)
	})
}

// rootCredLocked is a credential an intruder who stole the root user's
// password or access key signs in with: the password when there is one,
// else an active access key (false when neither).
func (o *Org) rootCredLocked(a *account) (Credential, string, bool) {
	ru := o.rootOf(a)
	arn := "arn:aws:iam::" + a.id + ":root"
	if ru.login != nil {
		return Credential{Account: a.id, Principal: arn, Console: true}, "its stolen console password", true
	}
	keys := append([]*accessKey(nil), ru.keys...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].id < keys[j].id })
	for _, k := range keys {
		if k.active {
			return Credential{Account: a.id, Principal: arn, AccessKeyID: k.id}, "its leaked access key " + k.id[:4] + "…" + k.id[len(k.id)-4:], true
		}
	}
	return Credential{}, "", false
}

// buildRootsLocked applies a file's root_access and accounts' root.
func (o *Org) buildRootsLocked(s *spec) error {
	if s.RootAccess != nil {
		if !s.Organization {
			return fmt.Errorf("root_access needs organization: true")
		}
		o.rootAccess = rootFeatures{s.RootAccess.CredentialsManagement, s.RootAccess.RootSessions}
	}
	for i, sa := range s.Accounts {
		if sa.Root == nil {
			continue
		}
		r := Root{Password: sa.Root.Password, MFA: sa.Root.MFA, SigningCertificates: sa.Root.SigningCertificates}
		for _, k := range sa.Root.AccessKeys {
			r.AccessKeys = append(r.AccessKeys, AccessKey{ID: k.ID, Active: k.Active == nil || *k.Active, Created: k.Created})
		}
		if err := o.setRootLocked(o.accounts[sa.ID], r); err != nil {
			return fmt.Errorf("accounts[%d] (%s): root: %w", i, sa.ID, err)
		}
	}
	return nil
}
