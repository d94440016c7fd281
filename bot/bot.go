// Package bot is killswitch's HTTP service and Slack adapter: request
// signature checks, the slash command grammar, the approval card and its
// buttons, Socket Mode, and the execution of approved requests. It is the
// only package that imports slack-go; the request workflow lives in
// bot/approval, persistence in bot/store, the audit chain in bot/audit and
// the AWS work in actions.
//
// Every slash command and button click is acknowledged at once; the work
// (planning, recording, running, reporting) happens in the background, and
// its outcome goes to the approval card (chat.update), the card's thread
// (chat.postMessage with thread_ts), or to the user who asked (response_url
// or chat.postEphemeral).
package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/runbook"
	"github.com/killswitch/killswitch/bot/store"
)

// Defaults of Config.
const (
	DefaultMaxBody       = 64 << 10
	DefaultSweepInterval = 15 * time.Second
)

// Config is what the service needs to know; secrets come from the
// environment (cmd reads them).
type Config struct {
	TeamID        string // requests from any other workspace are refused
	Channel       string // approval cards are posted here
	SigningSecret string // Slack signing secret (HTTP mode)
	Requesters    []string
	Approvers     []string
	Required      int
	Expiry        time.Duration // shown in help; approval.Service enforces it
	SocketMode    bool          // connect out with AppToken instead of receiving HTTP
	AppToken      string        // xapp-… (Socket Mode); Deps.Slack must carry it too
	Accounts      []string
	MaxBody       int64         // request body cap (default 64 KiB)
	SweepInterval time.Duration // how often pending requests are checked for expiry (default 15s)
	// ExemptBaseline: record exemption baselines (regularly while nothing
	// is pending or running, and with /killswitch baseline) and check
	// every plan and run against them (baseline.go). The Engine must then
	// implement ExemptBaseline and BaselineMinAge. Off: exemptions by tag
	// or pattern are not checked (drills).
	ExemptBaseline   bool
	BaselineInterval time.Duration // how often a baseline is recorded while idle (default 1h)
	// Runbooks is what the runbook pages say about this deployment
	// (default: the documents' example parameters).
	Runbooks *runbook.Deployment
	// PublicURL is the https base URL people reach the service at; drill
	// threads link their report under it (default: the path alone).
	PublicURL string
	// Workers and Queue bound planning and running (queue.go): at most
	// Workers plans and runs at once (default DefaultWorkers), at most
	// Queue more waiting (default DefaultQueue); past that a command is
	// answered "busy, try again" and nothing is recorded.
	Workers int
	Queue   int
}

// Engine is what the bot needs of *actions.Engine.
type Engine interface {
	Plan(ctx context.Context, action string, accounts []string, opt actions.Options) (*actions.Plan, error)
	Apply(ctx context.Context, action string, accounts []string, opt actions.Options, rec actions.Recorder) (*actions.Result, error)
	Undo(ctx context.Context, action string, steps []actions.Step, opt actions.Options, rec actions.Recorder) (*actions.Result, error)
}

var _ Engine = (*actions.Engine)(nil)

// Deps are the collaborators of the service.
type Deps struct {
	Engine   Engine
	Store    store.Store
	Audit    *audit.Log
	Approval *approval.Service
	// Slack is the Web API client (built with slack.OptionAPIURL when the
	// API URL is overridden, and slack.OptionAppLevelToken in Socket Mode).
	Slack *slack.Client
	Log   logrus.FieldLogger
	// Metrics, if set, also gets the service's collectors; /metrics always
	// serves the service's own registry.
	Metrics prometheus.Registerer
	Now     func() time.Time
	// HTTPClient posts to response_url (default: a client with a 10s timeout).
	HTTPClient *http.Client
	// Go runs background work (default: a goroutine); a drill passes its
	// virtual clock's Go so the service's work runs as lanes on simulated
	// time.
	Go func(ctx context.Context, f func(ctx context.Context))
	// Drills, if set, enables drill mode (/killswitch drill start SCENARIO).
	Drills DrillRunner
}

// slackAPI is the part of *slack.Client the bot calls.
type slackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
}

var _ slackAPI = (*slack.Client)(nil)

