package sim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// Fault makes calls fail or slow down.
type Fault struct {
	// Account whose clients are affected; "" or "*" = every account.
	Account string
	// Operation is the SDK operation name, e.g. "UpdateAccessKey", or
	// "Service.Operation" (e.g. "IAM.ListPolicies" versus
	// "Organizations.ListPolicies"); "*" or "" = every operation.
	// "AssumeRole" affects Provider.Clients itself.
	Operation string
	// Throttle returns &smithy.GenericAPIError{Code: "Throttling"}.
	Throttle bool
	// Err is returned (wrapped like the SDK wraps errors) when Throttle is
	// false; nil with Latency alone only delays the call.
	Err error
	// Times is how many calls the fault affects; 0 = every call.
	Times int
	// Latency is slept (outside the Org's lock, honouring ctx) before the
	// call proceeds or fails.
	Latency time.Duration
}

type faultState struct {
	f    Fault
	left int
}

// InjectFault adds a fault. The first matching fault (in injection order)
// applies to a call.
func (o *Org) InjectFault(f Fault) {
	o.mu.Lock()
	o.faults = append(o.faults, &faultState{f: f, left: f.Times})
	o.mu.Unlock()
}

// ClearFaults removes every fault.
func (o *Org) ClearFaults() {
	o.mu.Lock()
	o.faults = nil
	o.mu.Unlock()
}

// Calls returns the number of API calls made through Provider clients, by
// "Service.Operation" (e.g. "IAM.ListUsers", "Organizations.AttachPolicy",
// "STS.GetCallerIdentity", "SecretsManager.CreateSecret"; "STS.AssumeRole"
// counts Provider.Clients). Failed and faulted calls count too.
func (o *Org) Calls() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return copyCounts(o.calls)
}

