package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/test/moto"
)

const (
	roleName    = "KillSwitchResponder"
	externalID  = "ks-external-id"
	maxAttempts = 3
)

func TestSessionName(t *testing.T) {
	long := strings.Repeat("a", 100)
	tests := []struct {
		requestID, want string
	}{
		{"", "killswitch"},
		{"ks-123", "killswitch-ks-123"},
		{"req_1+=,.@-x", "killswitch-req_1+=,.@-x"},
		{"a b/c:d*é", "killswitch-a-b-c-d--"},
		{"ünïcode", "killswitch--n-code"},
		{long, "killswitch-" + long[:64-len("killswitch-")]},
	}
	for _, tt := range tests {
		got := awsapi.SessionName(tt.requestID)
		if got != tt.want {
			t.Errorf("SessionName(%q) = %q, want %q", tt.requestID, got, tt.want)
		}
		if len(got) > 64 || len(got) < 2 {
			t.Errorf("SessionName(%q) has length %d, want 2..64", tt.requestID, len(got))
		}
		for _, r := range got {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-", r) {
				t.Errorf("SessionName(%q) = %q has forbidden character %q", tt.requestID, got, r)
			}
		}
	}
}

func TestValidateAccountID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"123456789012", true},
		{"000000000001", true},
		{"", false},
		{"12345678901", false},
		{"1234567890123", false},
		{"12345678901a", false},
		{" 23456789012", false},
		{"１23456789012", false}, // fullwidth digit
	}
	for _, tt := range tests {
		err := awsapi.ValidateAccountID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateAccountID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.id)) {
			t.Errorf("ValidateAccountID(%q) error %q does not name the id", tt.id, err)
		}
	}
}

func TestNewFactoryValidation(t *testing.T) {
	base := aws.Config{}
	tests := []struct {
		name string
		cfg  awsapi.Config
		want string
	}{
		{"no region", awsapi.Config{RoleName: roleName, Base: &base}, "region"},
		{"no role", awsapi.Config{Region: "us-east-1", Base: &base}, "role name"},
		{"bad management account", awsapi.Config{Region: "us-east-1", RoleName: roleName, ManagementAccount: "42", Base: &base}, `"42"`},
	}
	for _, tt := range tests {
		_, err := awsapi.NewFactory(context.Background(), tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewFactory error = %v, want it to mention %s", tt.name, err, tt.want)
		}
	}

	f, err := awsapi.NewFactory(context.Background(), awsapi.Config{Region: "us-east-1", RoleName: roleName, Base: &base})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Clients(context.Background(), "11112222333x")
	if err == nil || !strings.Contains(err.Error(), "assume role in 11112222333x") {
		t.Errorf("Clients(bad id) error = %v, want it to name the account", err)
	}
	if _, err := f.DiscoverAccounts(context.Background()); err == nil {
		t.Error("DiscoverAccounts without a management account: want an error")
	}
}

func TestRoleARN(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1":     "arn:aws:iam::111122223333:role/R",
		"cn-north-1":    "arn:aws-cn:iam::111122223333:role/R",
		"us-gov-west-1": "arn:aws-us-gov:iam::111122223333:role/R",
	} {
		if got := awsapi.RoleARN(region, "111122223333", "R"); got != want {
			t.Errorf("RoleARN(%s) = %s, want %s", region, got, want)
		}
	}
}

// org is a moto organization: the management account (moto's default
// account) and two members, each with the responder role.
type org struct {
	srv        *moto.Server
	management string
	members    [2]string
}

// newOrg creates the organization from the default account, two members with
// CreateAccount, and KillSwitchResponder in all three. The role is created in
// a member by assuming OrganizationAccountAccessRole, which CreateAccount
// makes in the member (in moto as in AWS).
func newOrg(t *testing.T, ctx context.Context) *org {
	t.Helper()
	srv := moto.StartT(t)
	base := srv.AWSConfig(ctx)
	o := &org{srv: srv, management: moto.DefaultAccount}

	orgs := organizations.NewFromConfig(base)
	if _, err := orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	for i := range o.members {
		out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{
			AccountName: aws.String(fmt.Sprintf("member-%d", i)),
			Email:       aws.String(fmt.Sprintf("member-%d@example.com", i)),
		})
		if err != nil {
			t.Fatalf("create account: %v", err)
		}
		st := out.CreateAccountStatus
		if st.State != orgtypes.CreateAccountStateSucceeded || st.AccountId == nil {
			t.Fatalf("create account: status %+v, want SUCCEEDED with an id", st)
		}
		o.members[i] = *st.AccountId
		if err := awsapi.ValidateAccountID(o.members[i]); err != nil {
			t.Fatalf("moto gave member id: %v", err)
		}
	}
	if o.members[0] == o.members[1] || slices.Contains(o.members[:], o.management) {
		t.Fatalf("account ids collide: %v %s", o.members, o.management)
	}

	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":%q}}}]}`, o.management, externalID)
	createRole := func(cfg aws.Config, account string) {
		_, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 aws.String(roleName),
			AssumeRolePolicyDocument: aws.String(trust),
		})
		if err != nil {
			t.Fatalf("create %s in %s: %v", roleName, account, err)
		}
	}
	createRole(base, o.management)
	stsc := sts.NewFromConfig(base)
	for _, m := range o.members {
		admin := base.Copy()
		admin.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc,
			fmt.Sprintf("arn:aws:iam::%s:role/OrganizationAccountAccessRole", m)))
		createRole(admin, m)
	}
	return o
}

