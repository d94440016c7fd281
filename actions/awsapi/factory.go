package awsapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/rbin"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 20 * time.Second
	// DefaultCallTimeout bounds one AWS call, its retries included.
	DefaultCallTimeout = 30 * time.Second
	// DefaultSessionName is the role session name when the context carries no
	// request id.
	DefaultSessionName = "killswitch"
)

// maxCachedClients bounds the client cache: a long-running `serve` sees a new
// request id per request, and clients of finished requests are dropped
// oldest first. Evicted clients keep working for whoever still holds them.
const maxCachedClients = 1024

// Config configures the real AWS client factory.
type Config struct {
	// Region is required; it is the region of every client.
	Region string
	// EndpointURL is applied to every client, including the STS client that
	// assumes the roles, as BaseEndpoint (emulators, proxies). "" = real AWS.
	EndpointURL string
	// RoleName is the role assumed in every account, e.g. KillSwitchResponder.
	RoleName string
	// ExternalID is the optional sts:ExternalId of every AssumeRole.
	ExternalID string
	// ManagementAccount is the Organizations management account: its role is
	// used for the Organizations calls of DiscoverAccounts.
	ManagementAccount string
	// MaxAttempts of the standard retryer (default 5). Throttling errors, 5xx
	// responses and connection errors are retried with jittered exponential
	// backoff, the standard retryer's defaults.
	MaxAttempts int
	// MaxBackoff caps the delay between attempts (default 20s).
	MaxBackoff time.Duration
	// CallTimeout bounds one AWS call, its retries and the role assumption
	// it may need included (default DefaultCallTimeout): a hung endpoint
	// yields an error per call ("no answer within …") instead of a stalled
	// run.
	CallTimeout time.Duration
	// APIOptions are extra smithy middleware on every client (tests: record
	// operations, inject faults; see RecordOperations and InjectFaults).
	APIOptions []func(*middleware.Stack) error
	// HTTPClient is optional.
	HTTPClient aws.HTTPClient
	// Base is an optional pre-loaded base config whose credentials assume the
	// roles (tests: static credentials). When nil, config.LoadDefaultConfig
	// loads the SDK's default credential chain.
	Base *aws.Config
}

// Factory hands out API clients acting as the responder role inside each
// account. It is safe for concurrent use.
type Factory struct {
	cfg       Config
	base      aws.Config // region, endpoint, retryer, http client, API options
	stsClient *sts.Client

	mu    sync.Mutex
	cache map[cacheKey]*Clients
	order []cacheKey // insertion order, for eviction
}

type cacheKey struct{ account, requestID string }

var _ Provider = (*Factory)(nil)

// NewFactory validates cfg, loads the base configuration and returns the
// factory. It makes no AWS call.
func NewFactory(ctx context.Context, cfg Config) (*Factory, error) {
	if cfg.Region == "" {
		return nil, errors.New("aws factory: region is required")
	}
	if cfg.RoleName == "" {
		return nil, errors.New("aws factory: role name is required")
	}
	if cfg.ManagementAccount != "" {
		if err := ValidateAccountID(cfg.ManagementAccount); err != nil {
			return nil, fmt.Errorf("aws factory: management account: %w", err)
		}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}

	var base aws.Config
	if cfg.Base != nil {
		base = cfg.Base.Copy()
	} else {
		loaded, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
		if err != nil {
			return nil, fmt.Errorf("aws factory: load default config: %w", err)
		}
		base = loaded
	}
	base.Region = cfg.Region
	if cfg.EndpointURL != "" {
		base.BaseEndpoint = aws.String(cfg.EndpointURL)
	}
	if cfg.HTTPClient != nil {
		base.HTTPClient = cfg.HTTPClient
	}
	maxAttempts, maxBackoff := cfg.MaxAttempts, cfg.MaxBackoff
	// aws.Config.Retryer is called once per client, so every client has its
	// own retryer and retry token bucket: one throttled account cannot drain
	// the retry quota of the others.
	base.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
		})
	}
	base.RetryMaxAttempts = 0 // the retryer above is authoritative
	base.APIOptions = append(append([]func(*middleware.Stack) error{callTimeout(cfg.CallTimeout)}, base.APIOptions...), cfg.APIOptions...)

	f := &Factory{
		cfg:   cfg,
		base:  base,
		cache: make(map[cacheKey]*Clients),
	}
	// The STS client that assumes the roles acts as the base principal; it is
	// tagged with account "" for InjectFaults.
	f.stsClient = sts.NewFromConfig(f.configFor(""))
	return f, nil
}

// configFor returns a copy of the base config whose clients are tagged with
// account (see InjectFaults).
func (f *Factory) configFor(account string) aws.Config {
	c := f.base.Copy()
	c.APIOptions = append([]func(*middleware.Stack) error{tagAccount(account)}, f.base.APIOptions...)
	return c
}

