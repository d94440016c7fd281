package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
)

// Audit events written by the bot (besides approval's transitions).
const (
	EventCommand      = "command"       // a plan, request or undo command was accepted
	EventApplyStarted = "apply_started" // the engine starts (or resumes) a request's run
	EventStep         = "step"          // one recorded step
	EventParked       = "parked"        // a run was stopped at shutdown; it resumes at next start
)

// errAuditFailed stops a run whose AWS calls cannot be audited.
var errAuditFailed = errors.New("the audit log could not record an AWS call; stopped")

// run is a request being run by this process.
type run struct {
	cancel context.CancelCauseFunc
}

// claim marks id as being run here; false if it already is.
func (s *Service) claim(id string, cancel context.CancelCauseFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.active[id]; ok {
		return false
	}
	s.active[id] = &run{cancel: cancel}
	return true
}

func (s *Service) release(id string) {
	s.mu.Lock()
	delete(s.active, id)
	s.mu.Unlock()
}

// execute runs request id: an approved request is started (compare-and-swap:
// one winner), a running one is resumed when resume is set (at Start). The
// engine re-reads the live state, so a resumed run skips what is done.
func (s *Service) execute(ctx context.Context, id string, resume bool) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !s.claim(id, cancel) {
		return
	}
	defer s.release(id)
	log := s.log.WithField("request_id", id)
	// Another replica may be running (or resuming) it: the store's run lock
	// is held for the whole run and dies with its holder.
	unlock, ok, err := s.d.Store.TryRunLock(ctx, id)
	if err != nil {
		log.WithError(err).Error("take the run lock")
		return
	}
	if !ok {
		log.Debug("another replica is running this request")
		return
	}
	defer unlock()
	r, err := s.d.Store.GetRequest(ctx, id)
	if err != nil {
		log.WithError(err).Error("read the request to run")
		return
	}
	resumed := false
	switch r.State {
	case store.Approved:
		r, err = s.d.Approval.Start(ctx, id)
		var ref *approval.Refusal
		if errors.As(err, &ref) {
			log.WithField("refusal", ref.Msg).Info("not starting")
			return
		}
		if err != nil {
			log.WithError(err).Error("start the request")
			s.refreshCard(ctx, id)
			return
		}
	case store.Running:
		if !resume {
			return
		}
		resumed = true
	default:
		return
	}
	log = log.WithField("action", r.Action)
	// the steps a run before this one recorded (a crash, a shutdown): the
	// engine skips what is done, so the result must add them back
	var prior []actions.Step
	recorded := 0
	if resumed {
		if steps, err := s.d.Store.Steps(ctx, id); err == nil {
			recorded = len(steps)
		}
		if prior, err = s.loadSteps(ctx, id); err != nil {
			log.WithError(err).Warn("read the steps recorded before the restart; the result counts only this run's")
			prior = nil
		}
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	err = s.d.Audit.Event(wctx, approval.SystemActor, id, EventApplyStarted, map[string]any{
		"kind": r.Kind, "action": r.Action, "accounts": r.Accounts, "resumed": resumed, "recorded_steps": recorded,
		"revoke_before": r.PinnedAt.UTC().Format(time.RFC3339Nano),
	})
	wcancel()
	if err != nil {
		log.WithError(err).Error("audit the start of the run")
		s.finish(ctx, r, nil, s.now(), fmt.Errorf("%w: %v", errAuditFailed, err), log)
		return
	}
	s.refreshCard(ctx, id)
	if resumed {
		s.threadPost(ctx, id, fmt.Sprintf(":arrows_counterclockwise: Resuming %s after a restart: %s already recorded. The bot re-reads the live state and skips what is done.",
			what(r), plural(recorded, "step was", "steps were")), nil)
	} else {
		s.threadPost(ctx, id, fmt.Sprintf(":hourglass_flowing_sand: Running %s on %s…", what(r), plural(len(r.Accounts), "account", "accounts")), nil)
	}
	log.WithField("resumed", resumed).Info("run started")

	start := time.Now()
	opt := actions.Options{RequestID: id, RevokeBefore: r.PinnedAt, IdentityCenter: r.Principals}
	rec, stopSlow := s.watchSlowSteps(ctx, id, log, s.recorder(id, log)) // slowsteps.go
	defer stopSlow()
	var res *actions.Result
	if r.Kind != store.KindUndo {
		opt.Baseline = s.baselineFor(ctx, r.Accounts)
	}
	if r.Kind == store.KindUndo {
		var steps []actions.Step
		steps, err = s.loadSteps(ctx, r.UndoOf)
		if err == nil {
			res, err = s.d.Engine.Undo(ctx, r.Action, steps, opt, rec)
		}
	} else {
		res, err = s.d.Engine.Apply(ctx, r.Action, r.Accounts, opt, rec)
	}
	cause := context.Cause(ctx)
	if ctx.Err() != nil && errors.Is(cause, errParked) {
		s.park(ctx, r, log)
		return
	}
	if ctx.Err() != nil && errors.Is(cause, errAuditFailed) {
		err = cause
	}
	before := 0
	if res != nil {
		before = withRecorded(res, prior)
	}
	s.finishResumed(ctx, r, res, start, err, before, log)
}

