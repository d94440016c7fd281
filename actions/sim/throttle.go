package sim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// RateLimit is one token bucket: Burst calls at once, refilled at Rate calls
// per second. The simulation keeps one bucket per account and service (AWS
// throttles per account, per service; EC2 also per API, which the
// simulation does not model) and refills it on the Org's clock, so on a
// drill's virtual clock buckets refill on virtual time.
type RateLimit struct {
	Rate  float64 `yaml:"rate"`  // calls per second, sustained
	Burst int     `yaml:"burst"` // bucket size (0: one second's worth, at least 1)
}

// DefaultRateLimits are the buckets a file's `rate_limits: default` selects
// (per account and service; keys are action prefixes). Sources:
//   - ec2: the documented request token bucket of non-mutating actions
//     (bucket 100, refill 20/s; "Request throttling for the Amazon EC2 API");
//   - s3: 3,500 PUT/DELETE per second per prefix (S3 performance
//     guidelines; the lower of the write and read rates);
//   - secretsmanager: 50/s, the documented rate of its write APIs
//     (Secrets Manager quotas);
//   - iam (20/s), organizations (10/s), sts (100/s), sso (20/s) and
//     identitystore (20/s): assumptions; AWS publishes no per-account API
//     rate for them, only that they throttle (IAM and STS answer
//     Throttling, Organizations TooManyRequestsException).
func DefaultRateLimits() map[string]RateLimit {
	return map[string]RateLimit{
		"iam":            {Rate: 20, Burst: 40},
		"organizations":  {Rate: 10, Burst: 20},
		"sts":            {Rate: 100, Burst: 100},
		"ec2":            {Rate: 20, Burst: 100},
		"s3":             {Rate: 3500, Burst: 3500},
		"secretsmanager": {Rate: 50, Burst: 50},
		"sso":            {Rate: 20, Burst: 20},
		"identitystore":  {Rate: 20, Burst: 20},
	}
}

// MaxRate bounds a configured rate.
const MaxRate = 100000

