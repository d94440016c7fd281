package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

func TestSecretsManager(t *testing.T) {
	o := testOrg(t)
	c := mustClients(t, o, memberID).SecretsManager
	other := mustClients(t, o, devAcct).SecretsManager
	tag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	out, err := c.CreateSecret(bg, &secretsmanager.CreateSecretInput{
		Name: aws.String("killswitch/rotated/alice"), SecretString: aws.String(`{"AccessKeyId":"AKIA"}`),
		ClientRequestToken: aws.String("tok-1"), Tags: []smtypes.Tag{tag("killswitch:request", "ks-1")},
	})
	must(t, err)
	if !strings.HasPrefix(*out.ARN, "arn:aws:secretsmanager:us-east-1:222222222222:secret:killswitch/rotated/alice-") || *out.VersionId != "tok-1" {
		t.Fatalf("created %+v", out)
	}
	// an SDK retry of the same call is idempotent; a different value is not
	_, err = c.CreateSecret(bg, &secretsmanager.CreateSecretInput{Name: aws.String("killswitch/rotated/alice"), SecretString: aws.String(`{"AccessKeyId":"AKIA"}`), ClientRequestToken: aws.String("tok-1")})
	must(t, err)
	for _, tc := range []struct {
		name  string
		call  func() error
		check func(error) bool
	}{
		{"CreateSecret existing name", func() error {
			_, err := c.CreateSecret(bg, &secretsmanager.CreateSecretInput{Name: aws.String("killswitch/rotated/alice"), SecretString: aws.String("other")})
			return err
		}, isErr[*smtypes.ResourceExistsException]},
		{"CreateSecret bad name", func() error {
			_, err := c.CreateSecret(bg, &secretsmanager.CreateSecretInput{Name: aws.String("no spaces"), SecretString: aws.String("x")})
			return err
		}, isErr[*smtypes.InvalidParameterException]},
		{"DescribeSecret missing", func() error {
			_, err := c.DescribeSecret(bg, &secretsmanager.DescribeSecretInput{SecretId: aws.String("nope")})
			return err
		}, isErr[*smtypes.ResourceNotFoundException]},
		{"DescribeSecret in another account", func() error {
			_, err := other.DescribeSecret(bg, &secretsmanager.DescribeSecretInput{SecretId: aws.String("killswitch/rotated/alice")})
			return err
		}, isErr[*smtypes.ResourceNotFoundException]},
		{"PutSecretValue missing", func() error {
			_, err := c.PutSecretValue(bg, &secretsmanager.PutSecretValueInput{SecretId: aws.String("nope"), SecretString: aws.String("x")})
			return err
		}, isErr[*smtypes.ResourceNotFoundException]},
		{"PutSecretValue same token, other value", func() error {
			_, err := c.PutSecretValue(bg, &secretsmanager.PutSecretValueInput{SecretId: aws.String("killswitch/rotated/alice"), SecretString: aws.String("changed"), ClientRequestToken: aws.String("tok-1")})
			return err
		}, isErr[*smtypes.ResourceExistsException]},
		{"TagResource missing", func() error {
			_, err := c.TagResource(bg, &secretsmanager.TagResourceInput{SecretId: aws.String("nope"), Tags: []smtypes.Tag{tag("a", "b")}})
			return err
		}, isErr[*smtypes.ResourceNotFoundException]},
	} {
		if err := tc.call(); !tc.check(err) {
			t.Errorf("%s: %T %v", tc.name, err, err)
		}
	}
	_, err = c.PutSecretValue(bg, &secretsmanager.PutSecretValueInput{SecretId: out.ARN, SecretString: aws.String("v2")})
	must(t, err)
	_, err = c.TagResource(bg, &secretsmanager.TagResourceInput{SecretId: aws.String("killswitch/rotated/alice"), Tags: []smtypes.Tag{tag("a", "1"), tag("killswitch:request", "ks-2")}})
	must(t, err)
	d, err := c.DescribeSecret(bg, &secretsmanager.DescribeSecretInput{SecretId: aws.String("killswitch/rotated/alice")})
	must(t, err)
	if len(d.Tags) != 2 || *d.Tags[0].Key != "a" || *d.Tags[1].Value != "ks-2" || len(d.VersionIdsToStages) != 2 || *d.ARN != *out.ARN {
		t.Fatalf("describe %+v", d)
	}
	if v, ok := o.SecretValue(memberID, "killswitch/rotated/alice"); !ok || v != "v2" {
		t.Fatalf("SecretValue %q %v", v, ok)
	}
	if _, ok := o.SecretValue(devAcct, "killswitch/rotated/alice"); ok {
		t.Fatal("secrets leak across accounts")
	}
	st := o.Snapshot(memberID)
	if len(st.Secrets) != 1 || st.Secrets[0].Versions != 2 || len(st.Secrets[0].ValueSHA256) != 64 || strings.Contains(fmt.Sprint(st), "v2") {
		t.Fatalf("snapshot secrets %+v", st.Secrets)
	}
}