// withRecorded adds to res the steps of prior (what earlier runs of the same
// request recorded before a crash or a shutdown) that this run did not
// redo, before this run's steps in their account, so that the result counts
// every step of the request. This run's record of a key wins: it re-read
// the live state. It returns how many steps it added.
func withRecorded(res *actions.Result, prior []actions.Step) int {
	seen := map[string]bool{}
	for _, st := range res.Steps() {
		seen[st.Key] = true
	}
	add := map[string][]actions.Step{}
	var order []string
	n := 0
	for _, st := range prior {
		if seen[st.Key] {
			continue
		}
		seen[st.Key] = true
		if _, ok := add[st.Account]; !ok {
			order = append(order, st.Account)
		}
		add[st.Account] = append(add[st.Account], st)
		n++
	}
	for _, acct := range order {
		i := slices.IndexFunc(res.Accounts, func(a actions.AccountResult) bool { return a.Account == acct })
		if i < 0 {
			status := actions.StatusSucceeded
			if _, failed := countSteps(add[acct]); failed > 0 {
				status = actions.StatusPartial
			}
			res.Accounts = append(res.Accounts, actions.AccountResult{Account: acct, Status: status})
			i = len(res.Accounts) - 1
		}
		res.Accounts[i].Steps = append(add[acct], res.Accounts[i].Steps...)
	}
	return n
}

// park leaves a run that shutdown interrupted in state running.
func (s *Service) park(ctx context.Context, r *store.Request, log logrus.FieldLogger) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	log.Warn("run parked at shutdown; it resumes at next start")
	if err := s.d.Audit.Event(wctx, approval.SystemActor, r.ID, EventParked, map[string]any{"reason": "shutdown"}); err != nil {
		log.WithError(err).Error("audit the parked run")
		return
	}
	s.threadPost(wctx, r.ID, ":pause_button: Paused: killswitch is shutting down. This run resumes when it is back; every step is idempotent.", nil)
}

// finish records the outcome, then updates the card and reports in the thread.
func (s *Service) finish(ctx context.Context, r *store.Request, res *actions.Result, start time.Time, runErr error, log logrus.FieldLogger) {
	s.finishResumed(ctx, r, res, start, runErr, 0, log)
}

// finishResumed is finish for a run whose result holds before steps that
// an earlier, interrupted run recorded.
func (s *Service) finishResumed(ctx context.Context, r *store.Request, res *actions.Result, start time.Time, runErr error, before int, log logrus.FieldLogger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	state := store.Failed
	var errMsg string
	if res != nil {
		switch res.Status {
		case actions.StatusSucceeded:
			state = store.Succeeded
		case actions.StatusPartial:
			state = store.Partial
		}
	}
	if runErr != nil {
		errMsg = cut(runErr.Error(), 1000)
		if errors.Is(runErr, errAuditFailed) {
			state = store.Failed
		}
	}
	var result []byte
	if res != nil {
		result, _ = json.Marshal(res)
	}
	s.metrics.actionDuration.WithLabelValues(r.Action, string(state)).Observe(time.Since(start).Seconds())
	if _, err := s.d.Approval.Finish(ctx, r.ID, state, result, errMsg); err != nil {
		// ErrAudit: the transition is not in the audit log, so Slack must
		// not show it; any other error: the request stays running and is
		// resumed (the engine skips what is done).
		log.WithError(err).Error("record the end of the run")
		return
	}
	log.WithField("status", state).Info("run finished")
	s.refreshCard(ctx, r.ID)
	v := resultView{Req: r, Result: res, Err: errMsg, Before: before}
	if res != nil && r.Kind == store.KindUndo {
		if orig, err := s.loadSteps(ctx, r.UndoOf); err == nil {
			v.Original = orig
		} else {
			log.WithError(err).Warn("read the undone request's steps for the report")
		}
	}
	if res != nil && r.Kind != store.KindUndo {
		var p actions.Plan
		if json.Unmarshal(r.Plan, &p) == nil {
			v.Plan = &p
			v.Unplanned, v.NotDone = actions.Diff(&p, res)
		}
	}
	text, blocks := resultMessage(v)
	s.threadPost(ctx, r.ID, text, blocks)
	s.checkpoint(ctx, r.ID, log)
}

