package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Smithy middleware for Config.APIOptions (or any SDK client's APIOptions).

// middlewareSeq makes the ids of repeatable middleware unique on a stack.
var middlewareSeq atomic.Int64

type accountKey struct{}

// tagAccount is the first API option of every factory client: it records in
// the context which account the client acts in, for InjectFaults. It always
// overwrites, so the STS client assuming a role for a member account's call
// (same context) is tagged with its own account, "".
func tagAccount(account string) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("killswitch.Account",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(context.WithValue(ctx, accountKey{}, account), in)
			}), middleware.Before)
	}
}

// callTimeout bounds every operation (Initialize runs once per call, before
// the retry loop and the credential retrieval, so both are bounded too).
func callTimeout(d time.Duration) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("killswitch.CallTimeout",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				cctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				out, md, err := next.HandleInitialize(cctx, in)
				if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
					err = &CallTimeoutError{After: d, Err: err}
				}
				return out, md, err
			}), middleware.Before)
	}
}

// CallTimeoutError is a call that got no answer within Config.CallTimeout.
type CallTimeoutError struct {
	After time.Duration
	Err   error
}

func (e *CallTimeoutError) Error() string {
	return fmt.Sprintf("no answer from AWS within %s (aws.call_timeout): %v", e.After, e.Err)
}

func (e *CallTimeoutError) Unwrap() error { return e.Err }

// accountFrom returns the account of the factory client making the call, or
// "" (the base principal's STS client, or a client not made by a Factory).
func accountFrom(ctx context.Context) string {
	a, _ := ctx.Value(accountKey{}).(string)
	return a
}

// RecordOperations returns an API option whose Initialize-step middleware
// calls rec with the service id (e.g. "IAM", "STS", "Organizations",
// "Secrets Manager") and the operation name (e.g. "ListUsers") of every call.
// It counts once per operation invocation: the Initialize step runs before
// the retry loop, so retried attempts are not counted again (InjectFaults
// counts attempts). rec may be called concurrently.
func RecordOperations(rec func(service, operation string)) func(*middleware.Stack) error {
	id := fmt.Sprintf("killswitch.RecordOperations.%d", middlewareSeq.Add(1))
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc(id,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				svc := awsmiddleware.GetServiceID(ctx)
				if ctx.Value(rootSessionKey{}) != nil {
					svc = RootSessionService // authorized by its task policy, not the bot's (root.go)
				}
				rec(svc, awsmiddleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// FaultRule makes matching attempts fail without reaching AWS. Empty Account,
// Service or Operation match anything; Service is the SDK service id ("IAM",
// "STS", "Organizations", "Secrets Manager"), compared case-insensitively.
// Account is the account of the Factory client; the STS client that assumes
// the roles counts as account "".
type FaultRule struct {
	Account, Service, Operation string
	// Code is the AWS error code returned, default "Throttling". Throttle
	// codes (retry.DefaultThrottleErrorCodes) and 5xx statuses are retried by
	// the standard retryer; other codes surface at once.
	Code string
	// Status is the HTTP status of the synthetic response, default 400.
	Status int
	// Times is how many attempts fail; a negative Times fails every matching
	// attempt; 0 disables the rule.
	Times int
}

// Injection is one fault InjectFaults returned.
type Injection struct {
	Account, Service, Operation, Code string
	Status                            int
}

// FaultRules is a concurrency-safe set of fault rules and the log of the
// faults injected. The zero value is ready to use.
type FaultRules struct {
	mu       sync.Mutex
	rules    []FaultRule
	injected []Injection
}

// NewFaultRules returns rules holding rs.
func NewFaultRules(rs ...FaultRule) *FaultRules {
	r := &FaultRules{}
	for _, rule := range rs {
		r.Add(rule)
	}
	return r
}

// Add appends a rule; the first matching rule with Times left wins.
func (r *FaultRules) Add(rule FaultRule) {
	if rule.Code == "" {
		rule.Code = "Throttling"
	}
	if rule.Status == 0 {
		rule.Status = http.StatusBadRequest
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rules = append(r.rules, rule)
}

// Injected returns how many faults were injected.
func (r *FaultRules) Injected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.injected)
}

// Injections returns a copy of the faults injected, in order.
func (r *FaultRules) Injections() []Injection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Injection(nil), r.injected...)
}

// take consumes one fault of the first matching rule with Times left.
func (r *FaultRules) take(account, service, operation string) (FaultRule, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.rules {
		rule := &r.rules[i]
		if rule.Times == 0 ||
			(rule.Account != "" && rule.Account != account) ||
			(rule.Service != "" && !strings.EqualFold(rule.Service, service)) ||
			(rule.Operation != "" && rule.Operation != operation) {
			continue
		}
		if rule.Times > 0 {
			rule.Times--
		}
		r.injected = append(r.injected, Injection{Account: account, Service: service, Operation: operation, Code: rule.Code, Status: rule.Status})
		return *rule, true
	}
	return FaultRule{}, false
}

// InjectFaults returns an API option whose Finalize-step middleware sits right
// after the SDK's retry middleware, so every attempt passes through it and the
// retryer really retries. While a matching rule has Times left, the attempt
// fails with the error AWS would produce — an HTTP response error with the
// rule's status wrapping an API error with the rule's code — so IsThrottle,
// ErrorCode and the retryer classify it as they would a real one.
func InjectFaults(rules *FaultRules) func(*middleware.Stack) error {
	id := fmt.Sprintf("killswitch.InjectFaults.%d", middlewareSeq.Add(1))
	return func(s *middleware.Stack) error {
		m := middleware.FinalizeMiddlewareFunc(id,
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				service, operation := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				rule, ok := rules.take(accountFrom(ctx), service, operation)
				if !ok {
					return next.HandleFinalize(ctx, in)
				}
				return middleware.FinalizeOutput{}, middleware.Metadata{}, injectedError(rule)
			})
		if _, ok := s.Finalize.Get("Retry"); ok {
			return s.Finalize.Insert(m, "Retry", middleware.After)
		}
		// A stack without the retry middleware: still fail each attempt.
		return s.Finalize.Add(m, middleware.Before)
	}
}

func injectedError(rule FaultRule) error {
	fault := smithy.FaultClient
	if rule.Status >= 500 {
		fault = smithy.FaultServer
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{
				StatusCode: rule.Status,
				Status:     fmt.Sprintf("%d %s", rule.Status, http.StatusText(rule.Status)),
				Header:     http.Header{},
			}},
			Err: &smithy.GenericAPIError{Code: rule.Code, Message: "injected fault", Fault: fault},
		},
		RequestID: "killswitch-injected-fault",
	}
}
