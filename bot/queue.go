package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults of Config.Workers and Config.Queue.
const (
	// DefaultWorkers is how many plans and runs the service works on at
	// once. A plan or a run is mostly waiting on AWS (the engine has its
	// own per-account concurrency inside it), so this bounds memory and
	// the store's write load rather than CPU.
	DefaultWorkers = 8
	// DefaultQueue is how many more wait for a worker before the service
	// answers "busy": at the simulation's plan speed on 2 cores they are
	// worked off in well under a second; on AWS, a few seconds each.
	DefaultQueue = 64
)

// Kinds of queued work (the metrics' kind label).
const (
	jobPlan = "plan" // plan, request, undo, baseline: read AWS, answer, maybe post a card
	jobRun  = "run"  // an approved request's run (or its resumption)
)

// job is one piece of planning or running work.
type job struct {
	kind string
	key  string // a run's request id: it is queued at most once
	f    func(ctx context.Context)
	// park is called instead of f when shutdown's deadline passes before
	// the job started (with a context that outlives the service briefly).
	park func(ctx context.Context)
}

// workQueue bounds the service's planning and running: at most workers
// jobs run at once and at most size more wait (runs before plans: an
// approved containment never waits behind dry runs). Its fields are
// guarded by Service.mu; a worker is a lane started with Deps.Go (a
// goroutine, or a lane of a drill's virtual clock) that takes the next
// job when it ends its current one and exits when none is left, so an
// idle service has no worker and a drill stays deterministic.
type workQueue struct {
	workers, size int
	running       int // workers started
	reserved      int // slots held by commands being acknowledged
	runs, plans   []job
	keys          map[string]bool // run jobs queued or running
}

// queueFull is the refusal past the bound.
type queueFull struct{ depth int }

func (q queueFull) Error() string {
	return fmt.Sprintf("killswitch is busy: %s queued", plural(q.depth, "request is", "requests are"))
}

// busyText tells a requester the command was not taken.
func busyText(depth int) string {
	return fmt.Sprintf("killswitch is busy: %s queued; nothing was done, try again in a few seconds.", plural(depth, "request is", "requests are"))
}

func (q *workQueue) waiting() int { return len(q.runs) + len(q.plans) }

// full reports whether one more job would pass the bound.
func (q *workQueue) full() bool {
	return q.running+q.waiting()+q.reserved >= q.workers+q.size
}

// depth is what waits for a worker, reservations included.
func (q *workQueue) depth() int { return q.waiting() + q.reserved }

// slot is a place in the queue held while a command is acknowledged (its
// audit write), so that the requester is told "busy" before anything is
// recorded, and an accepted command always finds its place.
type slot struct {
	s    *Service
	once sync.Once
}

// reserve holds a place for a plan job, or tells why there is none: the
// service is shutting down (errClosing) or the queue is full (queueFull).
func (s *Service) reserve(kind string) (*slot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, errClosing
	}
	if s.queue.full() {
		s.metrics.queueRejected.WithLabelValues(kind).Inc()
		return nil, queueFull{depth: s.queue.depth()}
	}
	s.queue.reserved++
	s.wg.Add(1) // Shutdown waits for what was accepted
	s.queueGaugesLocked()
	return &slot{s: s}, nil
}

// release gives the place back unused.
func (sl *slot) release() { sl.once.Do(func() { sl.s.fill(nil) }) }

// submit puts j in the reserved place.
func (sl *slot) submit(j job) { sl.once.Do(func() { sl.s.fill(&j) }) }

func (s *Service) fill(j *job) {
	s.mu.Lock()
	s.queue.reserved--
	if j != nil {
		s.pushLocked(*j)
	}
	s.queueGaugesLocked()
	s.mu.Unlock()
	s.wg.Done()
}

// enqueue queues a job (a run: at most once per request; a second enqueue
// of a queued or running request succeeds without queueing it again).
func (s *Service) enqueue(j job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errClosing
	}
	if j.key != "" && s.queue.keys[j.key] {
		return nil
	}
	if s.queue.full() {
		s.metrics.queueRejected.WithLabelValues(j.kind).Inc()
		return queueFull{depth: s.queue.depth()}
	}
	s.pushLocked(j)
	s.queueGaugesLocked()
	return nil
}

