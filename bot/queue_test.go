package bot

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/slackfake"
	"github.com/killswitch/killswitch/bot/store"
)

// gatedEngine is stubEngine whose plans wait while the gate is shut (or
// until their context ends); in counts the plans waiting.
type gatedEngine struct {
	stubEngine
	shut atomic.Bool
	open chan struct{} // closed: every waiting plan goes on
	once sync.Once
	in   atomic.Int64
}

func (g *gatedEngine) Plan(ctx context.Context, action string, accounts []string, opt actions.Options) (*actions.Plan, error) {
	if g.shut.Load() {
		g.in.Add(1)
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.stubEngine.Plan(ctx, action, accounts, opt)
}

func (g *gatedEngine) release() { g.once.Do(func() { g.shut.Store(false); close(g.open) }) }

// gated is a fixture on a gated engine, released before the fixture's
// shutdown whatever the test's outcome.
func gated(t *testing.T, tweaks ...func(*Config)) (*gatedEngine, *fixture) {
	eng := &gatedEngine{open: make(chan struct{})}
	f := newFixture(t, eng, tweaks...)
	t.Cleanup(eng.release)
	return eng, f
}

// value reads a counter or a gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// waitIdle waits until no worker is busy.
func (f *fixture) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for value(t, f.svc.metrics.queueBusy) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the workers never went idle")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func withQueue(workers, size int) func(*Config) {
	return func(c *Config) { c.Workers, c.Queue = workers, size }
}

// burst sends n plan commands at once, each with its own response_url
// hook ("b0", "b1", …), and returns the acknowledgements' texts.
func (f *fixture) burst(t *testing.T, n int) []string {
	t.Helper()
	acks := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := slackfake.SlashBody(team, requester, channel, "plan lockdown --all", f.slack.HookURL(fmt.Sprintf("b%d", i)))
			code, out := f.do(t, slackfake.SignedRequest(t, f.srv.URL+"/slack/commands", testSecret, time.Now(), body))
			if code != http.StatusOK {
				t.Errorf("command %d: %d %s", i, code, out)
			}
			acks[i] = out
		}()
	}
	wg.Wait()
	return acks
}

// TestBurstBeyondTheBoundLosesNothing: with 2 workers and 3 places, 20 plan
// commands at once while planning is held: exactly 5 are taken (each later
// gets its plan through its response_url), the 15 others are told in their
// acknowledgement that killswitch is busy and nothing was done, and get
// nothing else; none is lost, and once the queue drains a command is taken
// again.
func TestBurstBeyondTheBoundLosesNothing(t *testing.T) {
	eng, f := gated(t, withQueue(2, 3))
	eng.shut.Store(true)
	const n = 20
	acks := f.burst(t, n)
	var taken, busy []int
	for i, a := range acks {
		switch {
		case strings.Contains(a, "Planning lockdown"):
			taken = append(taken, i)
		case strings.Contains(a, "killswitch is busy: ") && strings.Contains(a, "requests are queued; nothing was done, try again in a few seconds."):
			busy = append(busy, i)
		default:
			t.Errorf("command %d: neither taken nor refused: %s", i, a)
		}
	}
	if len(taken) != 5 || len(busy) != n-5 {
		t.Fatalf("taken %d, busy %d; want 5 and %d", len(taken), len(busy), n-5)
	}
	if got := value(t, f.svc.metrics.queueRejected.WithLabelValues(jobPlan)); got != n-5 {
		t.Errorf("rejections counted: %v", got)
	}
	if got := value(t, f.svc.metrics.queueDepth); got != 3 {
		t.Errorf("queue depth while held: %v, want 3", got)
	}
	eng.release()
	for _, i := range taken {
		hook := fmt.Sprintf("b%d", i)
		f.slack.WaitNth(t, 20*time.Second, "the plan of "+hook, 0, func(c slackfake.Call) bool {
			return c.Method == slackfake.ResponseURL && c.Hook == hook
		})
	}
	for _, i := range busy {
		if calls := f.slack.Hook(fmt.Sprintf("b%d", i)); len(calls) > 0 {
			t.Errorf("refused command %d got a response: %s", i, calls[0].AllText())
		}
	}
	if _, r := f.slash(t, requester, "plan lockdown --all"); !strings.Contains(r.Text, "Planning lockdown") {
		t.Errorf("after the queue drained: %s", r.Text)
	}
	if got := value(t, f.svc.metrics.queueDepth); got != 0 {
		t.Errorf("queue depth after draining: %v", got)
	}
}

