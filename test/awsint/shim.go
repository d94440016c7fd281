package awsint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// CanaryDryRun marks, in Operations, an EC2 DeleteSnapshot that is the
// guardrail canary's dry run (DryRun=true on awsapi.CanarySnapshotID):
// "ec2:DeleteSnapshot (canary dry run)". Any other DeleteSnapshot is counted
// as "ec2:DeleteSnapshot".
const CanaryDryRun = " (canary dry run)"

// Shim is a loopback reverse proxy in front of moto for the clients under
// test (the bot's factory, the CLI). It forwards every request unchanged and
// stands in only where moto answers an operation it does not implement with
// a server error: it then returns the answer AWS gives for the seeded
// organization. Today that is iam:ListServiceSpecificCredentials, which moto
// 5.2.1 answers with HTTP 500 (the seed can make no such credentials either:
// moto lacks CreateServiceSpecificCredential), so the true answer is an
// empty list. When moto implements an operation its own answer passes
// through and the shim stays out of the way.
//
// It also counts every request by SigV4 signing name and operation
// (Operations), so a test can check what reached AWS from any process; the
// guardrail canary's dry runs are told apart (CanaryDryRun); REST requests
// (S3, AWS Backup, Recycle Bin) are named by backups_rest.go. It stands in
// for none of the data-protection calls moto lacks (Recycle Bin, snapshot
// locks, recovery points): backup-readiness must survive them, and
// TestBackupReadinessOnMoto shows it does.
// The test's own seeding and checking clients talk to moto directly.
type Shim struct {
	// URL is the endpoint to give the clients under test.
	URL string

	srv *http.Server

	target string

	mu       sync.Mutex
	stoodIn  map[string]int
	ops      map[string]int      // "signing name:Operation", e.g. "iam:ListUsers"
	rootKeys map[string]struct{} // access key ids of the root sessions it stood in for (root_shim.go)
}

// standIns are the AWS answers for operations moto lacks (query protocol,
// IAM namespace), keyed by the form's Action.
var standIns = map[string]string{
	"ListServiceSpecificCredentials": `<ListServiceSpecificCredentialsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">` +
		`<ListServiceSpecificCredentialsResult><ServiceSpecificCredentials/></ListServiceSpecificCredentialsResult>` +
		`<ResponseMetadata><RequestId>killswitch-shim</RequestId></ResponseMetadata></ListServiceSpecificCredentialsResponse>`,
	// centralised root access (root_shim.go): moto 5.2.1 answers 500; the
	// emulated Organization is taken to have it enabled
	"ListOrganizationsFeatures": `<ListOrganizationsFeaturesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">` +
		`<ListOrganizationsFeaturesResult><EnabledFeatures><member>RootCredentialsManagement</member><member>RootSessions</member></EnabledFeatures></ListOrganizationsFeaturesResult>` +
		`<ResponseMetadata><RequestId>killswitch-shim</RequestId></ResponseMetadata></ListOrganizationsFeaturesResponse>`,
}

type actionKey struct{}

// formKey carries the request's form values to modify.
type formKey struct{}

// maxFormBody bounds the request bodies the shim reads to find the action.
const maxFormBody = 8 << 20

// StartShim starts the proxy on a free loopback port, forwarding to target
// (the moto endpoint).
func StartShim(target string) (*Shim, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("shim: bad target %q", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("shim: listen: %w", err)
	}
	s := &Shim{URL: "http://" + ln.Addr().String(), target: target, stoodIn: map[string]int{}, ops: map[string]int{}, rootKeys: map[string]struct{}{}}
	proxy := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ModifyResponse: s.modify,
	}
	s.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			action, canary := "", false
			var form url.Values
			if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody))
				if err != nil {
					http.Error(w, "shim: read body: "+err.Error(), http.StatusBadGateway)
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				if vals, err := url.ParseQuery(string(body)); err == nil {
					form = vals
					action = vals.Get("Action")
					canary = action == "DeleteSnapshot" && vals.Get("DryRun") == "true" && vals.Get("SnapshotId") == awsapi.CanarySnapshotID
				}
			}
			op := action
			if canary {
				op += CanaryDryRun
			}
			if t := r.Header.Get("X-Amz-Target"); t != "" { // JSON protocols: Organizations, Secrets Manager
				op = t[strings.LastIndex(t, ".")+1:]
			}
			if op == "" { // REST protocols: S3, Backup, Recycle Bin (backups_rest.go)
				op = restOperation(signingName(r.Header.Get("Authorization")), r.Method, r.URL)
			}
			if s.rootSession(w, r, action, form) {
				return
			}
			s.mu.Lock()
			s.ops[signingName(r.Header.Get("Authorization"))+":"+op]++
			s.mu.Unlock()
			ctx := context.WithValue(context.WithValue(r.Context(), actionKey{}, action), formKey{}, form)
			proxy.ServeHTTP(w, r.WithContext(ctx))
		}),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *Shim) modify(resp *http.Response) error {
	action, _ := resp.Request.Context().Value(actionKey{}).(string)
	if action == "AssumeRoot" && resp.StatusCode >= 500 {
		form, _ := resp.Request.Context().Value(formKey{}).(url.Values)
		return s.assumeRoot(resp, form)
	}
	answer, ok := standIns[action]
	if !ok || resp.StatusCode < 500 {
		return nil
	}
	_ = resp.Body.Close()
	s.mu.Lock()
	s.stoodIn[action]++
	s.mu.Unlock()
	resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	resp.Body = io.NopCloser(strings.NewReader(answer))
	resp.ContentLength = int64(len(answer))
	resp.Header = http.Header{}
	resp.Header.Set("Content-Type", "text/xml")
	resp.Header.Set("Content-Length", strconv.Itoa(len(answer)))
	resp.Header.Set("X-Amzn-Requestid", "killswitch-shim")
	return nil
}

// signingName is the service of a SigV4 Authorization header's credential
// scope (Credential=AKID/date/region/SERVICE/aws4_request), e.g. "iam".
func signingName(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "unsigned"
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return "unsigned"
	}
	return parts[3]
}

// Operations returns how many HTTP requests the shim saw per
// "signing name:Operation" (e.g. "iam:ListUsers"): every attempt of every
// client using the shim, in this process or another (the CLI).
func (s *Shim) Operations() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.ops {
		out[k] = v
	}
	return out
}

// StoodIn returns how often the shim answered for moto, per operation.
func (s *Shim) StoodIn() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.stoodIn {
		out[k] = v
	}
	return out
}

// Close stops the proxy.
func (s *Shim) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shim: %w", err)
	}
	return nil
}