// Clients returns the clients acting as RoleName inside account, with the
// role session name built from RequestID(ctx). Clients are cached per
// (account, request id). No AWS call is made here: the role is assumed on the
// first API call and the credentials are cached and refreshed before they
// expire; an AssumeRole failure surfaces from that call as
// "assume role in ACCOUNT: ...".
func (f *Factory) Clients(ctx context.Context, account string) (*Clients, error) {
	if err := ValidateAccountID(account); err != nil {
		return nil, fmt.Errorf("assume role in %s: %w", account, err)
	}
	key := cacheKey{account: account, requestID: RequestID(ctx)}

	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.cache[key]; ok {
		return c, nil
	}
	c := f.newClients(account, SessionName(key.requestID))
	f.cache[key] = c
	f.order = append(f.order, key)
	for len(f.order) > maxCachedClients {
		delete(f.cache, f.order[0])
		f.order = f.order[1:]
	}
	return c, nil
}

func (f *Factory) newClients(account, sessionName string) *Clients {
	roleARN := RoleARN(f.cfg.Region, account, f.cfg.RoleName)
	provider := stscreds.NewAssumeRoleProvider(f.stsClient, roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName
		if f.cfg.ExternalID != "" {
			o.ExternalID = aws.String(f.cfg.ExternalID)
		}
	})
	c := f.configFor(account)
	c.Credentials = aws.NewCredentialsCache(&accountCredentials{account: account, provider: provider})
	responderSTS := sts.NewFromConfig(c)
	canary := f.configFor(account)
	canary.Credentials = aws.NewCredentialsCache(&accountCredentials{account: account,
		provider: stscreds.NewAssumeRoleProvider(responderSTS, RoleARN(f.cfg.Region, account, CanaryRoleName), func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = sessionName
		})})
	return &Clients{
		Account:        account,
		IAM:            iam.NewFromConfig(c),
		Organizations:  organizations.NewFromConfig(c),
		STS:            responderSTS,
		SecretsManager: secretsmanager.NewFromConfig(c),
		SSOAdmin:       ssoadmin.NewFromConfig(c),
		IdentityStore:  identitystore.NewFromConfig(c),
		Canary:         ec2.NewFromConfig(canary),
		Region:         f.cfg.Region,
		InRegion:       regionalClients(c),
		Root:           &rootSessions{f: f, sts: responderSTS},
	}
}

// accountCredentials names the account in AssumeRole errors.
type accountCredentials struct {
	account  string
	provider aws.CredentialsProvider
}

func (a *accountCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := a.provider.Retrieve(ctx)
	if err != nil {
		return creds, fmt.Errorf("assume role in %s: %w", a.account, err)
	}
	return creds, nil
}

// DiscoverAccounts lists the ACTIVE accounts of the organization through the
// management account's clients (ListAccounts, every page), sorted.
func (f *Factory) DiscoverAccounts(ctx context.Context) ([]string, error) {
	if f.cfg.ManagementAccount == "" {
		return nil, errors.New("discover accounts: no management account configured")
	}
	c, err := f.Clients(ctx, f.cfg.ManagementAccount)
	if err != nil {
		return nil, fmt.Errorf("discover accounts: %w", err)
	}
	var ids []string
	p := organizations.NewListAccountsPaginator(c.Organizations, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("discover accounts: list accounts in %s: %w", f.cfg.ManagementAccount, err)
		}
		for _, a := range page.Accounts {
			if accountActive(a) && a.Id != nil {
				ids = append(ids, *a.Id)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// accountActive prefers State; Status is retired by AWS in September 2026.
func accountActive(a orgtypes.Account) bool {
	if a.State != "" {
		return a.State == orgtypes.AccountStateActive
	}
	return a.Status == orgtypes.AccountStatusActive
}

// ValidateAccountID reports whether id is an AWS account id: exactly 12
// ASCII digits.
func ValidateAccountID(id string) error {
	if len(id) != 12 {
		return fmt.Errorf("invalid account id %q: want 12 digits", id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return fmt.Errorf("invalid account id %q: want 12 digits", id)
		}
	}
	return nil
}

// maxSessionNameLen is the AWS limit on RoleSessionName.
const maxSessionNameLen = 64

// SessionName returns the role session name for a killswitch request:
// "killswitch-<requestID>", with every character outside AWS's allowed set
// [\w+=,.@-] replaced by '-', cut to 64 characters; "killswitch" when
// requestID is empty.
func SessionName(requestID string) string {
	if requestID == "" {
		return DefaultSessionName
	}
	var b strings.Builder
	b.WriteString(DefaultSessionName)
	b.WriteByte('-')
	for _, r := range requestID {
		if b.Len() >= maxSessionNameLen {
			break
		}
		if sessionNameChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func sessionNameChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}

// RoleARN is the ARN of role name in account, in the partition of region.
func RoleARN(region, account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition(region), account, name)
}

func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// regionalClients returns InRegion for one account's config: the clients
// of a region share the account's credentials (one role assumption) and
// are made once per region.
func regionalClients(c aws.Config) func(region string) *Regional {
	var mu sync.Mutex
	made := map[string]*Regional{}
	return func(region string) *Regional {
		mu.Lock()
		defer mu.Unlock()
		if r, ok := made[region]; ok {
			return r
		}
		rc := c.Copy()
		rc.Region = region
		r := &Regional{
			Region:     region,
			EC2:        ec2.NewFromConfig(rc),
			RecycleBin: rbin.NewFromConfig(rc),
			Backup:     backup.NewFromConfig(rc),
			S3:         s3.NewFromConfig(rc, func(o *s3.Options) { o.UsePathStyle = rc.BaseEndpoint != nil }),
		}
		made[region] = r
		return r
	}
}
