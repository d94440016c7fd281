package sim

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestSnapshotIsADeepCopy(t *testing.T) {
	o, err := Builtin("org")
	must(t, err)
	a := o.Snapshot(memberID)
	b := o.Snapshot(memberID)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two snapshots of unchanged state differ")
	}
	// scribbling on a snapshot changes neither the Org nor other snapshots
	a.Users[0].Tags["x"] = "y"
	a.Users[0].AccessKeys[0].Active = !a.Users[0].AccessKeys[0].Active
	a.Users[0].InlinePolicies["x"] = "{}"
	a.Users[0].ManagedPolicies = append(a.Users[0].ManagedPolicies[:0], "x")
	a.Roles[0].Tags["x"] = "y"
	a.SCPs[0].Content = "x"
	a.Resources[0].ID = "x"
	a.Groups[0].Members = append(a.Groups[0].Members[:0], "x")
	if c := o.Snapshot(memberID); !reflect.DeepEqual(b, c) {
		t.Fatal("mutating a snapshot changed the simulation")
	}
	if unknown := o.Snapshot("999999999999"); !reflect.DeepEqual(unknown, AccountState{}) {
		t.Fatal("unknown account")
	}
}

func TestSnapshotSeesEveryChange(t *testing.T) {
	o, err := Builtin("org")
	must(t, err)
	c := mustClients(t, o, memberID)
	m := mustClients(t, o, mgmtID)
	user := aws.String("dev-prod")
	keyID := func() *string {
		out, err := c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: user})
		must(t, err)
		return out.AccessKeyMetadata[0].AccessKeyId
	}
	changes := []struct {
		name   string
		change func() error
	}{
		{"login profile", func() error {
			_, err := c.IAM.DeleteLoginProfile(bg, &iam.DeleteLoginProfileInput{UserName: user})
			return err
		}},
		{"key status", func() error {
			_, err := c.IAM.UpdateAccessKey(bg, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: keyID(), Status: types.StatusTypeInactive})
			return err
		}},
		{"new key", func() error {
			_, err := c.IAM.CreateAccessKey(bg, &iam.CreateAccessKeyInput{UserName: aws.String("user-0001")})
			return err
		}},
		{"ssh key status", func() error {
			out, err := c.IAM.ListSSHPublicKeys(bg, &iam.ListSSHPublicKeysInput{UserName: aws.String("user-0010")})
			must(t, err)
			_, err = c.IAM.UpdateSSHPublicKey(bg, &iam.UpdateSSHPublicKeyInput{UserName: aws.String("user-0010"), SSHPublicKeyId: out.SSHPublicKeys[0].SSHPublicKeyId, Status: types.StatusTypeInactive})
			return err
		}},
		{"service credential status", func() error {
			out, err := c.IAM.ListServiceSpecificCredentials(bg, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("user-0025")})
			must(t, err)
			_, err = c.IAM.UpdateServiceSpecificCredential(bg, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String("user-0025"), ServiceSpecificCredentialId: out.ServiceSpecificCredentials[0].ServiceSpecificCredentialId, Status: types.StatusTypeInactive})
			return err
		}},
		{"user inline policy", func() error {
			_, err := c.IAM.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("p"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}},
		{"user inline policy document", func() error {
			_, err := c.IAM.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("p"), PolicyDocument: aws.String(doc("Deny", "s3:*", "*", ""))})
			return err
		}},
		{"role inline policy", func() error {
			_, err := c.IAM.PutRolePolicy(bg, &iam.PutRolePolicyInput{RoleName: aws.String("app-server"), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}},
		{"customer policy", func() error {
			_, err := c.IAM.CreatePolicy(bg, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
			return err
		}},
		{"group attachment", func() error {
			_, err := c.IAM.AttachGroupPolicy(bg, &iam.AttachGroupPolicyInput{GroupName: aws.String("Developers"), PolicyArn: aws.String(readOnlyARN)})
			return err
		}},
		{"role attachment", func() error {
			_, err := c.IAM.AttachRolePolicy(bg, &iam.AttachRolePolicyInput{RoleName: aws.String("app-server"), PolicyArn: aws.String(readOnlyARN)})
			return err
		}},
		{"SCP attachment", func() error {
			out, err := m.Organizations.CreatePolicy(bg, &organizations.CreatePolicyInput{Name: aws.String("d"), Description: aws.String(""), Content: aws.String(denyDeleteSCP()), Type: scpType})
			must(t, err)
			_, err = m.Organizations.AttachPolicy(bg, &organizations.AttachPolicyInput{PolicyId: out.Policy.PolicySummary.Id, TargetId: aws.String(memberID)})
			return err
		}},
		{"SCP content", func() error {
			ids := o.SCPsFor(memberID)
			_, err := m.Organizations.UpdatePolicy(bg, &organizations.UpdatePolicyInput{PolicyId: aws.String(ids[len(ids)-1]), Content: aws.String(doc("Deny", "rds:*", "*", ""))})
			return err
		}},
		{"secret", func() error {
			_, err := c.SecretsManager.CreateSecret(bg, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")})
			return err
		}},
		{"secret value", func() error {
			_, err := c.SecretsManager.PutSecretValue(bg, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2")})
			return err
		}},
		{"tags", func() error {
			_, err := o.AttackerCreateUser(Credential{Account: memberID, Principal: uarn(memberID, "admin-prod"), Console: true}, "backdoor")
			return err
		}},
		{"resources", func() error {
			return o.Destroy(Credential{Account: memberID, Principal: uarn(memberID, "admin-prod"), Console: true}, "bucket", "prod-222222222222-data")
		}},
	}
	for _, tc := range changes {
		before := o.Snapshot(memberID)
		must(t, tc.change())
		if reflect.DeepEqual(before, o.Snapshot(memberID)) {
			t.Errorf("%s: the snapshot did not change", tc.name)
		}
	}
}