// rawIAM returns the SDK client behind c.IAM, for calls the narrow interface
// does not have (CreateUser, GetUser).
func rawIAM(t *testing.T, c *awsapi.Clients) *iam.Client {
	t.Helper()
	raw, ok := c.IAM.(*iam.Client)
	if !ok {
		t.Fatalf("Clients.IAM is %T, want *iam.Client", c.IAM)
	}
	return raw
}

// hostGuard is an HTTP client that refuses every host but the emulator's and
// counts the requests it passed.
type hostGuard struct {
	allowed string
	client  *http.Client

	mu       sync.Mutex
	passed   int
	refusals []string
}

func (h *hostGuard) Do(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	if req.URL.Host != h.allowed {
		h.refusals = append(h.refusals, req.URL.String())
		h.mu.Unlock()
		return nil, fmt.Errorf("hostGuard: refused %s", req.URL)
	}
	h.passed++
	h.mu.Unlock()
	return h.client.Do(req)
}

type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) rec(service, operation string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, service+"."+operation)
}

func (r *recorder) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// assumeRoleInputs captures the AssumeRole parameters the factory sends.
type assumeRoleInputs struct {
	mu     sync.Mutex
	inputs []sts.AssumeRoleInput
}

func (a *assumeRoleInputs) option(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("test.AssumeRoleInputs",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if p, ok := in.Parameters.(*sts.AssumeRoleInput); ok {
				a.mu.Lock()
				a.inputs = append(a.inputs, *p)
				a.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func TestFactoryAgainstMoto(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t, ctx)
	m1, m2, mgmt := o.members[0], o.members[1], o.management

	endpoint, err := url.Parse(o.srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// The base config points at real AWS (no BaseEndpoint): only
	// Config.EndpointURL can route the calls to the emulator, and the HTTP
	// client refuses anything else.
	base := o.srv.AWSConfig(ctx)
	base.BaseEndpoint = nil
	loggedBefore := strings.Count(o.srv.Output(), `"POST / HTTP/1.1"`)
	guard := &hostGuard{allowed: endpoint.Host, client: &http.Client{Timeout: 10 * time.Second}}
	rec := &recorder{}
	faults := awsapi.NewFaultRules()
	assumed := &assumeRoleInputs{}

	f, err := awsapi.NewFactory(ctx, awsapi.Config{
		Region:            moto.Region,
		EndpointURL:       o.srv.Endpoint,
		RoleName:          roleName,
		ExternalID:        externalID,
		ManagementAccount: mgmt,
		MaxAttempts:       maxAttempts,
		MaxBackoff:        5 * time.Millisecond,
		APIOptions:        []func(*middleware.Stack) error{awsapi.RecordOperations(rec.rec), awsapi.InjectFaults(faults), assumed.option},
		HTTPClient:        guard,
		Base:              &base,
	})
	if err != nil {
		t.Fatal(err)
	}
	reqCtx := awsapi.WithRequestID(ctx, "ks-123")
	clients := func(t *testing.T, ctx context.Context, account string) *awsapi.Clients {
		t.Helper()
		c, err := f.Clients(ctx, account)
		if err != nil {
			t.Fatalf("clients for %s: %v", account, err)
		}
		if c.Account != account {
			t.Fatalf("clients for %s: Account = %s", account, c.Account)
		}
		return c
	}

	t.Run("assumed role identity and session name", func(t *testing.T) {
		for _, account := range []string{m1, m2, mgmt} {
			out, err := clients(t, reqCtx, account).STS.GetCallerIdentity(reqCtx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatalf("GetCallerIdentity in %s: %v", account, err)
			}
			if got := aws.ToString(out.Account); got != account {
				t.Errorf("GetCallerIdentity Account = %s, want %s", got, account)
			}
			want := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/killswitch-ks-123", account, roleName)
			if got := aws.ToString(out.Arn); got != want {
				t.Errorf("GetCallerIdentity Arn = %s, want %s", got, want)
			}
		}
		assumed.mu.Lock()
		defer assumed.mu.Unlock()
		if len(assumed.inputs) != 3 {
			t.Errorf("AssumeRole called %d times for 3 accounts, want 3 (credentials cached)", len(assumed.inputs))
		}
		for _, in := range assumed.inputs {
			if aws.ToString(in.ExternalId) != externalID || aws.ToString(in.RoleSessionName) != "killswitch-ks-123" ||
				!strings.HasSuffix(aws.ToString(in.RoleArn), ":role/"+roleName) {
				t.Errorf("AssumeRole input: role %s session %s external id %s",
					aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName), aws.ToString(in.ExternalId))
			}
		}
	})

	t.Run("no request id", func(t *testing.T) {
		out, err := clients(t, ctx, m1).STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/killswitch", m1, roleName); aws.ToString(out.Arn) != want {
			t.Errorf("Arn = %s, want %s", aws.ToString(out.Arn), want)
		}
	})

	t.Run("clients are cached per account and request", func(t *testing.T) {
		a, b := clients(t, reqCtx, m1), clients(t, reqCtx, m1)
		if a != b {
			t.Error("same account and request id: want the cached clients")
		}
		if c := clients(t, awsapi.WithRequestID(ctx, "ks-456"), m1); c == a {
			t.Error("another request id: want new clients")
		}
		if c := clients(t, reqCtx, m2); c == a {
			t.Error("another account: want new clients")
		}
	})

	t.Run("IAM writes stay in their account", func(t *testing.T) {
		if _, err := rawIAM(t, clients(t, reqCtx, m1)).CreateUser(reqCtx, &iam.CreateUserInput{UserName: aws.String("backdoor")}); err != nil {
			t.Fatalf("CreateUser in %s: %v", m1, err)
		}
		out, err := rawIAM(t, clients(t, reqCtx, m1)).GetUser(reqCtx, &iam.GetUserInput{UserName: aws.String("backdoor")})
		if err != nil {
			t.Fatalf("GetUser in %s: %v", m1, err)
		}
		if want := fmt.Sprintf("arn:aws:iam::%s:user/backdoor", m1); aws.ToString(out.User.Arn) != want {
			t.Errorf("user ARN = %s, want %s", aws.ToString(out.User.Arn), want)
		}
		for _, other := range []string{m2, mgmt} {
			_, err := rawIAM(t, clients(t, reqCtx, other)).GetUser(reqCtx, &iam.GetUserInput{UserName: aws.String("backdoor")})
			var nse *iamtypes.NoSuchEntityException
			if !errors.As(err, &nse) {
				t.Errorf("GetUser in %s: err = %v, want NoSuchEntityException", other, err)
			}
		}
	})

	t.Run("discover accounts", func(t *testing.T) {
		// A closed (SUSPENDED) account is left out.
		orgs := organizations.NewFromConfig(o.srv.AWSConfig(ctx))
		out, err := orgs.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("closed"), Email: aws.String("closed@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := orgs.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: out.CreateAccountStatus.AccountId}); err != nil {
			t.Fatal(err)
		}
		got, err := f.DiscoverAccounts(reqCtx)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{mgmt, m1, m2}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("DiscoverAccounts = %v, want %v", got, want)
		}
	})

	t.Run("throttling is retried in the named account only", func(t *testing.T) {
		before := faults.Injected()
		listUsersBefore := rec.count("IAM.ListUsers")
		faults.Add(awsapi.FaultRule{Account: m1, Service: "IAM", Operation: "ListUsers", Code: "Throttling", Status: 400, Times: maxAttempts - 1})

		out, err := clients(t, reqCtx, m1).IAM.ListUsers(reqCtx, &iam.ListUsersInput{})
		if err != nil {
			t.Fatalf("ListUsers in %s with %d throttles: %v", m1, maxAttempts-1, err)
		}
		if len(out.Users) != 1 || aws.ToString(out.Users[0].UserName) != "backdoor" {
			t.Errorf("ListUsers in %s = %d users, want backdoor", m1, len(out.Users))
		}
		if got := faults.Injected() - before; got != maxAttempts-1 {
			t.Errorf("injected %d faults, want %d", got, maxAttempts-1)
		}
		if got := rec.count("IAM.ListUsers") - listUsersBefore; got != 1 {
			t.Errorf("RecordOperations saw ListUsers %d times for one retried call, want 1", got)
		}

		n := faults.Injected()
		if _, err := clients(t, reqCtx, m2).IAM.ListUsers(reqCtx, &iam.ListUsersInput{}); err != nil {
			t.Fatalf("ListUsers in %s: %v", m2, err)
		}
		if faults.Injected() != n {
			t.Errorf("the fault for %s hit %s", m1, m2)
		}
		for _, inj := range faults.Injections()[before:] {
			if inj.Account != m1 || inj.Service != "IAM" || inj.Operation != "ListUsers" {
				t.Errorf("injection %+v, want only %s IAM ListUsers", inj, m1)
			}
		}
	})

	t.Run("throttling past MaxAttempts surfaces", func(t *testing.T) {
		before := faults.Injected()
		faults.Add(awsapi.FaultRule{Account: m2, Service: "iam", Operation: "ListUsers", Code: "Throttling", Status: 400, Times: maxAttempts})
		_, err := clients(t, reqCtx, m2).IAM.ListUsers(reqCtx, &iam.ListUsersInput{})
		if !awsapi.IsThrottle(err) {
			t.Fatalf("ListUsers in %s throttled %d times: err = %v, want a throttle error", m2, maxAttempts, err)
		}
		if code := awsapi.ErrorCode(err); code != "Throttling" {
			t.Errorf("ErrorCode = %q, want Throttling", code)
		}
		if got := faults.Injected() - before; got != maxAttempts {
			t.Errorf("injected %d faults, want one per attempt: %d", got, maxAttempts)
		}
		// The rule is used up: the next call goes through.
		if _, err := clients(t, reqCtx, m2).IAM.ListUsers(reqCtx, &iam.ListUsersInput{}); err != nil {
			t.Errorf("ListUsers after the faults: %v", err)
		}
		if _, err := clients(t, reqCtx, m1).IAM.ListUsers(reqCtx, &iam.ListUsersInput{}); err != nil {
			t.Errorf("ListUsers in %s: %v", m1, err)
		}
	})

	t.Run("5xx is retried", func(t *testing.T) {
		before := faults.Injected()
		faults.Add(awsapi.FaultRule{Account: m1, Service: "STS", Operation: "GetCallerIdentity", Code: "InternalFailure", Status: 500, Times: 1})
		if _, err := clients(t, reqCtx, m1).STS.GetCallerIdentity(reqCtx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("GetCallerIdentity after one 500: %v", err)
		}
		if faults.Injected()-before != 1 {
			t.Errorf("injected %d faults, want 1", faults.Injected()-before)
		}
	})

	t.Run("assume role failure names the account", func(t *testing.T) {
		faults.Add(awsapi.FaultRule{Service: "STS", Operation: "AssumeRole", Code: "AccessDenied", Status: 403, Times: 1})
		fresh := awsapi.WithRequestID(ctx, "ks-denied")
		_, err := clients(t, fresh, m2).IAM.ListUsers(fresh, &iam.ListUsersInput{})
		if err == nil {
			t.Fatal("want an error when AssumeRole is denied")
		}
		if !strings.Contains(err.Error(), "assume role in "+m2) || awsapi.ErrorCode(err) != "AccessDenied" {
			t.Errorf("err = %v (code %q), want it to name %s and keep AccessDenied", err, awsapi.ErrorCode(err), m2)
		}
		// Not cached: the next call assumes the role again and succeeds.
		if _, err := clients(t, fresh, m2).IAM.ListUsers(fresh, &iam.ListUsersInput{}); err != nil {
			t.Errorf("ListUsers after the denial: %v", err)
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 24)
		for i := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				account := []string{m1, m2, mgmt}[i%3]
				ctx := awsapi.WithRequestID(ctx, fmt.Sprintf("ks-c%d", i%4))
				c, err := f.Clients(ctx, account)
				if err != nil {
					errs <- err
					return
				}
				out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				if err != nil {
					errs <- err
					return
				}
				if aws.ToString(out.Account) != account {
					errs <- fmt.Errorf("GetCallerIdentity Account = %s, want %s", aws.ToString(out.Account), account)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("every call went to the emulator", func(t *testing.T) {
		guard.mu.Lock()
		refusals, passed := guard.refusals, guard.passed
		guard.mu.Unlock()
		if len(refusals) > 0 {
			t.Errorf("requests to other hosts: %v", refusals)
		}
		// Attempts that reached the HTTP client; injected faults never do.
		if passed == 0 || rec.total() == 0 {
			t.Fatalf("passed %d requests, recorded %d operations", passed, rec.total())
		}
		// moto logs each request it answers: it received them all.
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := strings.Count(o.srv.Output(), `"POST / HTTP/1.1"`) - loggedBefore
			if got >= passed {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("moto logged %d requests, the factory's clients sent %d", got, passed)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
