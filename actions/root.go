package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// The root user: its status in find-backdoors and in the plans of lockdown
// and remove-root-credentials, and remove-root-credentials itself, through
// centralised root access (sts:AssumeRoot from the management account with
// a task policy). IAM policies never bind the root user, so nothing else
// killswitch does touches it; the guardrail SCP binds a member account's
// root user, never the management account's.

// RemoveRootCredentials is the action's name.
const RemoveRootCredentials = "remove-root-credentials"

// Step ops of remove-root-credentials: none can be undone.
const (
	opDeleteRootPassword   = "delete-root-login-profile"
	opDeleteRootAccessKey  = "delete-root-access-key"
	opDeleteRootSigningCrt = "delete-root-signing-certificate"
	opDeactivateRootMFA    = "deactivate-root-mfa-device"
	opDeleteRootVirtualMFA = "delete-root-virtual-mfa-device"
)

var costRootCredentials = "each member account's root user loses its password, access keys, signing certificates and MFA devices for good: signing in as root needs a password recovery (the root password reset, or IAMCreateRootUserPassword from the management account)"

var removeRootInfo = Info{Name: RemoveRootCredentials, Mutating: true, Reversible: false, ExtraApprovals: 1,
	Summary: "Organization member accounts only: through centralised root access (sts:AssumeRoot from the management account with the task policy IAMDeleteRootUserCredentials), delete the root user's console password, access keys and signing certificates, and deactivate and delete its MFA devices; it cannot be undone, so it needs one approval more than approval.required. The management account and standalone accounts are refused: there only the account owner can contain root",
	Undo:    "cannot be undone: deleted root passwords, access keys, signing certificates and MFA devices never come back; a new root password comes from the root password reset or from the management account with the task policy IAMCreateRootUserPassword",
	Costs:   []string{costRootCredentials}}

func init() { catalog = append(catalog, removeRootInfo) }

// rootARN is the account's root user.
func rootARN(id string) string { return "arn:aws:iam::" + id + ":root" }

// ownerOnly says what only the owner of a management or standalone
// account can do about its root user.
func ownerOnly(a *acct) string {
	why := "it is standalone (in no Organization), so there is no centralised root access for it"
	if a.kind == KindManagement {
		why = "it is the Organization's management account: sts:AssumeRoot cannot target it and no SCP binds its root user"
	}
	return fmt.Sprintf("root user of %s: nothing but the account owner can contain it (%s; IAM policies never bind root, and lockdown does not touch it): "+
		"sign in as root with the account's email address and password, delete the root access keys and signing certificates, change the root password and assign MFA", a.id, why)
}

// standaloneRefusal and managementRefusal are why remove-root-credentials
// refuses those accounts.
func standaloneRefusal(a *acct) string {
	return fmt.Sprintf("refused for %s: the account is standalone (in no Organization), so nothing but the account owner can contain its root user. "+
		"The owner signs in as root (the account's email address and password), deletes the root access keys and signing certificates, changes the root password and assigns MFA; "+
		"or the account joins an Organization with centralised root access enabled, and this action can then remove them", a.id)
}

func managementRefusal(a *acct) string {
	return fmt.Sprintf("refused for %s: it is the Organization's management account, which sts:AssumeRoot cannot target (and no SCP binds its root user), so nothing but the account owner can contain its root user: "+
		"sign in as root, delete the root access keys and signing certificates, change the root password and assign MFA", a.id)
}

// notEnabled says how to turn centralised root access on.
func notEnabled(mgmt string, enabled []iamtypes.FeatureType) string {
	have := "none"
	if len(enabled) > 0 {
		var s []string
		for _, f := range enabled {
			s = append(s, string(f))
		}
		have = strings.Join(s, ", ")
	}
	return fmt.Sprintf("centralised root access (RootCredentialsManagement) is not enabled for the Organization (enabled: %s), so the root user of a member account cannot be read or contained through sts:AssumeRoot. "+
		"Enable it from the management account %s: `aws organizations enable-aws-service-access --service-principal iam.amazonaws.com`, then `aws iam enable-organizations-root-credentials-management` (and `aws iam enable-organizations-root-sessions`), and plan again", have, mgmt)
}

// rootRead is what could be learnt of an account's root user.
type rootRead struct {
	summary map[string]int32 // GetAccountSummary; nil when it failed
	// through a root session (members with centralised root access)
	session  bool
	password bool
	keys     []iamtypes.AccessKeyMetadata
	mfa      []iamtypes.MFADevice
	certs    []iamtypes.SigningCertificate
	notes    []string // what could not be read, and why
}

