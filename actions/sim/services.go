package sim

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// ---- STS ----

type stsClient struct{ c *conn }

var _ awsapi.STS = (*stsClient)(nil)

// GetCallerIdentity returns the bot's assumed-role identity. Like AWS, it
// needs no permission and cannot be denied.
func (c *stsClient) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	out := &sts.GetCallerIdentityOutput{}
	return call(ctx, c.c, "STS", "GetCallerIdentity", nil, out, func(a *account) error {
		roleID := "AROA" + hashID(a.id+"/"+c.c.role, 17, upperAlnum)
		if r := a.roles[strings.ToLower(c.c.role)]; r != nil {
			roleID = r.id
		}
		out.Account = aws.String(a.id)
		out.Arn = aws.String(c.c.principal())
		out.UserId = aws.String(roleID + ":" + c.c.session)
		return nil
	})
}

// ---- Secrets Manager ----

type secret struct {
	name, arn, desc   string
	kmsKeyID          string
	created, changed  time.Time
	tags              map[string]string
	versions          map[string]*secretVersion
	current, previous string
}

type secretVersion struct {
	id      string
	value   string
	binary  []byte
	created time.Time
}

type smClient struct{ c *conn }

var _ awsapi.SecretsManager = (*smClient)(nil)

func smNotFound() error {
	return &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
}

func smInvalid(msg string) error {
	return &smtypes.InvalidParameterException{Message: aws.String(msg)}
}

// findSecret resolves a SecretId: a name or a full ARN.
func findSecret(a *account, id string) *secret {
	if s := a.secrets[id]; s != nil {
		return s
	}
	if strings.HasPrefix(id, "arn:") {
		for _, s := range a.secrets {
			if s.arn == id {
				return s
			}
		}
	}
	return nil
}

func secretRes(id string) func(a *account) string {
	return func(a *account) string {
		if s := findSecret(a, id); s != nil {
			return s.arn
		}
		return "arn:aws:secretsmanager:" + Region + ":" + a.id + ":secret:" + id
	}
}

