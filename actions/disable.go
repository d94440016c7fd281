package actions

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// creds is a user's credentials as read live.
type creds struct {
	loginProfile bool
	keys         []iamtypes.AccessKeyMetadata
	ssh          []iamtypes.SSHPublicKeyMetadata
	svc          []iamtypes.ServiceSpecificCredentialMetadata
}

func (a *acct) loginProfile(ctx context.Context, u *principal) (bool, *iamtypes.LoginProfile, error) {
	var out *iam.GetLoginProfileOutput
	err := a.call("IAM", "GetLoginProfile", u.arn, func() (err error) {
		out, err = a.c.IAM.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(u.name)})
		return err
	})
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("get login profile of user %q in %s: %w", u.name, a.id, err)
	}
	return true, out.LoginProfile, nil
}

func (a *acct) accessKeys(ctx context.Context, u *principal) ([]iamtypes.AccessKeyMetadata, error) {
	var keys []iamtypes.AccessKeyMetadata
	var marker *string
	for {
		var out *iam.ListAccessKeysOutput
		if err := a.call("IAM", "ListAccessKeys", u.arn, func() (err error) {
			out, err = a.c.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u.name), Marker: marker})
			return err
		}); err != nil {
			return nil, fmt.Errorf("list access keys of user %q in %s: %w", u.name, a.id, err)
		}
		keys = append(keys, out.AccessKeyMetadata...)
		if !out.IsTruncated || out.Marker == nil {
			return keys, nil
		}
		marker = out.Marker
	}
}

// readCreds reads what it can of u's credentials: every read that fails is
// in errs and the others are still read, so what could be read can still be
// cut. When IAM answers that the user does not exist (deleted since it was
// listed) it stops and returns no credentials.
func (a *acct) readCreds(ctx context.Context, u *principal) (cr *creds, errs []error) {
	cr = &creds{}
	// failed notes a read error; it reports whether to stop reading.
	failed := func(err error) bool {
		errs = append(errs, err)
		return noSuchEntity(err) || ctx.Err() != nil
	}
	var err error
	if cr.loginProfile, _, err = a.loginProfile(ctx, u); err != nil && failed(err) {
		return nil, errs
	}
	if cr.keys, err = a.accessKeys(ctx, u); err != nil && failed(err) {
		return nil, errs
	}
	var marker *string
	for {
		var out *iam.ListSSHPublicKeysOutput
		if err := a.call("IAM", "ListSSHPublicKeys", u.arn, func() (err error) {
			out, err = a.c.IAM.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String(u.name), Marker: marker})
			return err
		}); err != nil {
			if failed(fmt.Errorf("list SSH public keys of user %q in %s: %w", u.name, a.id, err)) {
				return nil, errs
			}
			break
		}
		cr.ssh = append(cr.ssh, out.SSHPublicKeys...)
		if !out.IsTruncated || out.Marker == nil {
			break
		}
		marker = out.Marker
	}
	var svc *iam.ListServiceSpecificCredentialsOutput
	if err := a.call("IAM", "ListServiceSpecificCredentials", u.arn, func() (err error) {
		svc, err = a.c.IAM.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(u.name)})
		return err
	}); err != nil {
		if failed(fmt.Errorf("list service-specific credentials of user %q in %s: %w", u.name, a.id, err)) {
			return nil, errs
		}
	} else {
		cr.svc = svc.ServiceSpecificCredentials
	}
	return cr, errs
}