// Service is the Slack service.
type Service struct {
	cfg     Config
	d       Deps
	api     slackAPI
	log     logrus.FieldLogger
	now     func() time.Time
	http    *http.Client
	reg     *prometheus.Registry
	metrics metrics

	// background work: runs, async command handling, card updates
	runCtx    context.Context
	runCancel context.CancelCauseFunc
	// loops: the expiry sweeper and the Socket Mode connection
	loopCtx    context.Context
	loopCancel context.CancelFunc

	mu       sync.Mutex
	closing  bool
	started  bool
	wg       sync.WaitGroup
	loops    sync.WaitGroup
	active   map[string]*run // requests being run by this process
	cards    map[string]*cardState
	members  map[string]bool
	handlers http.Handler
	drill    *drillMode // the drill running in this process

	drillPages drillPages // HTML reports of drills run in Slack
	queue      workQueue  // planning and running (queue.go)
}

// errParked is the cause of the run context's cancellation at shutdown.
var errParked = errors.New("killswitch is shutting down")

// errClosing refuses new work once Shutdown has begun.
var errClosing = errors.New("killswitch is shutting down")

var (
	reUserID  = regexp.MustCompile(`^[UW][A-Z0-9]{2,31}$`)
	reTeamID  = regexp.MustCompile(`^T[A-Z0-9]{2,31}$`)
	reChannel = regexp.MustCompile(`^[CGD][A-Z0-9]{2,31}$`)
)

// New validates the configuration and builds the service. Call Start to
// begin background work and Shutdown to end it.
func New(cfg Config, d Deps) (*Service, error) {
	var probs []error
	bad := func(format string, a ...any) { probs = append(probs, fmt.Errorf(format, a...)) }
	if !reTeamID.MatchString(cfg.TeamID) {
		bad("bot: team id %q: a Slack team id looks like T0123ABCD", cfg.TeamID)
	}
	if !reChannel.MatchString(cfg.Channel) {
		bad("bot: channel %q: a Slack channel id looks like C0123ABCD", cfg.Channel)
	}
	if cfg.SigningSecret == "" && !cfg.SocketMode {
		bad("bot: the Slack signing secret is empty (SLACK_SIGNING_SECRET)")
	}
	if cfg.SocketMode && cfg.AppToken == "" {
		bad("bot: Socket Mode needs an app-level token (SLACK_APP_TOKEN)")
	}
	if len(cfg.Requesters) == 0 || len(cfg.Approvers) == 0 {
		bad("bot: list at least one requester and one approver")
	}
	for _, u := range append(slices.Clone(cfg.Requesters), cfg.Approvers...) {
		if !reUserID.MatchString(u) {
			bad("bot: %q is not a Slack user id (like U0123ABCD)", u)
		}
	}
	if cfg.Required < 1 {
		cfg.Required = 1
	}
	if len(cfg.Accounts) == 0 {
		bad("bot: no accounts in scope")
	}
	for _, a := range cfg.Accounts {
		if !actions.ValidAccountID(a) {
			bad("bot: account %q: an AWS account id is 12 digits", a)
		}
	}
	if d.Engine == nil || d.Store == nil || d.Audit == nil || d.Approval == nil || d.Slack == nil {
		bad("bot: Engine, Store, Audit, Approval and Slack are required")
	}
	if d.Approval != nil && d.Approval.Policy.Extra == nil {
		d.Approval.Policy.Extra = extraApprovals // irreversible actions need one more
	}
	if _, ok := d.Engine.(baseliner); cfg.ExemptBaseline && !ok {
		bad("bot: exemption baselines need an engine that records them (ExemptBaseline, BaselineMinAge)")
	}
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	if cfg.BaselineInterval <= 0 {
		cfg.BaselineInterval = DefaultBaselineInterval
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if d.Log == nil {
		l := logrus.New()
		l.SetFormatter(&logrus.JSONFormatter{})
		d.Log = l
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Service{
		cfg:     cfg,
		d:       d,
		api:     d.Slack,
		log:     d.Log,
		now:     d.Now,
		http:    d.HTTPClient,
		reg:     prometheus.NewRegistry(),
		metrics: newMetrics(),
		active:  map[string]*run{},
		cards:   map[string]*cardState{},
		members: map[string]bool{},
		queue:   workQueue{workers: cfg.Workers, size: cfg.Queue, keys: map[string]bool{}},
	}
	for _, u := range cfg.Requesters {
		s.members[u] = true
	}
	for _, u := range cfg.Approvers {
		s.members[u] = true
	}
	s.runCtx, s.runCancel = context.WithCancelCause(context.Background())
	s.loopCtx, s.loopCancel = context.WithCancel(context.Background())
	if err := s.metrics.register(s.reg); err != nil {
		return nil, err
	}
	if err := s.reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := s.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	if d.Metrics != nil {
		if err := s.metrics.register(d.Metrics); err != nil {
			return nil, fmt.Errorf("bot: register metrics: %w", err)
		}
	}
	s.handlers = s.routes()
	return s, nil
}

// Handler returns the HTTP routes: POST /slack/commands, POST
// /slack/interactions, GET /healthz, GET /readyz, GET /metrics, and the
// pages GET /runbooks, /runbooks/{action} and /drills/{id} (pages.go).
func (s *Service) Handler() http.Handler { return s.handlers }

func (s *Service) routes() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/slack/commands", s.handleCommands).Methods(http.MethodPost)
	r.HandleFunc("/slack/interactions", s.handleInteractions).Methods(http.MethodPost)
	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	s.pageRoutes(r)
	return r
}

// Start begins the background work: the expiry sweeper, the resumption of
// requests a previous process left approved or running, and the Socket
// Mode connection. The work outlives ctx (which only bounds reading what
// to resume); Shutdown ends it.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.closing {
		s.mu.Unlock()
		return errors.New("bot: Start called twice or after Shutdown")
	}
	s.started = true
	s.mu.Unlock()

	s.loop(s.sweep)
	if s.cfg.ExemptBaseline {
		s.loop(s.baselineLoop)
	}
	if s.cfg.SocketMode {
		s.loop(s.runSocketMode)
	}
	if err := s.resume(ctx); err != nil {
		return fmt.Errorf("bot: resume: %w", err)
	}
	return nil
}