// TestApprovalPastTheBoundStaysApprovedAndRuns: the approving click comes
// while the queue is full of plans: the request is approved in the store,
// the approver is told it starts by itself, the sweeper's attempts are
// refused while the queue stays full and the request stays approved, and
// once the plans end the sweeper queues the run, which succeeds.
func TestApprovalPastTheBoundStaysApprovedAndRuns(t *testing.T) {
	eng, f := gated(t, withQueue(1, 1), func(c *Config) { c.SweepInterval = 20 * time.Millisecond })
	if _, r := f.slash(t, requester, "lockdown --all attacker in the console"); !strings.Contains(r.Text, "Planning lockdown") {
		t.Fatalf("request: %s", r.Text)
	}
	id, ts := f.postedCard(t)
	f.waitIdle(t)

	eng.shut.Store(true)
	for i, a := range f.burst(t, 2) {
		if !strings.Contains(a, "Planning lockdown") {
			t.Fatalf("plan %d not taken: %s", i, a)
		}
	}
	f.click(t, approver, ts, ActionApprove, id)
	told := f.slack.WaitNth(t, 20*time.Second, "the approver told the run waits", 0, func(c slackfake.Call) bool {
		return c.Method == slackfake.PostEphemeral && strings.Contains(c.AllText(), "is approved and nothing is lost")
	})
	if !strings.Contains(told.AllText(), "killswitch is busy: ") || !strings.Contains(told.AllText(), id) {
		t.Errorf("the approver was told: %s", told.AllText())
	}
	// the sweeper tries again and is refused too: still approved
	deadline := time.Now().Add(20 * time.Second)
	for value(t, f.svc.metrics.queueRejected.WithLabelValues(jobRun)) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper never tried to queue the approved request again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r, err := f.st.GetRequest(context.Background(), id); err != nil || r.State != store.Approved {
		t.Fatalf("while the queue is full: %v %v, want approved", r.State, err)
	}

	eng.release()
	if r := f.waitState(t, id); r.State != store.Succeeded {
		t.Fatalf("after the queue drained: %s, want succeeded", r.State)
	}
}

// TestShutdownParksQueuedWork: at shutdown's deadline, plans that never
// started are not run: each requester is told nothing was done and to try
// again; the running one is stopped; Shutdown says how many it parked.
func TestShutdownParksQueuedWork(t *testing.T) {
	eng, f := gated(t, withQueue(1, 2))
	eng.shut.Store(true)
	for i, a := range f.burst(t, 3) {
		if !strings.Contains(a, "Planning lockdown") {
			t.Fatalf("plan %d not taken: %s", i, a)
		}
	}
	for eng.in.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := f.svc.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 queued job(s) not started") {
		t.Fatalf("shutdown: %v", err)
	}
	parked, stopped := 0, 0
	for i := range 3 {
		calls := f.slack.Hook(fmt.Sprintf("b%d", i))
		if len(calls) != 1 {
			t.Fatalf("command %d: %d responses", i, len(calls))
		}
		switch text := calls[0].AllText(); {
		case strings.Contains(text, "killswitch is restarting and never started your plan; nothing was done. Try again in a minute."):
			parked++
		case strings.Contains(text, "Could not plan lockdown"):
			stopped++
		default:
			t.Errorf("command %d: %s", i, text)
		}
	}
	if parked != 2 || stopped != 1 {
		t.Errorf("parked %d, stopped %d; want 2 and 1", parked, stopped)
	}
	if eng.in.Load() != 1 {
		t.Errorf("%d plans started, want 1", eng.in.Load())
	}
}
