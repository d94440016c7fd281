package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions/sim"
	"github.com/killswitch/killswitch/bot/slackfake"
)

// ackOutcome is how one slash command was answered.
type ackOutcome int

const (
	ackFailed ackOutcome = iota // no acknowledgement (transport error, non-200, not JSON)
	ackTaken                    // "Planning …": the plan must follow through response_url
	ackBusy                     // "killswitch is busy: …": refused past the bound, nothing else follows
	ackOther                    // an answer that is neither
)

// ackRun is the outcome of a burst of `plan` commands.
type ackRun struct {
	sent    []time.Time
	lat     []time.Duration
	outcome []ackOutcome
	elapsed time.Duration
}

// sendPlans sends n signed `plan deny-delete --all` commands, one every
// interval (open loop: whether or not the earlier ones were answered; 0 =
// all at once), each with its own response_url hook "PREFIX-i".
func sendPlans(t testing.TB, e *env, prefix string, n int, interval time.Duration) *ackRun {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}
	r := &ackRun{sent: make([]time.Time, n), lat: make([]time.Duration, n), outcome: make([]ackOutcome, n)}
	var wg sync.WaitGroup
	var tick *time.Ticker
	if interval > 0 {
		tick = time.NewTicker(interval)
		defer tick.Stop()
	}
	start := time.Now()
	for i := range n {
		if tick != nil && i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := slackfake.SlashBody(team, requester, channel, "plan deny-delete --all", e.slack.HookURL(fmt.Sprintf("%s-%d", prefix, i)))
			req := slackfake.SignedRequest(t, e.srv.URL+"/slack/commands", secret, time.Now(), body)
			t0 := time.Now()
			r.sent[i] = t0
			resp, err := client.Do(req)
			var raw []byte
			if err == nil {
				raw, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			r.lat[i] = time.Since(t0)
			var rep slashReply
			switch {
			case err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &rep) != nil:
				r.outcome[i] = ackFailed
			case strings.HasPrefix(rep.Text, "Planning deny-delete"):
				r.outcome[i] = ackTaken
			case strings.HasPrefix(rep.Text, "killswitch is busy: ") && strings.HasSuffix(rep.Text, "queued; nothing was done, try again in a few seconds."):
				r.outcome[i] = ackBusy
			default:
				r.outcome[i] = ackOther
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// settle waits (up to timeout) until every taken command has its plan, and
// returns per command the first response_url post (zero Call: none).
func (r *ackRun) settle(e *env, prefix string, timeout time.Duration) []slackfake.Call {
	replies := make([]slackfake.Call, len(r.outcome))
	deadline := time.Now().Add(timeout)
	for {
		for _, c := range e.slack.Calls() {
			var i int
			if c.Method != slackfake.ResponseURL || !c.OK() {
				continue
			}
			if _, err := fmt.Sscanf(c.Hook, prefix+"-%d", &i); err == nil && i >= 0 && i < len(replies) && replies[i].Method == "" {
				replies[i] = c
			}
		}
		missing := 0
		for i, o := range r.outcome {
			if o == ackTaken && replies[i].Method == "" {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return replies
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lost counts the commands with no acknowledgement, an unexpected one, a
// taken one without its plan, or a refused one that got a plan anyway.
func (r *ackRun) lost(replies []slackfake.Call) (lost, taken, busy int) {
	for i, o := range r.outcome {
		got := replies[i].Method != ""
		switch {
		case o == ackTaken && got && strings.Contains(replies[i].AllText(), "deny-delete"):
			taken++
		case o == ackBusy && !got:
			busy++
		default:
			lost++
		}
	}
	return lost, taken, busy
}

// describeLost says, for the first few lost commands, what happened.
func (r *ackRun) describeLost(replies []slackfake.Call) string {
	var out []string
	for i, o := range r.outcome {
		got := replies[i].Method != ""
		if (o == ackTaken && got) || (o == ackBusy && !got) || len(out) >= 5 {
			continue
		}
		out = append(out, fmt.Sprintf("#%d outcome %d, ack after %s, reply %q", i, o, r.lat[i], cut(replies[i].AllText(), 120)))
	}
	return strings.Join(out, "; ")
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkAck1000 sends 1,000 signed `plan deny-delete --all` slash
// commands per second for 3 s (open loop) to the in-process service (the
// real handler on httptest, the fake Slack, the simulated organization, a
// SQLite store) at the default bound (bot.DefaultWorkers,
// bot.DefaultQueue), and reports the acknowledgement latency (p50, p99,
// max), the plans' reply latency, how many were taken and planned, how
// many were refused as busy, and how many were lost: no acknowledgement,
// or taken without its plan within 60 s after the last one. It asserts
// only that none is lost. Run it alone:
//
//	go test ./test/e2e -run XXX -bench BenchmarkAck1000 -benchtime 1x
func BenchmarkAck1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, options{})
		b.StartTimer()
		prefix := fmt.Sprintf("ack%d", i)
		r := sendPlans(b, e, prefix, 3000, time.Millisecond)
		b.StopTimer()
		replies := r.settle(e, prefix, 60*time.Second)
		lost, taken, busy := r.lost(replies)
		acks := append([]time.Duration(nil), r.lat...)
		sort.Slice(acks, func(i, j int) bool { return acks[i] < acks[j] })
		var plans []time.Duration
		for i, c := range replies {
			if r.outcome[i] == ackTaken && c.Method != "" {
				plans = append(plans, c.At.Sub(r.sent[i]))
			}
		}
		sort.Slice(plans, func(i, j int) bool { return plans[i] < plans[j] })
		b.ReportMetric(ms(pct(acks, 0.50)), "ack-p50-ms")
		b.ReportMetric(ms(pct(acks, 0.99)), "ack-p99-ms")
		b.ReportMetric(ms(acks[len(acks)-1]), "ack-max-ms")
		b.ReportMetric(ms(pct(plans, 0.99)), "plan-p99-ms")
		b.ReportMetric(float64(len(r.lat))/r.elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(taken), "planned")
		b.ReportMetric(float64(busy), "busy")
		b.ReportMetric(float64(lost), "lost")
		if lost > 0 {
			b.Errorf("%d of %d commands lost (planned %d, busy %d): %s", lost, len(r.lat), taken, busy, r.describeLost(replies))
		}
	}
}

// TestBurstPastTheBoundEndToEnd: 60 plan commands at once on a service of
// 1 worker and 2 places whose plans are slowed (every AWS read takes
// 300 ms): every command gets either its plan through response_url or, in
// its acknowledgement, the busy refusal and nothing else; some are
// refused; none is lost.
func TestBurstPastTheBoundEndToEnd(t *testing.T) {
	e := newEnv(t, options{workers: 1, queue: 2, faults: []sim.Fault{{Latency: 300 * time.Millisecond}}})
	const n = 60
	r := sendPlans(t, e, "burst", n, 0)
	replies := r.settle(e, "burst", 60*time.Second)
	lost, taken, busy := r.lost(replies)
	for i, o := range r.outcome {
		if o == ackOther || o == ackFailed {
			t.Errorf("command %d: outcome %d", i, o)
		}
	}
	if lost > 0 || taken+busy != n {
		t.Fatalf("lost %d, planned %d, busy %d of %d", lost, taken, busy, n)
	}
	if busy == 0 || taken == 0 {
		t.Fatalf("planned %d, busy %d: the burst should pass the bound of 3", taken, busy)
	}
	t.Logf("planned %d, refused busy %d, lost 0", taken, busy)
}
