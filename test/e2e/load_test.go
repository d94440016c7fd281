package e2e

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/slackfake"
)

// BenchmarkLoad200 is the loopback load test: 200 signed slash commands per
// second for 5 s (open loop: a request is sent every 5 ms whether or not the
// previous ones were answered) to the in-process service, reporting the
// acknowledgement latency (p50, p99, max) and the throughput.
//
//   - help: the acknowledgement alone (signature check, parse, reply).
//   - plan: "plan deny-delete --all": signature check, parse, the audit write
//     of the accepted command, then, in the background, a read-only plan on
//     the simulated organization and a response_url post; the background
//     work competes with the acknowledgements for the CPU and the store.
//
// It creates no approval requests: 1000 cards in five seconds is not a
// workload killswitch has. Run it alone:
//
//	go test ./test/e2e -run XXX -bench BenchmarkLoad200 -benchtime 1x
func BenchmarkLoad200(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"help", "help"},
		{"plan", "plan deny-delete --all"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				loadRun(b, c.text, 200, 5*time.Second)
			}
		})
	}
}

func loadRun(b *testing.B, text string, rate int, d time.Duration) {
	b.StopTimer()
	e := newEnv(b, options{})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	var failed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	b.StartTimer()
	start := time.Now()
	tick := time.NewTicker(interval)
	for i := 0; i < n; i++ {
		if i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := slackfake.SlashBody(team, requester, channel, text, e.slack.HookURL("load"))
			req := slackfake.SignedRequest(b, e.srv.URL+"/slack/commands", secret, time.Now(), body)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			lat[i] = time.Since(t0)
			if err != nil || resp.StatusCode != http.StatusOK {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}(i)
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) time.Duration { return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(0.50)), "p50-ms")
	b.ReportMetric(ms(pct(0.99)), "p99-ms")
	b.ReportMetric(ms(sorted[len(sorted)-1]), "max-ms")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(failed), "failed")
	if failed > 0 {
		b.Errorf("%d of %d requests failed", failed, n)
	}
	if pct(0.99) >= 3*time.Second {
		b.Errorf("p99 acknowledgement %s is over Slack's 3 s", pct(0.99))
	}
}