// resume runs every request left running or approved by a process that
// died. The store's run lock lets only one replica run each; the sweeper
// calls this again, so a replica takes over when another one dies.
func (s *Service) resume(ctx context.Context) error {
	reqs, err := s.d.Approval.Resumable(ctx)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if s.isActive(r.ID) || s.isQueued(r.ID) {
			continue
		}
		log := s.log.WithFields(logrus.Fields{"request_id": r.ID, "action": r.Action})
		if err := s.queueRun(r.ID, true); err != nil {
			logQueueFull(log, err)
			continue
		}
		log.Infof("resuming %s request", r.State)
	}
	return nil
}

func (s *Service) isActive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.active[id]
	return ok
}

// Shutdown stops the loops and waits for the background work, the queued
// plans and runs included (they drain). When ctx ends first, the runs'
// context is cancelled: the engine stops before its next step (an AWS call
// in flight is interrupted and its step recorded as failed), and the
// requests stay running ("parked"): the next Start resumes them, and every
// step is idempotent. Queued work that never started is parked too: an
// approved request stays approved and is resumed at the next start, a
// plan's requester is told to ask again. It returns ctx's error then.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.loopCancel()
	s.loops.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.runCancel(errParked)
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	parked := len(s.active)
	s.mu.Unlock()
	s.log.WithField("parked", parked).Warn("shutdown deadline reached: parking running requests; they resume at next start")
	s.runCancel(errParked)
	queued := s.parkWaiting()
	<-done
	return fmt.Errorf("bot: shutdown: %w (%d running request(s) parked, %d queued job(s) not started)", ctx.Err(), parked, queued)
}

// spawn runs f in the background unless the service is shutting down.
func (s *Service) spawn(f func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	if s.d.Go != nil {
		s.d.Go(s.runCtx, func(ctx context.Context) {
			defer s.wg.Done()
			f(ctx)
		})
		return true
	}
	go func() {
		defer s.wg.Done()
		f(s.runCtx)
	}()
	return true
}

func (s *Service) loop(f func(ctx context.Context)) {
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		f(s.loopCtx)
	}()
}

func (s *Service) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Service) isMember(user string) bool { return s.members[user] }

func (s *Service) isRequester(user string) bool { return slices.Contains(s.cfg.Requesters, user) }

// sweep expires pending requests past their expiry and updates their cards.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		expired, err := s.d.Approval.ExpireDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WithError(err).Error("expire pending requests")
		}
		for _, r := range expired {
			s.metrics.decisions.WithLabelValues("expired").Inc()
			id := r.ID
			s.spawn(func(ctx context.Context) { s.refreshCard(ctx, id) })
		}
		if err := s.resume(ctx); err != nil && ctx.Err() == nil {
			s.log.WithError(err).Error("resume requests left running")
		}
	}
}

func (s *Service) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Service) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	status := map[string]string{"config": "ok", "store": "ok"}
	code := http.StatusOK
	if err := s.d.Store.Ping(ctx); err != nil {
		status["store"] = "unreachable"
		code = http.StatusServiceUnavailable
	}
	if closing {
		status["service"] = "shutting down"
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_ = writeJSONTo(w, status)
}