// readRoot reads the root user's status: the account summary, and for a
// member account the credentials themselves through a root session with
// task (the audit policy for a plan).
func (a *acct) readRoot(ctx context.Context, task string) *rootRead {
	st := &rootRead{}
	var sum *iam.GetAccountSummaryOutput
	if err := a.call("IAM", "GetAccountSummary", rootARN(a.id), func() (err error) {
		sum, err = a.c.IAM.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
		return err
	}); err != nil {
		st.notes = append(st.notes, fmt.Sprintf("root user of %s: the account summary could not be read: %s", a.id, errorText(err)))
	} else {
		st.summary = sum.SummaryMap
	}
	if a.kind != KindMember {
		return st
	}
	rs, err := a.rootSession(ctx, task)
	if err != nil {
		st.notes = append(st.notes, fmt.Sprintf("root user of %s: %s", a.id, errorText(err)))
		return st
	}
	if err := st.readSession(ctx, a, rs); err != nil {
		st.notes = append(st.notes, fmt.Sprintf("root user of %s: %s", a.id, errorText(err)))
		return st
	}
	st.session = true
	return st
}

// errNotEnabled: centralised root access is off; its text says how to
// turn it on.
type errNotEnabled struct{ msg string }

func (e *errNotEnabled) Error() string { return e.msg }