// SetRateLimits throttles calls per account and service: limits maps an
// action prefix ("iam", "organizations", "sts", "ec2", ...; "*" for the
// services not listed) to its bucket. nil or empty turns throttling off (the
// default: unit tests that make bursts of calls on a fixed clock stay
// deterministic and unthrottled). Buckets start full.
func (o *Org) SetRateLimits(limits map[string]RateLimit) error {
	for svc, l := range limits {
		if l.Rate <= 0 || l.Rate > MaxRate || l.Burst < 0 || l.Burst > MaxRate {
			return fmt.Errorf("rate limit %s: rate between 0 and %d calls/s (excluded 0), burst between 0 and %d", svc, MaxRate, MaxRate)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limits = map[string]RateLimit{}
	for svc, l := range limits {
		o.limits[strings.ToLower(svc)] = l
	}
	o.buckets = map[string]*rate.Limiter{}
	return nil
}

// SetAccountRateLimit gives one account its own bucket for a service
// (action prefix), e.g. an account whose quota another workload uses up.
// It turns throttling on with it when no rate limits were set.
func (o *Org) SetAccountRateLimit(acct, service string, l RateLimit) error {
	if l.Rate <= 0 || l.Rate > MaxRate || l.Burst < 0 || l.Burst > MaxRate {
		return fmt.Errorf("rate limit %s in %s: rate above 0 and at most %d calls/s, burst 0-%d", service, acct, MaxRate, MaxRate)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.limits == nil {
		o.limits = map[string]RateLimit{}
	}
	if o.buckets == nil {
		o.buckets = map[string]*rate.Limiter{}
	}
	key := acct + "/" + strings.ToLower(service)
	o.limits[key] = l
	delete(o.buckets, key)
	return nil
}

// RateLimits returns the buckets in force (nil: no throttling).
func (o *Org) RateLimits() map[string]RateLimit {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.limits) == 0 {
		return nil
	}
	out := make(map[string]RateLimit, len(o.limits))
	for k, v := range o.limits {
		out[k] = v
	}
	return out
}

// throttledLocked takes a token from the account's bucket for svc (the
// SDK-style service name, e.g. "IAM") and reports whether the call is
// throttled. Caller holds o.mu.
func (o *Org) throttledLocked(acct, svc string) bool {
	if len(o.limits) == 0 {
		return false
	}
	prefix := actionPrefix[svc]
	if prefix == "" {
		prefix = strings.ToLower(svc)
	}
	key := acct + "/" + prefix
	l, ok := o.limits[key] // SetAccountRateLimit
	if !ok {
		l, ok = o.limits[prefix]
	}
	if !ok {
		if l, ok = o.limits["*"]; !ok {
			return false
		}
	}
	b := o.buckets[key]
	if b == nil {
		burst := l.Burst
		if burst <= 0 {
			burst = max(1, int(l.Rate))
		}
		b = rate.NewLimiter(rate.Limit(l.Rate), burst)
		b.SetBurstAt(o.now(), burst) // the bucket is full at the Org's time
		o.buckets[key] = b
	}
	if b.AllowN(o.now(), 1) {
		return false
	}
	if o.throttled == nil {
		o.throttled = map[string]int{}
	}
	o.throttled[acct+"|"+svc]++
	return true
}

// throttleError is the error each service answers when it throttles, as the
// SDK surfaces it: IAM and STS `Throttling` (Query protocol, HTTP 400),
// Organizations the modelled TooManyRequestsException, EC2
// `RequestLimitExceeded`, S3 `SlowDown` (503), the JSON services
// `ThrottlingException`. Every one is retried by the SDK's standard
// retryer and recognised by awsapi.IsThrottle.
func throttleError(svc string) error {
	const msg = "Rate exceeded"
	switch svc {
	case "Organizations":
		return &orgtypes.TooManyRequestsException{Message: aws.String(msg), Type: aws.String("RequestThrottled")}
	case "EC2":
		return &smithy.GenericAPIError{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Fault: smithy.FaultClient}
	case "S3":
		return &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate.", Fault: smithy.FaultServer}
	case "IAM", "STS":
		return &smithy.GenericAPIError{Code: "Throttling", Message: msg, Fault: smithy.FaultClient}
	}
	return &smithy.GenericAPIError{Code: "ThrottlingException", Message: msg, Fault: smithy.FaultClient}
}

// AccountCalls returns the calls made through Provider clients per account
// and service: AccountCalls()["222222222222"]["IAM"]. Throttled calls count.
func (o *Org) AccountCalls() map[string]map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return splitCounts(o.acctCalls)
}

// Throttled returns the calls the rate limits refused, per account and
// service.
func (o *Org) Throttled() map[string]map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return splitCounts(o.throttled)
}

func splitCounts(m map[string]int) map[string]map[string]int {
	out := map[string]map[string]int{}
	for k, n := range m {
		acct, svc, _ := strings.Cut(k, "|")
		if out[acct] == nil {
			out[acct] = map[string]int{}
		}
		out[acct][svc] = n
	}
	return out
}

// applyRates sets a file's rate_limits (see ResolveRateLimits).
func applyRates(o *Org, r map[string]RateLimit) error {
	limits, err := ResolveRateLimits(r)
	if err != nil || limits == nil {
		return err
	}
	return o.SetRateLimits(limits)
}

// ResolveRateLimits checks the rate_limits of an organization or scenario
// file: a map of action prefix ("iam", "organizations", "sts", "ec2", "s3",
// ...; "*" for the rest) to {rate, burst}; the key "default" (its value
// ignored: `default: {}`) puts DefaultRateLimits under the services listed.
// Empty: nil (no throttling).
func ResolveRateLimits(r map[string]RateLimit) (map[string]RateLimit, error) {
	if len(r) == 0 {
		return nil, nil
	}
	limits := map[string]RateLimit{}
	if _, ok := r["default"]; ok {
		limits = DefaultRateLimits()
	}
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := r[k]
		switch {
		case k == "default":
			continue
		case !validRateKey(k):
			return nil, fmt.Errorf("rate_limits: %q is not a service: use an action prefix such as iam, organizations, sts, ec2, s3, * or default", clip(k))
		case l.Rate <= 0 || l.Rate > MaxRate || l.Burst < 0 || l.Burst > MaxRate:
			return nil, fmt.Errorf("rate_limits.%s: rate above 0 and at most %d calls/s, burst 0-%d", k, MaxRate, MaxRate)
		}
		limits[k] = l
	}
	return limits, nil
}

func validRateKey(k string) bool {
	if k == "*" {
		return true
	}
	if k == "" || len(k) > 32 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