// ResetCalls zeroes the call counters.
func (o *Org) ResetCalls() {
	o.mu.Lock()
	o.calls = map[string]int{}
	o.acctCalls = map[string]int{}
	o.throttled = map[string]int{}
	o.mu.Unlock()
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (o *Org) matchFaultLocked(acct, svc, op string) (Fault, bool) {
	for i, fs := range o.faults {
		f := fs.f
		if f.Account != "" && f.Account != "*" && f.Account != acct {
			continue
		}
		if f.Operation != "" && f.Operation != "*" && f.Operation != op && f.Operation != svc+"."+op {
			continue
		}
		if f.Times > 0 {
			fs.left--
			if fs.left <= 0 {
				o.faults = append(o.faults[:i:i], o.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// preflight counts the call and applies faults. It sleeps without the lock.
func (o *Org) preflight(ctx context.Context, acct, svc, op string) error {
	o.mu.Lock()
	o.calls[svc+"."+op]++
	if o.acctCalls == nil {
		o.acctCalls = map[string]int{}
	}
	o.acctCalls[acct+"|"+svc]++
	f, ok := o.matchFaultLocked(acct, svc, op)
	throttled := !(ok && (f.Throttle || f.Err != nil)) && o.throttledLocked(acct, svc)
	clock := o.sched.Clock
	o.mu.Unlock()
	if throttled {
		return throttleError(svc)
	}
	if ok && f.Latency > 0 && clock != nil { // a drill: the fault's latency is simulated time
		if err := clock.Sleep(ctx, f.Latency); err != nil {
			return err
		}
	} else if ok && f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if ok {
		switch {
		case f.Throttle:
			return &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}
		case f.Err != nil:
			return f.Err
		}
	}
	return nil
}

var serviceIDs = map[string]string{"IAM": "IAM", "Organizations": "Organizations", "STS": "STS", "SecretsManager": "Secrets Manager", "EC2": "EC2",
	"RecycleBin": "rbin", "Backup": "Backup", "S3": "S3", "SSOAdmin": "SSO Admin", "IdentityStore": "identitystore"}
var actionPrefix = map[string]string{"IAM": "iam", "Organizations": "organizations", "STS": "sts", "SecretsManager": "secretsmanager", "EC2": "ec2",
	"RecycleBin": "rbin", "Backup": "backup", "S3": "s3", "SSOAdmin": "sso", "IdentityStore": "identitystore"}

// opErr wraps err like the SDK does, so errors.As finds the typed exception
// and the message names the operation.
func opErr(svc, op string, err error) error {
	return &smithy.OperationError{ServiceID: serviceIDs[svc], OperationName: op, Err: err}
}

// ---- provider and per-account connection ----

type provider struct {
	o    *Org
	role string
	err  error // an invalid role name: every Clients call fails
}

var _ awsapi.Provider = (*provider)(nil)

// Provider returns clients acting in each account as the bot role
// botRoleName ("" = DefaultBotRole). The role is created in every account
// now (and in accounts added later), with no policies; it is an ordinary
// role, so exemption logic can see it and policies the bot attaches to it
// apply to the bot's own calls: every call except STS GetCallerIdentity is
// authorized like Authorize with a session issued when Clients was called,
// and an explicit deny fails it with the service's AccessDenied error. An
// invalid role name makes every Clients call fail.
func (o *Org) Provider(botRoleName string) awsapi.Provider {
	if botRoleName == "" {
		botRoleName = DefaultBotRole
	}
	if err := validName("role", botRoleName, 64); err != nil {
		return &provider{o: o, role: botRoleName, err: fmt.Errorf("sim: bot role: %w", err)}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	known := false
	for _, r := range o.botRoles {
		known = known || r == botRoleName
	}
	if !known {
		o.botRoles = append(o.botRoles, botRoleName)
		for _, id := range o.accountIDsLocked() {
			o.ensureBotRoleLocked(o.accounts[id], botRoleName)
			o.ensureCanaryRoleLocked(o.accounts[id], botRoleName)
		}
	}
	return &provider{o: o, role: botRoleName}
}

// Clients implements awsapi.Provider.
func (p *provider) Clients(ctx context.Context, acct string) (*awsapi.Clients, error) {
	if p.err != nil {
		return nil, p.err
	}
	o := p.o
	o.mu.Lock()
	a := o.accounts[acct]
	o.mu.Unlock()
	if a == nil {
		return nil, fmt.Errorf("sim: assume role %s in account %q: account is not in the simulated organization (accounts: %s)",
			p.role, clip(acct), strings.Join(o.Accounts(), ", "))
	}
	if err := o.preflight(ctx, acct, "STS", "AssumeRole"); err != nil {
		return nil, fmt.Errorf("sim: assume role %s in %s: %w", p.role, acct, opErr("STS", "AssumeRole", err))
	}
	if err := o.latency(ctx, "sts"); err != nil {
		return nil, fmt.Errorf("sim: assume role %s in %s: %w", p.role, acct, opErr("STS", "AssumeRole", err))
	}
	o.mu.Lock()
	issued := o.now()
	o.mu.Unlock()
	session := sessionName(awsapi.RequestID(ctx))
	c := &conn{o: o, account: acct, role: p.role, session: session, issued: issued}
	return &awsapi.Clients{
		Account:        acct,
		IAM:            &iamClient{c},
		Organizations:  &orgsClient{c},
		STS:            &stsClient{c},
		SecretsManager: &smClient{c},
		SSOAdmin:       &ssoAdminClient{c},
		IdentityStore:  &identityStoreClient{c},
		Canary:         &ec2Client{&conn{o: o, account: acct, role: awsapi.CanaryRoleName, session: session, issued: issued}},
		Region:         Region,
		InRegion:       regionalClients(c),
		Root:           &rootSessions{c},
	}, nil
}

// sessionName is "killswitch" or "killswitch-<request id>", limited to the
// characters and length AWS allows in a role session name.
func sessionName(reqID string) string {
	s := "killswitch"
	if reqID != "" {
		var b strings.Builder
		for _, r := range reqID {
			switch {
			case r < 0x80 && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
				('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')):
				b.WriteRune(r)
			default:
				b.WriteByte('-')
			}
		}
		s += "-" + b.String()
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

type conn struct {
	o       *Org
	account string
	role    string
	session string
	issued  time.Time
	// rootTask: a root session of the account (sts:AssumeRoot) limited
	// to this task policy, instead of a role session (root.go).
	rootTask string
}

func (c *conn) principal() string {
	if c.rootTask != "" {
		return "arn:aws:iam::" + c.account + ":root"
	}
	return "arn:aws:sts::" + c.account + ":assumed-role/" + c.role + "/" + c.session
}

// do runs one API call: count, faults, the bot's own authorization, then fn
// under the Org's lock. resource (nil = "*") names the resource for
// authorization and runs under the lock.
func (c *conn) do(ctx context.Context, svc, op string, resource func(a *account) string, fn func(a *account) error) error {
	o := c.o
	if err := o.preflight(ctx, c.account, svc, op); err != nil {
		return opErr(svc, op, err)
	}
	if err := o.latency(ctx, actionPrefix[svc]); err != nil {
		return opErr(svc, op, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[c.account]
	if svc != "STS" {
		res := "*"
		if resource != nil {
			res = resource(a)
		}
		action := actionPrefix[svc] + ":" + op
		if err := o.authorizeLocked(Credential{Account: c.account, Principal: c.principal(), SessionIssued: c.issued, RootTask: c.rootTask}, action, res); err != nil {
			return opErr(svc, op, accessDenied(svc, c.principal(), action, res, err))
		}
	}
	if err := fn(a); err != nil {
		return opErr(svc, op, err)
	}
	if o.firstChange.IsZero() && mutating(op) {
		o.firstChange = o.now()
	}
	return nil
}

// mutating reports whether an operation changes state (by AWS's naming:
// reads are List*, Get*, Describe*).
func mutating(op string) bool {
	if op == "AssumeRoot" { // a session, not a change anyone can see
		return false
	}
	for _, p := range []string{"List", "Get", "Describe"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	return true
}

// FirstChange is when the bot's first successful change was made (zero
// before any): the first thing an intruder watching the account can see.
func (o *Org) FirstChange() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.firstChange
}

// call runs one API call through do and returns out, which fn fills in, or
// the error.
func call[O any](ctx context.Context, c *conn, svc, op string, resource func(a *account) string, out *O, fn func(a *account) error) (*O, error) {
	if err := c.do(ctx, svc, op, resource, fn); err != nil {
		return nil, err
	}
	return out, nil
}

func accessDenied(svc, principal, action, resource string, err error) error {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s (%v)", principal, action, resource, err)
	switch svc {
	case "Organizations":
		return &orgtypes.AccessDeniedException{Message: aws.String(msg)}
	case "SecretsManager":
		return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: msg, Fault: smithy.FaultClient}
	}
	return &smithy.GenericAPIError{Code: "AccessDenied", Message: msg, Fault: smithy.FaultClient}
}

// ---- parameter helpers ----

// orEmpty returns in, or a zero input when the caller passed nil.
func orEmpty[T any](in *T) *T {
	if in == nil {
		return new(T)
	}
	return in
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// required mirrors the SDK's client-side validation error for missing
// parameters (it names every required field of the operation).
func required(input string, fields ...string) error {
	e := smithy.InvalidParamsError{Context: input}
	for _, f := range fields {
		e.Add(smithy.NewErrParamRequired(f))
	}
	return e
}

func validationError(msg string) error {
	return &smithy.GenericAPIError{Code: "ValidationError", Message: msg, Fault: smithy.FaultClient}
}
