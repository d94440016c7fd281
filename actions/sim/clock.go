package sim

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// ErrHorizon is returned by Clock.Sleep (and so by every simulated call)
// once the drill's virtual time would pass its horizon.
var ErrHorizon = errors.New("the drill's time is up")

// Clock is a discrete-event scheduler: one virtual clock for every lane of a
// drill (the bot's account workers, its Slack work, each responder, the
// intruder). Lanes are goroutines started through Run, Go or ForEach; exactly
// one of them runs at a time. A lane runs until it blocks in the clock
// (Sleep, a simulated AWS call's latency, waiting for its ForEach children)
// or ends; then the clock wakes the lane whose wake-up time is earliest
// (ties: the lane that went to sleep first) and moves virtual time to it.
// Because the interleaving depends only on virtual times and on the order
// in which lanes block, the same program gives the same interleaving and the
// same virtual times on every run, however the Go runtime schedules the
// goroutines. No wall-clock time enters.
//
// A lane may do real blocking work (a store write, an HTTP call to a fake
// Slack served by goroutines that are not lanes); virtual time stands still
// meanwhile. A lane must not wait for another lane except through the clock,
// or the drill deadlocks.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	end     time.Time // horizon
	over    bool
	seq     uint64
	running int // lanes not blocked in the clock
	queue   wakeQueue
	idle    chan struct{} // closed when no lane is left (Run waits on it)
}

type laneKey struct{}

type wake struct {
	at  time.Time
	seq uint64
	ch  chan struct{}
}

type wakeQueue []*wake

func (q wakeQueue) Len() int { return len(q) }
func (q wakeQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q wakeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *wakeQueue) Push(x any)   { *q = append(*q, x.(*wake)) }
func (q *wakeQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	*q = old[:len(old)-1]
	return w
}

// NewClock returns a clock at start whose time ends at start+horizon.
func NewClock(start time.Time, horizon time.Duration) *Clock {
	return &Clock{now: start.UTC().Round(0), end: start.UTC().Round(0).Add(horizon)}
}

// Now is the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Lanes is the number of lanes alive: running or waiting in the clock.
func (c *Clock) Lanes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running + len(c.queue)
}

// IsLane reports whether ctx belongs to a lane of c.
func (c *Clock) IsLane(ctx context.Context) bool {
	l, _ := ctx.Value(laneKey{}).(*Clock)
	return l == c
}

func (c *Clock) laneCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, laneKey{}, c)
}

// Run starts f as the first lane and returns when every lane has ended.
// It must not be called from a lane, nor twice at once.
func (c *Clock) Run(ctx context.Context, f func(ctx context.Context)) {
	c.mu.Lock()
	c.idle = make(chan struct{})
	idle := c.idle
	c.spawnLocked(ctx, f)
	c.dispatchLocked()
	c.mu.Unlock()
	<-idle
}

// Go starts f as a new lane, ready at the current virtual time; it first
// runs when the calling lane blocks. Call it from a lane (ctx need not be
// the lane's: a service passes its own background context) or before Run.
func (c *Clock) Go(ctx context.Context, f func(ctx context.Context)) {
	c.mu.Lock()
	c.spawnLocked(ctx, f)
	c.mu.Unlock()
}

// spawnLocked queues a new lane at now. Caller holds c.mu.
func (c *Clock) spawnLocked(ctx context.Context, f func(ctx context.Context)) {
	w := c.pushLocked(c.now)
	lctx := c.laneCtx(ctx)
	go func() {
		<-w.ch
		defer c.exit()
		f(lctx)
	}()
}

func (c *Clock) pushLocked(at time.Time) *wake {
	c.seq++
	w := &wake{at: at, seq: c.seq, ch: make(chan struct{})}
	heap.Push(&c.queue, w)
	return w
}

// exit ends the calling lane.
func (c *Clock) exit() {
	c.mu.Lock()
	c.running--
	c.dispatchLocked()
	c.mu.Unlock()
}

// dispatchLocked wakes the next lane when none is running. Caller holds c.mu.
func (c *Clock) dispatchLocked() {
	if c.running > 0 {
		return
	}
	if len(c.queue) == 0 {
		if c.idle != nil {
			close(c.idle)
			c.idle = nil
		}
		return
	}
	w := heap.Pop(&c.queue).(*wake)
	if w.at.After(c.end) {
		c.over = true
		w.at = c.end
	}
	if w.at.After(c.now) {
		c.now = w.at
	}
	c.running++
	close(w.ch)
}

// Sleep blocks the calling lane for d of virtual time. It returns
// ErrHorizon when the drill's time is up (at once, once it is), and ctx's
// error when ctx ends first. Outside a lane it returns at once.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if !c.IsLane(ctx) {
		return ctx.Err()
	}
	c.mu.Lock()
	if c.over {
		c.mu.Unlock()
		return ErrHorizon
	}
	if d < 0 {
		d = 0
	}
	w := c.pushLocked(c.now.Add(d))
	c.running--
	c.dispatchLocked()
	c.mu.Unlock()
	select {
	case <-w.ch:
	case <-ctx.Done():
		// Leave the queue entry to be woken (and ignored) later; this lane
		// runs on outside the clock's order, which is only acceptable
		// because a cancelled drill is being torn down.
		c.mu.Lock()
		c.running++
		c.mu.Unlock()
		go func() { <-w.ch; c.exit() }()
		return ctx.Err()
	}
	c.mu.Lock()
	over := c.over
	c.mu.Unlock()
	if over {
		return ErrHorizon
	}
	return ctx.Err()
}

// Until sleeps until virtual time t (at once if t has passed).
func (c *Clock) Until(ctx context.Context, t time.Time) error {
	return c.Sleep(ctx, t.Sub(c.Now()))
}

// ForEach runs f(i) for i in [0, n) as lanes, at most limit at a time, and
// blocks the calling lane until all have ended; it has the signature of the
// engine's runner (actions.Runner). Outside a lane it runs them one after
// the other in the calling goroutine.
func (c *Clock) ForEach(ctx context.Context, n, limit int, f func(ctx context.Context, i int)) {
	if n <= 0 {
		return
	}
	if !c.IsLane(ctx) {
		for i := 0; i < n; i++ {
			f(ctx, i)
		}
		return
	}
	if limit <= 0 || limit > n {
		limit = n
	}
	c.mu.Lock()
	next, left := 0, n
	parent := make(chan struct{})
	var start func()
	start = func() { // caller holds c.mu
		i := next
		next++
		c.spawnLocked(ctx, func(lctx context.Context) {
			f(lctx, i)
			c.mu.Lock()
			left--
			if next < n {
				start()
			}
			if left == 0 {
				w := c.pushLocked(c.now)
				go func() { <-w.ch; close(parent) }()
			}
			c.mu.Unlock()
		})
	}
	for next < limit {
		start()
	}
	c.running--
	c.dispatchLocked()
	c.mu.Unlock()
	<-parent
}
