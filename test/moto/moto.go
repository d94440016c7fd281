// Package moto runs the moto AWS emulator (https://docs.getmoto.org) as a
// child process for tests: `python3 -m moto.server` on a free loopback port,
// one server per test (or per package), stopped by t.Cleanup.
//
// Install: python3 -m pip install 'moto[server]'   (tested with moto 5.2.1)
//
// # How moto models accounts (moto 5, server mode; read from moto's source and verified by the tests)
//
//   - Every request acts in one account, chosen in this order:
//     1. the MOTO_ACCOUNT_ID environment variable of the moto process (Start
//     removes it from the child's environment, so it never applies here);
//     2. the request header x-moto-account-id;
//     3. the account owning the request's access key id: keys returned by
//     sts:AssumeRole of arn:aws:iam::X:role/R act in account X, and access
//     keys of IAM users act in the user's account;
//     4. otherwise the default account 123456789012 — AWSConfig's static
//     credentials (AKIAIOSFODNN7EXAMPLE) land there.
//   - sts:AssumeRole never checks that the role exists, its trust policy or
//     sts:ExternalId, and no IAM policy is evaluated (moto's IAM auth is off
//     by default). The role ARN alone picks the account; GetCallerIdentity
//     with the returned keys answers
//     arn:aws:sts::X:assumed-role/R/<RoleSessionName>.
//   - organizations:CreateAccount (from the organization's management
//     account) gives the member a random 12-digit id (possibly with leading
//     zeros), ACTIVE at once (CreateAccountStatus State SUCCEEDED), and creates
//     the role OrganizationAccountAccessRole (or the request's RoleName) in
//     the member, trusting the management account's root — as AWS does. To act
//     inside a member, assume that role (what AWS does too) or send
//     x-moto-account-id.
//   - ListAccounts from the management account lists the management account
//     and every member; member accounts can call DescribeOrganization.
//   - State is global to the server process: use Reset between tests that
//     share a server, or one server per test.
package moto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// DefaultAccount is the account of requests signed with credentials moto did
// not issue (AWSConfig's static credentials).
const DefaultAccount = "123456789012"

// Region is the region of AWSConfig.
const Region = "us-east-1"

// Fake static credentials, in AWS's documented example format.
const (
	AccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// InstallHint tells how to get moto.
const InstallHint = "install the AWS emulator with: python3 -m pip install 'moto[server]' (needs python3 >= 3.9)"

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	portAttempts = 5
)

// Server is a running moto server.
type Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:41234.
	Endpoint string

	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan struct{} // closed when the process has exited
	exitErr error         // set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts a moto server on a free loopback port and waits until it
// answers. The error names the missing piece when python3 or moto is not
// installed.
func Start() (*Server, error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("moto: python3 not found in PATH: %s", InstallHint)
	}
	var lastErr error
	for attempt := 0; attempt < portAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("moto: find a free port: %w", err)
		}
		s, err := start(python, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
	return nil, lastErr
}

// StartT starts a server for t and stops it when t ends. It fails t when the
// server cannot start; it never skips: the emulator is a required test
// dependency (test/run.sh installs it).
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("moto: stop: %v", err)
		}
	})
	return s
}

var errPortInUse = errors.New("port in use")

func start(python string, port int) (*Server, error) {
	cmd := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = childEnv()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("moto: start %s: %w", python, err)
	}
	s := &Server{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		cmd:      cmd,
		out:      out,
		exited:   make(chan struct{}),
	}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.exited:
			output := out.String()
			switch {
			case strings.Contains(output, "No module named"):
				return nil, fmt.Errorf("moto: python3 cannot run moto.server (%s): %s\n%s", firstLine(output, "No module named"), InstallHint, output)
			case strings.Contains(output, "Address already in use"):
				return nil, fmt.Errorf("moto: %s: %w", s.Endpoint, errPortInUse)
			}
			return nil, fmt.Errorf("moto: server exited before answering (%v): %s\n%s", s.exitErr, InstallHint, output)
		default:
		}
		resp, err := client.Get(s.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, fmt.Errorf("moto: %s did not answer within %s\n%s", s.Endpoint, startTimeout, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the server's process group and waits for it. It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			return // already gone (crashed, or never answered)
		default:
		}
		_ = signalGroup(s.cmd, false)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = signalGroup(s.cmd, true)
			select {
			case <-s.exited:
			case <-time.After(stopTimeout):
				s.stopErr = fmt.Errorf("moto: server pid %d did not exit", s.cmd.Process.Pid)
			}
		}
	})
	return s.stopErr
}

// Reset drops all emulated state (POST /moto-api/reset).
func (s *Server) Reset() error {
	resp, err := http.Post(s.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("moto: reset: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto: reset: %s", resp.Status)
	}
	return nil
}

// Output returns what the server printed so far (its request log), for
// failure messages.
func (s *Server) Output() string { return s.out.String() }

// AWSConfig returns a hermetic SDK config for the server: static fake
// credentials (acting in DefaultAccount), region us-east-1, BaseEndpoint =
// s.Endpoint. It reads no environment variable and no shared config file.
func (s *Server) AWSConfig(ctx context.Context) aws.Config {
	_ = ctx
	cfg := aws.NewConfig()
	cfg.Region = Region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""))
	cfg.BaseEndpoint = aws.String(s.Endpoint)
	return *cfg
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// childEnv is the environment without MOTO_ACCOUNT_ID (it would pin every
// request to one account) and with unbuffered output.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MOTO_ACCOUNT_ID=") || strings.HasPrefix(kv, "PYTHONUNBUFFERED=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONUNBUFFERED=1")
}

func firstLine(s, containing string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, containing) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// maxOutput bounds the captured output; older output is dropped.
const maxOutput = 1 << 20

// syncBuffer is a bytes.Buffer safe for the process's writes and our reads,
// keeping about the last maxOutput bytes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.buf.Len() > maxOutput {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-maxOutput/2:]...)
		b.buf.Reset()
		b.buf.Write(tail)
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
