package awsapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// TestHungEndpointFailsEachCall: an endpoint that accepts the connection and
// never answers yields an error per call after the call timeout, naming it,
// instead of a call that never returns.
func TestHungEndpointFailsEachCall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	base := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLEEXAMPLE00", "secret", "")}
	const timeout = 300 * time.Millisecond
	f, err := awsapi.NewFactory(context.Background(), awsapi.Config{
		Region: "us-east-1", EndpointURL: srv.URL, RoleName: roleName, Base: &base,
		CallTimeout: timeout, MaxAttempts: 3, MaxBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Clients(context.Background(), "111122223333")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(context.Context) error{
		"IAM ListUsers (assumes the role first)": func(ctx context.Context) error {
			_, err := c.IAM.ListUsers(ctx, &iam.ListUsersInput{})
			return err
		},
		"STS GetCallerIdentity": func(ctx context.Context) error {
			_, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		},
	}
	for name, call := range calls {
		for i := 0; i < 2; i++ {
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- call(context.Background()) }()
			select {
			case err := <-done:
				took := time.Since(start)
				var te *awsapi.CallTimeoutError
				if err == nil || !errors.As(err, &te) || !strings.Contains(err.Error(), "no answer from AWS within 300ms (aws.call_timeout)") {
					t.Errorf("%s: %v; want a call timeout error", name, err)
				}
				// a second call may fail sooner: it shares the role
				// assumption (credentials cache) that timed out
				if took > 5*timeout {
					t.Errorf("%s: failed after %s; want at most about %s", name, took, timeout)
				}
			case <-time.After(20 * timeout):
				t.Fatalf("%s: the call is still waiting for the hung endpoint after %s", name, 20*timeout)
			}
		}
	}
	// the caller's own cancellation is not reported as a timeout (another
	// account: its credentials share nothing with the timed-out ones above)
	fresh, err := f.Clients(context.Background(), "444455556666")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout/3)
	defer cancel()
	_, err = fresh.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var te *awsapi.CallTimeoutError
	if err == nil || errors.As(err, &te) {
		t.Errorf("cancelled by the caller: %v; want the caller's error, not a call timeout", err)
	}
}
