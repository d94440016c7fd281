package bot

import (
	"encoding/json"
	"io"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus collectors.
type metrics struct {
	slackRequests  *prometheus.CounterVec
	decisions      *prometheus.CounterVec
	actionDuration *prometheus.HistogramVec
	awsCalls       *prometheus.CounterVec
	queueDepth     prometheus.Gauge
	queueBusy      prometheus.Gauge
	queueRejected  *prometheus.CounterVec
}

func newMetrics() metrics {
	return metrics{
		slackRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "killswitch_slack_requests_total",
			Help: "Slack requests (slash commands, interactions) by endpoint and outcome.",
		}, []string{"endpoint", "outcome"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "killswitch_decisions_total",
			Help: "Decisions on requests: approval, approved, rejected, cancelled, expired, refused.",
		}, []string{"decision"}),
		actionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "killswitch_action_duration_seconds",
			Help:    "Duration of action runs (apply or undo) by action and final status.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"action", "status"}),
		awsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "killswitch_aws_calls_total",
			Help: "AWS API calls made by the engine, by service, operation and outcome.",
		}, []string{"service", "operation", "outcome"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "killswitch_queue_depth",
			Help: "Plans and runs waiting for a worker.",
		}),
		queueBusy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "killswitch_queue_workers_busy",
			Help: "Workers planning or running (at most service.workers).",
		}),
		queueRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "killswitch_queue_rejected_total",
			Help: "Work refused because the queue was full, by kind: plan (the requester was told to retry), run (the request stays approved; the sweeper queues it again).",
		}, []string{"kind"}),
	}
}

func (m metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.slackRequests, m.decisions, m.actionDuration, m.awsCalls, m.queueDepth, m.queueBusy, m.queueRejected} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
