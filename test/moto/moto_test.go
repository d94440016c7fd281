package moto_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/killswitch/killswitch/test/moto"
)

func TestServerLifecycleAndAccounts(t *testing.T) {
	ctx := context.Background()
	s, err := moto.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	cfg := s.AWSConfig(ctx)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v\n%s", err, s.Output())
	}
	if got := aws.ToString(id.Account); got != moto.DefaultAccount {
		t.Errorf("static credentials act in %s, want %s", got, moto.DefaultAccount)
	}

	// Keys from AssumeRole act in the role's account, even when the role
	// does not exist (moto checks neither the role nor its trust policy).
	const other = "111122223333"
	assumed := cfg.Copy()
	assumed.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg),
		"arn:aws:iam::"+other+":role/DoesNotExist", func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "probe" }))
	id, err = sts.NewFromConfig(assumed).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity as assumed role: %v", err)
	}
	if got, want := aws.ToString(id.Arn), "arn:aws:sts::"+other+":assumed-role/DoesNotExist/probe"; got != want {
		t.Errorf("assumed role Arn = %s, want %s", got, want)
	}

	// The x-moto-account-id header picks the account too.
	header := iam.NewFromConfig(cfg, func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("x-moto-account-id", other))
	})
	if _, err := header.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}); err != nil {
		t.Fatalf("CreateUser via header: %v", err)
	}
	if _, err := iam.NewFromConfig(assumed).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u")}); err != nil {
		t.Errorf("user created via the header is not in %s: %v", other, err)
	}
	var nse *iamtypes.NoSuchEntityException
	if _, err := iam.NewFromConfig(cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u")}); !errors.As(err, &nse) {
		t.Errorf("GetUser in the default account: err = %v, want NoSuchEntityException", err)
	}

	// Reset drops the state.
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := header.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("u")}); !errors.As(err, &nse) {
		t.Errorf("GetUser after Reset: err = %v, want NoSuchEntityException", err)
	}

	// Stop kills the server; a second Stop is harmless.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	c := &http.Client{Timeout: time.Second}
	if resp, err := c.Get(s.Endpoint + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Stop")
	}
}

func TestStartTParallel(t *testing.T) {
	// Two servers side by side get distinct ports and separate state.
	a, b := moto.StartT(t), moto.StartT(t)
	if a.Endpoint == b.Endpoint {
		t.Fatalf("both servers on %s", a.Endpoint)
	}
	ctx := context.Background()
	if _, err := iam.NewFromConfig(a.AWSConfig(ctx)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("only-in-a")}); err != nil {
		t.Fatal(err)
	}
	var nse *iamtypes.NoSuchEntityException
	if _, err := iam.NewFromConfig(b.AWSConfig(ctx)).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("only-in-a")}); !errors.As(err, &nse) {
		t.Errorf("GetUser in the other server: err = %v, want NoSuchEntityException", err)
	}
}