func checkSecretValue(s *string, b []byte) error {
	if s != nil && b != nil {
		return smInvalid("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if len(str(s)) > 65536 || len(b) > 65536 {
		return smInvalid("The secret value is larger than 65,536 bytes.")
	}
	return nil
}

func smTags(in []smtypes.Tag) (map[string]string, error) {
	m := make(map[string]string, len(in))
	for _, t := range in {
		k, v := str(t.Key), str(t.Value)
		if k == "" || utf8.RuneCountInString(k) > 128 || utf8.RuneCountInString(v) > 256 {
			return nil, smInvalid("Tag keys must be 1-128 and values 0-256 characters.")
		}
		m[k] = v
	}
	return m, nil
}

func sameValue(v *secretVersion, s *string, b []byte) bool {
	return v.value == str(s) && string(v.binary) == string(b)
}

// putVersion stores a value as version id of s (a new UUID when id is "")
// and returns the id.
func (o *Org) putVersion(s *secret, id string, value *string, binary []byte, created time.Time) string {
	if id == "" {
		id = o.newUUID()
	}
	s.versions[id] = &secretVersion{id: id, value: str(value), binary: append([]byte(nil), binary...), created: created}
	return id
}

// CreateSecret stores a secret; an existing name fails with
// ResourceExistsException unless the call repeats the same
// ClientRequestToken and value (idempotent retry, like AWS).
func (c *smClient) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	if in == nil || str(in.Name) == "" {
		return nil, opErr("SecretsManager", "CreateSecret", required("CreateSecretInput", "Name"))
	}
	out := &secretsmanager.CreateSecretOutput{}
	return call(ctx, c.c, "SecretsManager", "CreateSecret", secretRes(*in.Name), out, func(a *account) error {
		o := c.c.o
		name := *in.Name
		if len(name) > 512 || !reSecretName.MatchString(name) {
			return smInvalid("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
		}
		if err := checkSecretValue(in.SecretString, in.SecretBinary); err != nil {
			return err
		}
		tags, err := smTags(in.Tags)
		if err != nil {
			return err
		}
		if err := validTagCount(len(tags)); err != nil {
			return err
		}
		if s := a.secrets[name]; s != nil {
			if tok := str(in.ClientRequestToken); tok != "" {
				if v := s.versions[tok]; v != nil && sameValue(v, in.SecretString, in.SecretBinary) {
					out.ARN, out.Name, out.VersionId = aws.String(s.arn), aws.String(s.name), aws.String(v.id)
					return nil
				}
			}
			return &smtypes.ResourceExistsException{Message: aws.String("The operation failed because the secret " + name + " already exists.")}
		}
		if len(a.secrets) >= maxSecrets {
			return &smtypes.LimitExceededException{Message: aws.String(fmt.Sprintf("The simulation allows at most %d secrets per account.", maxSecrets))}
		}
		now := o.now()
		s := &secret{
			name: name, arn: "arn:aws:secretsmanager:" + Region + ":" + a.id + ":secret:" + name + "-" + o.newID("", 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
			desc: str(in.Description), kmsKeyID: str(in.KmsKeyId), created: now, changed: now, tags: tags,
			versions: map[string]*secretVersion{},
		}
		if in.SecretString != nil || in.SecretBinary != nil {
			s.current = o.putVersion(s, str(in.ClientRequestToken), in.SecretString, in.SecretBinary, now)
			out.VersionId = aws.String(s.current)
		}
		a.secrets[name] = s
		out.ARN, out.Name = aws.String(s.arn), aws.String(s.name)
		return nil
	})
}

func validTagCount(n int) error {
	if n > maxTags {
		return smInvalid(fmt.Sprintf("A secret can have at most %d tags.", maxTags))
	}
	return nil
}

// PutSecretValue stores a new AWSCURRENT version (the old one becomes
// AWSPREVIOUS).
func (c *smClient) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if in == nil || str(in.SecretId) == "" {
		return nil, opErr("SecretsManager", "PutSecretValue", required("PutSecretValueInput", "SecretId"))
	}
	out := &secretsmanager.PutSecretValueOutput{}
	return call(ctx, c.c, "SecretsManager", "PutSecretValue", secretRes(*in.SecretId), out, func(a *account) error {
		o := c.c.o
		s := findSecret(a, *in.SecretId)
		if s == nil {
			return smNotFound()
		}
		if in.SecretString == nil && in.SecretBinary == nil {
			return smInvalid("You must provide either SecretString or SecretBinary.")
		}
		if err := checkSecretValue(in.SecretString, in.SecretBinary); err != nil {
			return err
		}
		id := str(in.ClientRequestToken)
		if v := s.versions[id]; id != "" && v != nil {
			if !sameValue(v, in.SecretString, in.SecretBinary) {
				return &smtypes.ResourceExistsException{Message: aws.String("A version with VersionId " + id + " already exists with different content.")}
			}
		} else {
			now := o.now()
			id = o.putVersion(s, id, in.SecretString, in.SecretBinary, now)
			for vid := range s.versions {
				if vid != id && vid != s.current {
					delete(s.versions, vid) // AWS deprecates unlabelled versions
				}
			}
			s.previous, s.current = s.current, id
			s.changed = now
		}
		out.ARN, out.Name, out.VersionId, out.VersionStages = aws.String(s.arn), aws.String(s.name), aws.String(id), []string{"AWSCURRENT"}
		return nil
	})
}

// DescribeSecret returns a secret's metadata and tags, never its value.
func (c *smClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	if in == nil || str(in.SecretId) == "" {
		return nil, opErr("SecretsManager", "DescribeSecret", required("DescribeSecretInput", "SecretId"))
	}
	out := &secretsmanager.DescribeSecretOutput{}
	return call(ctx, c.c, "SecretsManager", "DescribeSecret", secretRes(*in.SecretId), out, func(a *account) error {
		s := findSecret(a, *in.SecretId)
		if s == nil {
			return smNotFound()
		}
		out.ARN, out.Name = aws.String(s.arn), aws.String(s.name)
		out.CreatedDate, out.LastChangedDate = aws.Time(s.created), aws.Time(s.changed)
		if s.desc != "" {
			out.Description = aws.String(s.desc)
		}
		if s.kmsKeyID != "" {
			out.KmsKeyId = aws.String(s.kmsKeyID)
		}
		out.PrimaryRegion = aws.String(Region)
		out.RotationEnabled = aws.Bool(false)
		out.Tags = []smtypes.Tag{}
		for _, k := range sortedMapKeys(s.tags) {
			out.Tags = append(out.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(s.tags[k])})
		}
		out.VersionIdsToStages = map[string][]string{}
		if s.current != "" {
			out.VersionIdsToStages[s.current] = []string{"AWSCURRENT"}
		}
		if s.previous != "" && s.versions[s.previous] != nil {
			out.VersionIdsToStages[s.previous] = []string{"AWSPREVIOUS"}
		}
		return nil
	})
}

// TagResource adds or replaces tags on a secret.
func (c *smClient) TagResource(ctx context.Context, in *secretsmanager.TagResourceInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.TagResourceOutput, error) {
	if in == nil || str(in.SecretId) == "" || in.Tags == nil {
		return nil, opErr("SecretsManager", "TagResource", required("TagResourceInput", "SecretId", "Tags"))
	}
	return call(ctx, c.c, "SecretsManager", "TagResource", secretRes(*in.SecretId), &secretsmanager.TagResourceOutput{}, func(a *account) error {
		s := findSecret(a, *in.SecretId)
		if s == nil {
			return smNotFound()
		}
		tags, err := smTags(in.Tags)
		if err != nil {
			return err
		}
		merged := copyStringMap(s.tags)
		for k, v := range tags {
			merged[k] = v
		}
		if err := validTagCount(len(merged)); err != nil {
			return err
		}
		s.tags = merged
		return nil
	})
}

// SecretValue returns the AWSCURRENT string value of a secret (for tests).
func (o *Org) SecretValue(acct, name string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return "", false
	}
	s := findSecret(a, name)
	if s == nil || s.current == "" {
		return "", false
	}
	return s.versions[s.current].value, true
}