func TestProviderAndCallerIdentity(t *testing.T) {
	o := testOrg(t)
	p := o.Provider("KillSwitchResponder")
	if _, err := p.Clients(bg, "999999999999"); err == nil || !strings.Contains(err.Error(), mgmtID) {
		t.Fatalf("unknown account: %v", err)
	}
	for _, tc := range []struct {
		reqID, session string
	}{
		{"", "killswitch"},
		{"ks-42", "killswitch-ks-42"},
		{"req id/with:bad*chars", "killswitch-req-id-with-bad-chars"},
		{strings.Repeat("a", 100), "killswitch-" + strings.Repeat("a", 53)},
	} {
		c, err := p.Clients(awsapi.WithRequestID(bg, tc.reqID), memberID)
		must(t, err)
		id, err := c.STS.GetCallerIdentity(bg, nil)
		must(t, err)
		if *id.Arn != "arn:aws:sts::222222222222:assumed-role/KillSwitchResponder/"+tc.session || *id.Account != memberID ||
			!strings.HasPrefix(*id.UserId, "AROA") || !strings.HasSuffix(*id.UserId, ":"+tc.session) || c.Account != memberID {
			t.Fatalf("%q: %+v", tc.reqID, id)
		}
	}
	// the bot role exists in every account, also in accounts added later
	must(t, o.AddAccount("444444444444", "late", "Late"))
	for _, acct := range o.Accounts() {
		arn, ok := o.RoleARN(acct, "KillSwitchResponder")
		if !ok || arn != "arn:aws:iam::"+acct+":role/KillSwitchResponder" {
			t.Fatalf("%s: bot role %q", acct, arn)
		}
	}
	if got := o.Accounts(); got[0] != mgmtID || len(got) != 4 || o.ManagementAccount() != mgmtID || o.Standalone() {
		t.Fatalf("accounts %v", got)
	}
	if _, err := o.Provider("bad name").Clients(bg, memberID); err == nil || !strings.Contains(err.Error(), "role name") {
		t.Fatalf("invalid bot role name: %v", err)
	}
	solo := NewStandalone(soloID)
	if solo.ManagementAccount() != "" || !solo.Standalone() || solo.AddAccount(memberID, "", "") == nil {
		t.Fatal("standalone")
	}
	if _, ok := solo.RoleARN(soloID, DefaultBotRole); ok {
		t.Fatal("bot role before Provider")
	}
	solo.Provider("")
	if _, ok := solo.RoleARN(soloID, DefaultBotRole); !ok {
		t.Fatal("Provider(\"\") did not create the default bot role")
	}
}

func TestAddAccountValidation(t *testing.T) {
	o := NewOrganization(mgmtID)
	for _, tc := range []struct {
		id, name, ou string
	}{
		{"12345", "", ""},
		{"22222222222a", "", ""},
		{mgmtID, "", ""},
		{memberID, strings.Repeat("n", 51), ""},
		{memberID, "", "a/b/c/d/e/f"},
		{memberID, "", "Prod//Web"},
		{memberID, "bad\nname", ""},
	} {
		if err := o.AddAccount(tc.id, tc.name, tc.ou); err == nil {
			t.Errorf("AddAccount(%q, %q, %q) accepted", tc.id, tc.name, tc.ou)
		}
	}
	must(t, o.AddAccount(memberID, "", "a/b/c/d/e"))
	if name, _ := o.AccountName(memberID); name != "account-222222222222" {
		t.Fatal(name)
	}
}