// buildDisableUsers cuts every long-term credential of every non-exempt
// user. A user whose credentials cannot all be read is reported by name;
// what could be read of it is still cut, and every other user is too.
func (a *acct) buildDisableUsers(ctx context.Context) (*work, error) {
	inv, err := a.inventory(ctx, true, false, false)
	if err != nil {
		return nil, err
	}
	w := &work{}
	c := a.c.IAM
	for _, u := range a.sortOut(inv.users, w) {
		cr, errs := a.readCreds(ctx, u)
		for _, err := range errs {
			if err := w.skip(ctx, u, err); err != nil {
				return nil, err
			}
		}
		if cr == nil {
			continue // deleted since it was listed
		}
		u := u
		base := Step{Action: DisableUsers, Account: a.id, Principal: u.arn}
		if cr.loginProfile {
			s := base
			s.Op, s.Resource, s.Prior = opDeleteLoginProfile, u.name, "login profile"
			s.Change = "delete login profile"
			w.add(s, func(ctx context.Context, s *Step) error {
				return a.call("IAM", "DeleteLoginProfile", u.arn, func() error {
					_, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(u.name)})
					var nse *iamtypes.NoSuchEntityException
					if errors.As(err, &nse) {
						return nil
					}
					return wrapEntity(err, "delete login profile of user %q", u.name)
				})
			})
		}
		for _, c := range cr.active() {
			c := c
			s := base
			s.Op, s.Resource, s.Prior, s.Reversible, s.Change = c.op, c.id, string(iamtypes.StatusTypeActive), true, c.change
			w.add(s, func(ctx context.Context, s *Step) error {
				return gone(a.setCredStatus(ctx, c.op, u.name, u.arn, c.id, iamtypes.StatusTypeInactive), fmt.Sprintf("user %q or its credential %s", u.name, mask(c.id)))
			})
		}
	}
	return w, nil
}

// credential is one active long-term credential of a user.
type credential struct {
	op     string // the op that deactivates it
	id     string
	change string
}

// active lists the user's active access keys, SSH public keys and
// service-specific credentials.
func (cr *creds) active() []credential {
	var out []credential
	for _, k := range cr.keys {
		if k.Status == iamtypes.StatusTypeActive {
			id := aws.ToString(k.AccessKeyId)
			out = append(out, credential{opDeactivateKey, id, "deactivate key " + mask(id)})
		}
	}
	for _, k := range cr.ssh {
		if k.Status == iamtypes.StatusTypeActive {
			id := aws.ToString(k.SSHPublicKeyId)
			out = append(out, credential{opDeactivateSSH, id, "deactivate SSH public key " + id})
		}
	}
	for _, k := range cr.svc {
		if k.Status == iamtypes.StatusTypeActive {
			id := aws.ToString(k.ServiceSpecificCredentialId)
			out = append(out, credential{opDeactivateSvcCred, id, fmt.Sprintf("deactivate %s credential %s", aws.ToString(k.ServiceName), id)})
		}
	}
	return out
}

// setCredStatus sets the status of the credential an op deactivates.
func (a *acct) setCredStatus(ctx context.Context, op, user, arn, id string, st iamtypes.StatusType) error {
	switch op {
	case opDeactivateKey, opCreateReplacementAK:
		return a.setKeyStatus(ctx, user, arn, id, st)
	case opDeactivateSSH:
		return a.setSSHStatus(ctx, user, arn, id, st)
	case opDeactivateSvcCred:
		return a.setSvcStatus(ctx, user, arn, id, st)
	}
	return fmt.Errorf("no credential for op %s", op)
}

func (a *acct) setKeyStatus(ctx context.Context, user, arn, id string, st iamtypes.StatusType) error {
	return a.call("IAM", "UpdateAccessKey", arn, func() error {
		_, err := a.c.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: st})
		return wrapEntity(err, "set access key %s of user %q to %s", mask(id), user, st)
	})
}

func (a *acct) setSSHStatus(ctx context.Context, user, arn, id string, st iamtypes.StatusType) error {
	return a.call("IAM", "UpdateSSHPublicKey", arn, func() error {
		_, err := a.c.IAM.UpdateSSHPublicKey(ctx, &iam.UpdateSSHPublicKeyInput{UserName: aws.String(user), SSHPublicKeyId: aws.String(id), Status: st})
		return wrapEntity(err, "set SSH public key %s of user %q to %s", id, user, st)
	})
}

func (a *acct) setSvcStatus(ctx context.Context, user, arn, id string, st iamtypes.StatusType) error {
	return a.call("IAM", "UpdateServiceSpecificCredential", arn, func() error {
		_, err := a.c.IAM.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String(user), ServiceSpecificCredentialId: aws.String(id), Status: st})
		return wrapEntity(err, "set service-specific credential %s of user %q to %s", id, user, st)
	})
}