// checkpoint signs the audit chain's head at the end of a request (when
// checkpoints are on), writes it to the log stream and posts it in the
// request's thread, so the head is kept where the database's owner cannot
// rewrite it.
func (s *Service) checkpoint(ctx context.Context, id string, log logrus.FieldLogger) {
	cp, ok, err := s.d.Audit.Checkpoint(ctx)
	if err != nil {
		log.WithError(err).Error("audit checkpoint")
		return
	}
	if !ok {
		return
	}
	line, _ := json.Marshal(cp)
	s.threadPost(ctx, id, fmt.Sprintf(":lock: Audit checkpoint: the audit log's head is entry %d, signed at %s. Keep it: `killswitch audit verify --checkpoint FILE` with this line in FILE checks that nothing was deleted or rewritten.\n```\n%s\n```",
		cp.Seq, cp.At.Format(time.RFC3339), line), nil)
}

// recorder persists each step (store, then audit) before the engine's next call.
func (s *Service) recorder(id string, log logrus.FieldLogger) actions.Recorder {
	return actions.RecorderFunc(func(ctx context.Context, st actions.Step) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		data, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode step %s: %w", st.Key, err)
		}
		if err := s.d.Store.PutStep(ctx, store.Step{RequestID: id, Key: st.Key, Data: data, At: st.At}); err != nil {
			return fmt.Errorf("store step %s: %w", st.Key, err)
		}
		ev := map[string]any{
			"key": st.Key, "action": st.Action, "account": st.Account, "op": st.Op, "principal": st.Principal,
			"resource": st.Resource, "change": st.Change, "status": st.Status, "reversible": st.Reversible,
		}
		if st.Error != "" {
			ev["error"] = st.Error
		}
		err = s.d.Audit.Event(ctx, approval.SystemActor, id, EventStep, ev)
		if errors.Is(err, audit.ErrSecret) {
			err = s.d.Audit.Event(ctx, approval.SystemActor, id, EventStep, map[string]any{
				"key": redactKey(st.Key), "account": st.Account, "op": st.Op, "status": st.Status, "redacted": "the step looked like it held a secret",
			})
		}
		if err != nil {
			return fmt.Errorf("audit step %s: %w", st.Key, err)
		}
		l := log.WithFields(logrus.Fields{"account": st.Account, "principal": st.Principal, "op": st.Op, "status": st.Status})
		if stepFailed(st) {
			l.WithField("error", st.Error).Warn("step failed")
		} else {
			l.Debug("step recorded")
		}
		return nil
	})
}

func redactKey(k string) string {
	if i := strings.LastIndex(k, "/"); i >= 0 {
		return k[:i] + "/…"
	}
	return "…"
}

// OnCall audits one AWS call of a request and counts it. Calls without a
// request id (read-only plans) are counted only. It is safe for concurrent
// use; see CallRouter to wire it into an engine built before the service.
func (s *Service) OnCall(c actions.Call) {
	s.metrics.awsCalls.WithLabelValues(c.Service, c.Operation, c.Outcome).Inc()
	if c.RequestID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ac := audit.Call{Service: c.Service, Operation: c.Operation, Account: c.Account, Target: c.Target, Outcome: c.Outcome, Error: c.Error}
	err := s.d.Audit.Call(ctx, approval.SystemActor, c.RequestID, ac)
	if errors.Is(err, audit.ErrSecret) {
		ac.Error, ac.Target = "[redacted: looked like a secret]", redactKey(ac.Target)
		err = s.d.Audit.Call(ctx, approval.SystemActor, c.RequestID, ac)
	}
	log := s.log.WithFields(logrus.Fields{"request_id": c.RequestID, "account": c.Account, "principal": c.Target,
		"service": c.Service, "operation": c.Operation, "outcome": c.Outcome})
	if err != nil {
		log.WithError(err).Error("audit an AWS call: stopping the run")
		s.mu.Lock()
		r := s.active[c.RequestID]
		s.mu.Unlock()
		if r != nil {
			r.cancel(errAuditFailed)
		}
		return
	}
	log.Debug("aws call")
}

// CallRouter forwards an engine's OnCall to a Service created after the
// engine (the service needs the engine, the engine needs the callback).
type CallRouter struct{ svc atomic.Pointer[Service] }

// Set routes calls to s.
func (r *CallRouter) Set(s *Service) { r.svc.Store(s) }

// OnCall is the engine's actions.Config.OnCall.
func (r *CallRouter) OnCall(c actions.Call) {
	if s := r.svc.Load(); s != nil {
		s.OnCall(c)
	}
}