func TestFaults(t *testing.T) {
	o := testOrg(t)
	userIn := &iam.UpdateAccessKeyInput{UserName: aws.String("u"), AccessKeyId: aws.String("AKIAAAAAAAAAAAAAAAAA"), Status: iamtypes.StatusTypeInactive}
	member := mustClients(t, o, memberID)
	dev := mustClients(t, o, devAcct)
	mgmt := mustClients(t, o, mgmtID)
	custom := errors.New("boom")

	o.InjectFault(Fault{Account: memberID, Operation: "UpdateAccessKey", Throttle: true, Times: 2})
	o.InjectFault(Fault{Account: devAcct, Operation: "IAM.ListPolicies", Err: custom})
	o.InjectFault(Fault{Account: mgmtID, Operation: "*", Err: &iamtypes.ServiceFailureException{Message: aws.String("down")}, Times: 1})

	for i := range 3 {
		_, err := member.IAM.UpdateAccessKey(bg, userIn)
		if throttled := awsapi.IsThrottle(err); throttled != (i < 2) {
			t.Fatalf("call %d: throttled %v (%v)", i, throttled, err)
		}
		if i < 2 {
			var ae *smithy.GenericAPIError
			if !errors.As(err, &ae) || ae.Code != "Throttling" || ae.Message != "Rate exceeded" {
				t.Fatalf("throttle error %#v", err)
			}
		} else if !isErr[*iamtypes.NoSuchEntityException](err) {
			t.Fatalf("after the fault: %v", err)
		}
	}
	if _, err := dev.IAM.UpdateAccessKey(bg, userIn); awsapi.IsThrottle(err) {
		t.Fatal("fault leaked to another account")
	}
	for range 2 {
		if _, err := dev.IAM.ListPolicies(bg, nil); !errors.Is(err, custom) {
			t.Fatalf("custom error: %v", err)
		}
	}
	if _, err := dev.IAM.ListUsers(bg, nil); err != nil {
		t.Fatalf("fault leaked to another operation: %v", err)
	}
	if _, err := dev.Organizations.ListPolicies(bg, &organizations.ListPoliciesInput{Filter: scpType}); errors.Is(err, custom) {
		t.Fatal("IAM.ListPolicies fault hit Organizations.ListPolicies")
	}
	if _, err := mgmt.Organizations.ListRoots(bg, nil); !isErr[*iamtypes.ServiceFailureException](err) {
		t.Fatalf("wildcard fault: %v", err)
	}
	if _, err := mgmt.Organizations.ListRoots(bg, nil); err != nil {
		t.Fatalf("Times: 1 fault fired twice: %v", err)
	}
	o.ClearFaults()
	if _, err := dev.IAM.ListPolicies(bg, nil); err != nil {
		t.Fatal(err)
	}
	o.InjectFault(Fault{Err: custom, Times: 1}) // "" account and operation = any
	if _, err := dev.SecretsManager.DescribeSecret(bg, &secretsmanager.DescribeSecretInput{SecretId: aws.String("x")}); !errors.Is(err, custom) {
		t.Fatalf("catch-all fault: %v", err)
	}

	// AssumeRole faults make Provider.Clients fail
	o.InjectFault(Fault{Account: memberID, Operation: "AssumeRole", Throttle: true, Times: 1})
	if _, err := o.Provider("").Clients(bg, memberID); !awsapi.IsThrottle(err) {
		t.Fatalf("AssumeRole fault: %v", err)
	}
	calls := o.Calls()
	if calls["IAM.UpdateAccessKey"] != 4 || calls["IAM.ListPolicies"] != 3 || calls["STS.AssumeRole"] < 4 || calls["Organizations.ListRoots"] != 2 {
		t.Fatalf("calls %v", calls)
	}
	o.ResetCalls()
	if len(o.Calls()) != 0 {
		t.Fatal("ResetCalls")
	}
}

