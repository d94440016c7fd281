package awsint

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/test/moto"
)

// One moto server serves the whole test binary (starting one costs about
// 1-2 s of python start-up); every test resets it and seeds a fresh
// organization, so the tests run one after another, never in parallel.
var (
	srv  *moto.Server
	shim *Shim
	// botOps counts every operation made by the bot's factories (never the
	// test's own seeding or checking clients), for the least-privilege check
	// run after all tests.
	botOps = newOpCounter()
	// logrusOut captures the standard logrus logger for the whole run.
	logrusOut = &SyncBuffer{}
)

// The factory's retry settings in these tests.
const (
	maxAttempts = 3
	maxBackoff  = 10 * time.Millisecond
	concurrency = 4
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	start := time.Now()
	s, err := moto.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "awsint:", err)
		return 1
	}
	defer func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "awsint:", err)
		}
	}()
	srv = s
	if testing.Verbose() {
		fmt.Printf("awsint: moto %s started in %s\n", s.Endpoint, time.Since(start).Round(time.Millisecond))
	}
	sh, err := StartShim(s.Endpoint)
	if err != nil {
		fmt.Fprintln(os.Stderr, "awsint:", err)
		return 1
	}
	defer sh.Close()
	shim = sh
	logrus.SetOutput(logrusOut)
	logrus.SetLevel(logrus.DebugLevel)
	defer cleanBinary()

	code := m.Run()

	// Least privilege: what the bot's factories recorded, and what reached
	// the shim on the wire (every attempt, the CLI's included). The test's
	// own seeding and checking clients use neither.
	for _, c := range []struct {
		what string
		ops  map[string]int
	}{{"recorded by the factories", botOps.snapshot()}, {"seen on the wire by the shim", shim.Operations()}} {
		if problems := leastPrivilegeProblems(c.ops); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: least privilege: the bot made calls its rendered bot-policy does not allow (%s):\n  %s\n", c.what, strings.Join(problems, "\n  "))
			code = 1
		} else if testing.Verbose() && len(c.ops) > 0 {
			fmt.Printf("awsint: least privilege: all %d operations %s are allowed by bot-policy\n", len(c.ops), c.what)
		}
	}
	if testing.Verbose() {
		fmt.Printf("awsint: the shim stood in for moto: %v\n", shim.StoodIn())
	}
	return code
}

// opCounter counts "Service:Operation" as RecordOperations reports them.
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func newOpCounter() *opCounter { return &opCounter{ops: map[string]int{}} }

func (c *opCounter) record(service, op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops[service+":"+op]++
}

func (c *opCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.ops))
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

func (c *opCounter) total() int {
	n := 0
	for _, v := range c.snapshot() {
		n += v
	}
	return n
}

// motoConfig is the test's own SDK config: static credentials acting in the
// management account (moto's default account), talking to moto directly.
func motoConfig() aws.Config { return srv.AWSConfig(context.Background()) }

// readState reads the whole organization with the test's own clients
// (ReadState), failing the test when it cannot.
func readState(tb testing.TB, org *Org, secrets map[string]string) *OrgState {
	tb.Helper()
	st, err := ReadState(context.Background(), motoConfig(), org, secrets)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// defaultSeed is the organization most tests use: management + 2 members,
// each with 7 users, 9-10 roles and 2 groups.
var defaultSeed = SeedOptions{Members: 2, ExtraUsers: 2, ExtraRoles: 1}

// reseed drops all emulated state and seeds a fresh organization.
func reseed(tb testing.TB, opt SeedOptions) *Org {
	tb.Helper()
	if err := srv.Reset(); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	org, err := Seed(context.Background(), motoConfig(), opt)
	if err != nil {
		tb.Fatalf("%v\nmoto output (tail):\n%s", err, tail(srv.Output(), 3000))
	}
	if org.Management != moto.DefaultAccount {
		tb.Fatalf("management account %s, want moto's default %s", org.Management, moto.DefaultAccount)
	}
	tb.Logf("seeded %d accounts in %s", len(org.IDs()), time.Since(start).Round(time.Millisecond))
	return org
}

// newFactory is the bot's real client factory on the emulator (through the
// shim), recording every operation into botOps (and into extra recorders).
func newFactory(tb testing.TB, extra ...func(*middleware.Stack) error) *awsapi.Factory {
	tb.Helper()
	base := motoConfig()
	f, err := awsapi.NewFactory(context.Background(), awsapi.Config{
		Region:            moto.Region,
		EndpointURL:       shim.URL,
		RoleName:          ResponderRole,
		ManagementAccount: moto.DefaultAccount,
		MaxAttempts:       maxAttempts,
		MaxBackoff:        maxBackoff,
		APIOptions:        append([]func(*middleware.Stack) error{awsapi.RecordOperations(botOps.record)}, extra...),
		Base:              &base,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func newEngine(tb testing.TB, p awsapi.Provider, onCall func(actions.Call)) *actions.Engine {
	tb.Helper()
	e, err := actions.New(p, actions.Config{
		BreakGlassPatterns: []string{BreakGlassPattern},
		BreakGlassTag:      BreakGlassTag,
		BotRoleName:        ResponderRole,
		Concurrency:        concurrency,
		ConfirmTimeout:     ConfirmTimeout,
		OnCall:             onCall,
		Regions:            Regions,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// stepRecorder keeps the recorded steps, as the store does.
type stepRecorder struct {
	mu    sync.Mutex
	steps []actions.Step
}

// Record keeps the latest record of each step key, like the store: a step
// is recorded as started before its AWS call and again with its outcome.
func (r *stepRecorder) Record(_ context.Context, s actions.Step) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.steps {
		if r.steps[i].Key == s.Key {
			r.steps[i] = s
			return nil
		}
	}
	r.steps = append(r.steps, s)
	return nil
}

func (r *stepRecorder) all() []actions.Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]actions.Step(nil), r.steps...)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