// isQueued reports whether request id's run is queued or running here.
func (s *Service) isQueued(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.keys[id]
}

func (s *Service) pushLocked(j job) {
	if j.key != "" {
		s.queue.keys[j.key] = true
	}
	if j.kind == jobRun {
		s.queue.runs = append(s.queue.runs, j)
	} else {
		s.queue.plans = append(s.queue.plans, j)
	}
	if s.queue.running < s.queue.workers {
		s.startWorkerLocked()
	}
}

func (s *Service) startWorkerLocked() {
	s.queue.running++
	s.wg.Add(1)
	work := func(ctx context.Context) {
		defer s.wg.Done()
		s.work(ctx)
	}
	if s.d.Go != nil {
		s.d.Go(s.runCtx, work)
		return
	}
	go work(s.runCtx)
}

// work runs jobs until none waits.
func (s *Service) work(ctx context.Context) {
	for {
		j, ok := s.next()
		if !ok {
			return
		}
		if ctx.Err() != nil { // shutdown's deadline passed: park, do not start
			if j.park != nil {
				j.park(context.WithoutCancel(ctx))
			}
		} else {
			j.f(ctx)
		}
		if j.key != "" {
			s.mu.Lock()
			delete(s.queue.keys, j.key)
			s.mu.Unlock()
		}
	}
}

// next takes the next job, runs first; with none it retires the worker.
func (s *Service) next() (job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &s.queue
	var j job
	switch {
	case len(q.runs) > 0:
		j, q.runs = q.runs[0], q.runs[1:]
	case len(q.plans) > 0:
		j, q.plans = q.plans[0], q.plans[1:]
	default:
		q.running--
		s.queueGaugesLocked()
		return job{}, false
	}
	s.queueGaugesLocked()
	return j, true
}

// dropWaiting takes every job that has not started (shutdown's deadline).
func (s *Service) dropWaiting() []job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append(s.queue.runs, s.queue.plans...)
	s.queue.runs, s.queue.plans = nil, nil
	for _, j := range out {
		if j.key != "" {
			delete(s.queue.keys, j.key)
		}
	}
	s.queueGaugesLocked()
	return out
}

// parkWaiting parks the jobs that never started, at once and briefly: a
// plan's requester is told to ask again, a run stays approved (or running)
// in the store and is resumed at the next start.
func (s *Service) parkWaiting() int {
	jobs := s.dropWaiting()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.park == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.park(ctx)
		}()
	}
	wg.Wait()
	return len(jobs)
}

func (s *Service) queueGaugesLocked() {
	s.metrics.queueDepth.Set(float64(s.queue.depth()))
	s.metrics.queueBusy.Set(float64(s.queue.running))
}

// queueRun queues the run of request id. Past the bound it is not lost:
// the request stays approved in the store and the sweeper (every
// Config.SweepInterval) queues it again. The returned error says so.
func (s *Service) queueRun(id string, resume bool) error {
	log := s.log.WithField("request_id", id)
	return s.enqueue(job{kind: jobRun, key: id,
		f: func(ctx context.Context) { s.execute(ctx, id, resume) },
		park: func(context.Context) {
			log.Warn("shutting down before this request's run started; it stays in the store and runs at next start")
		},
	})
}

// parkPlan is a plan job's park: the requester is told nothing was done.
func (s *Service) parkPlan(o origin, what string) func(ctx context.Context) {
	return func(ctx context.Context) {
		s.respond(ctx, o, fmt.Sprintf("killswitch is restarting and never started your %s; nothing was done. Try again in a minute.", what), nil)
	}
}

// logQueueFull logs a run that found the queue full.
func logQueueFull(log logrus.FieldLogger, err error) {
	log.WithError(err).Warn("the run could not be queued; the request stays approved and the sweeper queues it again")
}