// rootSession opens a root session of member account a with task, through
// the management account's responder role.
func (a *acct) rootSession(ctx context.Context, task string) (awsapi.RootIAM, error) {
	mg, err := a.e.management(ctx, nil, a)
	if err != nil {
		return nil, fmt.Errorf("open the management account %s: %w", a.mgmtID, err)
	}
	if mg.c.Root == nil {
		return nil, fmt.Errorf("no root sessions can be opened from the management account %s", mg.id)
	}
	var feat *iam.ListOrganizationsFeaturesOutput
	if err := mg.call("IAM", "ListOrganizationsFeatures", "", func() (err error) {
		feat, err = mg.c.IAM.ListOrganizationsFeatures(ctx, &iam.ListOrganizationsFeaturesInput{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("read centralised root access from %s: %w", mg.id, err)
	}
	if !slices.Contains(feat.EnabledFeatures, iamtypes.FeatureTypeRootCredentialsManagement) {
		return nil, &errNotEnabled{notEnabled(mg.id, feat.EnabledFeatures)}
	}
	var rs awsapi.RootIAM
	err = mg.call("STS", "AssumeRoot", rootARN(a.id), func() (err error) {
		rs, err = mg.c.Root.Root(ctx, a.id, task)
		return err
	})
	return rs, err
}

// readSession reads the root user's credentials (each at most a few: one
// page).
func (st *rootRead) readSession(ctx context.Context, a *acct, rs awsapi.RootIAM) error {
	root := rootARN(a.id)
	err := a.call("IAM", "GetLoginProfile", root, func() error {
		_, err := rs.GetLoginProfile(ctx, &iam.GetLoginProfileInput{})
		return err
	})
	switch {
	case noSuchEntity(err):
	case err != nil:
		return fmt.Errorf("get the root login profile: %w", err)
	default:
		st.password = true
	}
	if err := a.call("IAM", "ListAccessKeys", root, func() error {
		out, err := rs.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
		if err == nil {
			st.keys = out.AccessKeyMetadata
		}
		return err
	}); err != nil {
		return fmt.Errorf("list the root access keys: %w", err)
	}
	if err := a.call("IAM", "ListMFADevices", root, func() error {
		out, err := rs.ListMFADevices(ctx, &iam.ListMFADevicesInput{})
		if err == nil {
			st.mfa = out.MFADevices
		}
		return err
	}); err != nil {
		return fmt.Errorf("list the root MFA devices: %w", err)
	}
	return a.call("IAM", "ListSigningCertificates", root, func() error {
		out, err := rs.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{})
		if err == nil {
			st.certs = out.Certificates
		}
		return wrapEntity(err, "list the root signing certificates")
	})
}

// status is the root user's status, one line a fact.
func (st *rootRead) status() []string {
	var out []string
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	sum := func(key string) (bool, bool) {
		v, ok := st.summary[key]
		return v > 0, ok && st.summary != nil
	}
	switch {
	case st.session:
		out = append(out, "root console password: "+yes(st.password))
		keys := []string{}
		for _, k := range st.keys {
			keys = append(keys, fmt.Sprintf("%s (%s)", mask(aws.ToString(k.AccessKeyId)), k.Status))
		}
		out = append(out, fmt.Sprintf("root access keys: %d %s", len(st.keys), strings.Join(keys, ", ")))
		out = append(out, fmt.Sprintf("root MFA: %s (%d device(s))", yes(len(st.mfa) > 0), len(st.mfa)))
		out = append(out, fmt.Sprintf("root signing certificates: %d", len(st.certs)))
		return trimAll(out)
	case st.summary == nil:
		return nil
	}
	if v, ok := sum(string(iamtypes.SummaryKeyTypeAccountPasswordPresent)); ok {
		out = append(out, "root console password: "+yes(v))
	} else {
		out = append(out, "root console password: not known (the account summary does not say; only a root session or the credential report does)")
	}
	k, _ := sum(string(iamtypes.SummaryKeyTypeAccountAccessKeysPresent))
	m, _ := sum(string(iamtypes.SummaryKeyTypeAccountMFAEnabled))
	c, _ := sum(string(iamtypes.SummaryKeyTypeAccountSigningCertificatesPresent))
	return append(out, "root access keys: "+yes(k), "root MFA: "+yes(m), "root signing certificates: "+yes(c))
}

func trimAll(xs []string) []string {
	for i := range xs {
		xs[i] = strings.TrimSpace(xs[i])
	}
	return xs
}

// hasKeys and hasMFA are what the plans warn about.
func (st *rootRead) hasKeys() bool {
	if st.session {
		return len(st.keys) > 0
	}
	return st.summary[string(iamtypes.SummaryKeyTypeAccountAccessKeysPresent)] > 0
}

func (st *rootRead) noMFA() bool {
	if st.session {
		return len(st.mfa) == 0
	}
	return st.summary != nil && st.summary[string(iamtypes.SummaryKeyTypeAccountMFAEnabled)] == 0
}

// warnings are the plan's lines about the root user of a.
func (st *rootRead) warnings(a *acct) []string {
	out := append([]string(nil), st.notes...)
	if s := st.status(); len(s) > 0 {
		out = append(out, fmt.Sprintf("root user of %s: %s", a.id, strings.Join(s, "; ")))
	}
	fix := "remove-root-credentials removes them (one approval more than approval.required; it cannot be undone)"
	if a.kind != KindMember {
		fix = "only the account owner can remove them"
	}
	if st.hasKeys() {
		out = append(out, fmt.Sprintf("the root user of %s has access keys: no IAM policy binds them and lockdown does not cut them; %s", a.id, fix))
	}
	if st.noMFA() {
		out = append(out, fmt.Sprintf("the root user of %s has no MFA: a stolen root password is enough to sign in", a.id))
	}
	if a.kind != KindMember {
		out = append(out, ownerOnly(a))
	}
	return out
}

// rootFindings adds the root user's status to find-backdoors' findings.
func (a *acct) rootFindings(ctx context.Context, w *work) {
	st := a.readRoot(ctx, awsapi.TaskAuditRootCredentials)
	w.warnings = append(w.warnings, st.notes...)
	if s := st.status(); len(s) > 0 {
		w.findings = append(w.findings, Target{Principal: rootARN(a.id), Changes: s})
	}
	if a.kind != KindMember {
		w.warnings = append(w.warnings, ownerOnly(a))
	}
}

// planRoot adds the root users' status to a lockdown plan.
func (e *Engine) planRoot(ctx context.Context, accts []*acct, plan *Plan) {
	lines := make([][]string, len(accts))
	e.forEach(ctx, len(accts), func(ctx context.Context, i int) {
		if accts[i] != nil {
			lines[i] = accts[i].readRoot(ctx, awsapi.TaskAuditRootCredentials).warnings(accts[i])
		}
	})
	for i := range accts {
		plan.Accounts[i].Warnings = append(plan.Accounts[i].Warnings, lines[i]...)
	}
}

// buildRemoveRoot plans the removal of a member account's root
// credentials; the changes are made through a root session with the
// delete task policy, opened at the first change (a plan never opens one).
func (a *acct) buildRemoveRoot(ctx context.Context) (*work, error) {
	switch a.kind {
	case KindStandalone:
		return nil, errors.New(standaloneRefusal(a))
	case KindManagement:
		return nil, errors.New(managementRefusal(a))
	}
	st := &rootRead{}
	rs, err := a.rootSession(ctx, awsapi.TaskAuditRootCredentials)
	if err != nil {
		return nil, err
	}
	if err := st.readSession(ctx, a, rs); err != nil {
		return nil, fmt.Errorf("root user of %s: %w", a.id, err)
	}
	st.session = true
	w := &work{warnings: []string{fmt.Sprintf("root user of %s: %s", a.id, strings.Join(st.status(), "; "))}}
	var once sync.Once
	var del awsapi.RootIAM
	var delErr error
	session := func(ctx context.Context) (awsapi.RootIAM, error) {
		once.Do(func() { del, delErr = a.rootSession(ctx, awsapi.TaskDeleteRootCredentials) })
		return del, delErr
	}
	root := rootARN(a.id)
	add := func(op, api, res, change string, f func(ctx context.Context, rs awsapi.RootIAM) error) {
		w.add(Step{Action: RemoveRootCredentials, Account: a.id, Principal: root, Op: op, Resource: res, Change: change},
			func(ctx context.Context, s *Step) error {
				rs, err := session(ctx)
				if err != nil {
					return err
				}
				err = a.call("IAM", api, root, func() error { return f(ctx, rs) })
				if noSuchEntity(err) {
					return nil // gone already
				}
				return wrapEntity(err, "%s of %s", change, a.id)
			})
	}
	for _, k := range st.keys { // keys first: they work from anywhere, without MFA
		id := aws.ToString(k.AccessKeyId)
		add(opDeleteRootAccessKey, "DeleteAccessKey", id, fmt.Sprintf("delete root access key %s (%s)", mask(id), k.Status), func(ctx context.Context, rs awsapi.RootIAM) error {
			_, err := rs.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(id)})
			return err
		})
	}
	if st.password {
		add(opDeleteRootPassword, "DeleteLoginProfile", "root", "delete the root user's console password", func(ctx context.Context, rs awsapi.RootIAM) error {
			_, err := rs.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{})
			return err
		})
	}
	for _, c := range st.certs {
		id := aws.ToString(c.CertificateId)
		add(opDeleteRootSigningCrt, "DeleteSigningCertificate", id, "delete root signing certificate "+id, func(ctx context.Context, rs awsapi.RootIAM) error {
			_, err := rs.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{CertificateId: aws.String(id)})
			return err
		})
	}
	for _, m := range st.mfa { // MFA last: it still guards the password if a deletion above failed
		serial := aws.ToString(m.SerialNumber)
		add(opDeactivateRootMFA, "DeactivateMFADevice", serial, "deactivate root MFA device "+serial, func(ctx context.Context, rs awsapi.RootIAM) error {
			_, err := rs.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{SerialNumber: aws.String(serial)})
			return err
		})
		if strings.HasPrefix(serial, "arn:") { // a virtual device's serial is its ARN
			add(opDeleteRootVirtualMFA, "DeleteVirtualMFADevice", serial, "delete root virtual MFA device "+serial, func(ctx context.Context, rs awsapi.RootIAM) error {
				_, err := rs.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
				return err
			})
		}
	}
	if len(w.ops) == 0 {
		w.warnings = append(w.warnings, fmt.Sprintf("the root user of %s has no password, access keys, signing certificates or MFA devices: nothing to remove", a.id))
	}
	return w, nil
}

// rootIrreversible is what undo reports for a step of
// remove-root-credentials.
func rootIrreversible(s Step) (string, bool) {
	switch s.Op {
	case opDeleteRootPassword:
		return fmt.Sprintf("the console password of the root user of %s was deleted and cannot come back: if root sign-in is needed, recover it with the root password reset on the sign-in page, or from the management account with `aws sts assume-root --target-principal %s --task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword` and `aws iam create-login-profile`", s.Account, s.Account), true
	case opDeleteRootAccessKey:
		return fmt.Sprintf("root access key %s of %s was deleted and cannot come back (the root user should have none)", mask(s.Resource), s.Account), true
	case opDeleteRootSigningCrt:
		return fmt.Sprintf("root signing certificate %s of %s was deleted and cannot come back", s.Resource, s.Account), true
	case opDeactivateRootMFA, opDeleteRootVirtualMFA:
		return fmt.Sprintf("root MFA device %s of %s was removed and cannot come back: whoever signs in as root next registers MFA again", s.Resource, s.Account), true
	}
	return "", false
}
