package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Where rotate-keys stores a replacement key: a Secrets Manager secret in the
// user's own account and the configured region, tagged with the request and
// the new key's id (an identifier, not secret material).
const (
	SecretPrefix  = "killswitch/rotated-keys/"
	tagRequest    = "killswitch:request"
	tagAccessKey  = "killswitch:access-key-id"
	maxAccessKeys = 2 // IAM's limit per user
)

// SecretName is the Secrets Manager name of a user's replacement key.
func SecretName(user string) string { return SecretPrefix + user }

// rotatedIn returns the replacement key id if this request already rotated
// the user's key (so a second Apply, or a resumed one, does not rotate again).
func (a *acct) rotatedIn(ctx context.Context, user, reqID string) (string, error) {
	if reqID == "" {
		return "", nil
	}
	var out *secretsmanager.DescribeSecretOutput
	err := a.call("SecretsManager", "DescribeSecret", SecretName(user), func() (err error) {
		out, err = a.c.SecretsManager.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(SecretName(user))})
		return err
	})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("describe secret %s in %s: %w", SecretName(user), a.id, err)
	}
	var req, key string
	for _, t := range out.Tags {
		switch aws.ToString(t.Key) {
		case tagRequest:
			req = aws.ToString(t.Value)
		case tagAccessKey:
			key = aws.ToString(t.Value)
		}
	}
	if req == reqID {
		return key, nil
	}
	return "", nil
}

func (a *acct) buildRotateKeys(ctx context.Context, opt Options) (*work, error) {
	inv, err := a.inventory(ctx, true, false, false)
	if err != nil {
		return nil, err
	}
	w := &work{}
	for _, u := range a.sortOut(inv.users, w) {
		keys, err := a.accessKeys(ctx, u)
		if err != nil {
			if err := w.skip(ctx, u, err); err != nil {
				return nil, err
			}
			continue
		}
		var active []iamtypes.AccessKeyMetadata
		for _, k := range keys {
			if k.Status == iamtypes.StatusTypeActive {
				active = append(active, k)
			}
		}
		if len(active) == 0 {
			continue
		}
		done, err := a.rotatedIn(ctx, u.name, opt.RequestID)
		if err != nil {
			// Unknown whether this request already made its replacement
			// (which must not be deactivated): leave the user for a rerun.
			if err := w.skip(ctx, u, err); err != nil {
				return nil, err
			}
			continue
		}
		u := u
		base := Step{Action: RotateKeys, Account: a.id, Principal: u.arn}
		if done != "" {
			// rotated by this request already: only finish deactivating the old keys
			for _, k := range active {
				if id := aws.ToString(k.AccessKeyId); id != done {
					a.deactivateOp(w, base, u, id, "deactivate old key "+mask(id))
				}
			}
			continue
		}
		sort.Slice(active, func(i, j int) bool { return aws.ToTime(active[i].CreateDate).Before(aws.ToTime(active[j].CreateDate)) })
		if len(keys) < maxAccessKeys {
			s := base
			s.Op, s.Resource, s.Reversible = opCreateReplacementAK, SecretName(u.name), true
			s.Change = "create a replacement key, stored in Secrets Manager as " + SecretName(u.name)
			w.add(s, func(ctx context.Context, s *Step) error {
				id, err := a.createReplacement(ctx, u, opt.RequestID)
				if id != "" {
					s.Resource = id
				}
				return gone(err, fmt.Sprintf("user %q", u.name))
			})
		} else {
			w.warnings = append(w.warnings, fmt.Sprintf("user %s already has %d access keys (IAM's limit): its active keys are deactivated without a replacement; killswitch never deletes a key — delete the inactive one after review, then rotate again", u.arn, len(keys)))
		}
		for _, k := range active {
			id := aws.ToString(k.AccessKeyId)
			a.deactivateOp(w, base, u, id, "deactivate old key "+mask(id))
		}
	}
	return w, nil
}

func (a *acct) deactivateOp(w *work, base Step, u *principal, id, change string) {
	s := base
	s.Op, s.Resource, s.Prior, s.Reversible, s.Change = opDeactivateKey, id, string(iamtypes.StatusTypeActive), true, change
	w.add(s, func(ctx context.Context, s *Step) error {
		return gone(a.setKeyStatus(ctx, u.name, u.arn, id, iamtypes.StatusTypeInactive), fmt.Sprintf("user %q or its key %s", u.name, mask(id)))
	})
}

// createReplacement creates a key and stores it in Secrets Manager. The
// secret access key exists only in this function's memory and in the secret;
// it is never returned, logged or recorded. If it cannot be stored the new
// key is deactivated at once, so no working key is left that nobody holds.
func (a *acct) createReplacement(ctx context.Context, u *principal, reqID string) (string, error) {
	var out *iam.CreateAccessKeyOutput
	if err := a.call("IAM", "CreateAccessKey", u.arn, func() (err error) {
		out, err = a.c.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.name)})
		return wrapEntity(err, "create access key for user %q", u.name)
	}); err != nil {
		return "", err
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	value, err := json.Marshal(struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
		UserName        string `json:"UserName"`
		Account         string `json:"Account"`
		Request         string `json:"Request"`
	}{id, aws.ToString(out.AccessKey.SecretAccessKey), u.name, a.id, reqID})
	out = nil
	if err == nil {
		err = a.storeSecret(ctx, u.name, id, reqID, string(value))
	}
	if err != nil {
		if derr := a.setKeyStatus(ctx, u.name, u.arn, id, iamtypes.StatusTypeInactive); derr != nil {
			err = fmt.Errorf("%w; and deactivating the unstored key %s failed: %v", err, mask(id), derr)
		}
		return id, err
	}
	return id, nil
}

func (a *acct) storeSecret(ctx context.Context, user, keyID, reqID, value string) error {
	name := SecretName(user)
	tags := []smtypes.Tag{{Key: aws.String(tagRequest), Value: aws.String(reqID)}, {Key: aws.String(tagAccessKey), Value: aws.String(keyID)}}
	err := a.call("SecretsManager", "CreateSecret", name, func() error {
		_, err := a.c.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(name), SecretString: aws.String(value), Tags: tags,
			Description: aws.String("replacement access key made by killswitch rotate-keys for IAM user " + user),
		})
		return err
	})
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return wrapEntity(err, "store replacement key of user %q in secret %s", user, name)
	}
	if err := a.call("SecretsManager", "PutSecretValue", name, func() error {
		_, err := a.c.SecretsManager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
		return err
	}); err != nil {
		return fmt.Errorf("store replacement key of user %q in secret %s: %w", user, name, err)
	}
	return a.call("SecretsManager", "TagResource", name, func() error {
		_, err := a.c.SecretsManager.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(name), Tags: tags})
		return wrapEntity(err, "tag secret %s", name)
	})
}