func TestLatencyFaultHonoursContextAndReleasesTheLock(t *testing.T) {
	o := testOrg(t)
	c := mustClients(t, o, memberID)
	o.InjectFault(Fault{Account: memberID, Operation: "ListUsers", Latency: 10 * time.Second})
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := c.IAM.ListUsers(ctx, nil)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	// while one call sleeps, the Org stays usable
	if _, err := c.IAM.ListRoles(bg, nil); err != nil {
		t.Fatal(err)
	}
	_ = o.Snapshot(memberID)
	err := <-done
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("latency: %v after %v", err, time.Since(start))
	}
	o.ClearFaults()
	o.InjectFault(Fault{Operation: "ListRoles", Latency: 20 * time.Millisecond, Times: 1})
	start = time.Now()
	if _, err := c.IAM.ListRoles(bg, nil); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("pure latency: %v after %v", err, time.Since(start))
	}
	cancelled, cancel2 := context.WithCancel(bg)
	cancel2()
	if _, err := c.IAM.ListRoles(cancelled, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestSetClock(t *testing.T) {
	o := NewStandalone(soloID)
	clock := &fixedClock{t: t0}
	o.SetClock(clock.now)
	must(t, o.AddUser(soloID, User{Name: "u"}))
	c := mustClients(t, o, soloID)
	clock.advance(time.Hour)
	k, err := c.IAM.CreateAccessKey(bg, &iam.CreateAccessKeyInput{UserName: aws.String("u")})
	must(t, err)
	st := o.Snapshot(soloID)
	if !st.Users[0].Created.Equal(t0) || !k.AccessKey.CreateDate.Equal(t0.Add(time.Hour)) {
		t.Fatalf("created %v key %v", st.Users[0].Created, k.AccessKey.CreateDate)
	}
}

func TestConcurrentUse(t *testing.T) {
	o, err := Builtin("org")
	must(t, err)
	p := o.Provider(DefaultBotRole)
	var wg sync.WaitGroup
	accounts := o.Accounts()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct := accounts[g%len(accounts)]
			c, err := p.Clients(bg, acct)
			if err != nil {
				t.Error(err)
				return
			}
			pg := iam.NewListUsersPaginator(c.IAM, &iam.ListUsersInput{})
			for pg.HasMorePages() {
				out, err := pg.NextPage(bg)
				if err != nil {
					t.Error(err)
					return
				}
				for _, u := range out.Users {
					keys, err := c.IAM.ListAccessKeys(bg, &iam.ListAccessKeysInput{UserName: u.UserName})
					if err != nil {
						t.Error(err)
						return
					}
					for _, k := range keys.AccessKeyMetadata {
						if _, err := c.IAM.UpdateAccessKey(bg, &iam.UpdateAccessKeyInput{UserName: u.UserName, AccessKeyId: k.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
							t.Error(err)
							return
						}
					}
					_, _ = c.IAM.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: u.UserName, PolicyName: aws.String(fmt.Sprint("g", g)), PolicyDocument: aws.String(doc("Deny", "*", "*", ""))})
				}
			}
			_ = o.Snapshot(acct)
			_ = o.Calls()
			_ = o.Authorize(Credential{Account: acct, Principal: uarn(acct, "deploy"), Console: true}, "ec2:DeleteSnapshot", "*")
			_ = o.Destroy(Credential{Account: acct, Principal: uarn(acct, "admin-x"), Console: true}, "snapshot", "nope")
			o.InjectFault(Fault{Account: acct, Operation: "GetCallerIdentity", Times: 1, Throttle: true})
			_, _ = c.STS.GetCallerIdentity(bg, nil)
		}()
	}
	wg.Wait()
	for _, acct := range accounts {
		for _, u := range o.Snapshot(acct).Users {
			for _, k := range u.AccessKeys {
				if k.Active {
					t.Fatalf("%s: %s still has an active key", acct, u.Name)
				}
			}
		}
	}
}
