package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/actions"
)

// slowStepAfter: a step whose outcome is not recorded this long after it
// started is reported, once, in the log and in the request's thread (a
// variable for tests). Each AWS call is bounded by aws.call_timeout; a step
// can still take longer (retries, several calls).
var slowStepAfter = 30 * time.Second

// watchSlowSteps wraps rec so that a step still running after
// slowStepAfter is reported: a warning log line and "still working on STEP
// in ACCOUNT after 30s" in the thread. Only with real goroutines: a drill
// (Deps.Go set) runs on a virtual clock, where wall-clock timers have no
// place. stop ends the watch (call it when the run ends).
func (s *Service) watchSlowSteps(ctx context.Context, id string, log logrus.FieldLogger, rec actions.Recorder) (wrapped actions.Recorder, stop func()) {
	after := slowStepAfter
	if s.d.Go != nil || after <= 0 {
		return rec, func() {}
	}
	var mu sync.Mutex
	timers := map[string]*time.Timer{}
	stopped := false
	wrapped = actions.RecorderFunc(func(rctx context.Context, st actions.Step) error {
		err := rec.Record(rctx, st)
		mu.Lock()
		defer mu.Unlock()
		if t := timers[st.Key]; t != nil {
			t.Stop()
			delete(timers, st.Key)
		}
		if err != nil || stopped || st.Status != actions.StepStarted {
			return err
		}
		timers[st.Key] = time.AfterFunc(after, func() {
			mu.Lock()
			live := !stopped && timers[st.Key] != nil
			mu.Unlock()
			if !live {
				return
			}
			log.WithFields(logrus.Fields{"account": st.Account, "principal": st.Principal, "op": st.Op, "after": after.String()}).
				Warn("step taking long")
			s.threadPost(ctx, id, fmt.Sprintf(":hourglass: Still working on %s (%s) in %s after %s: AWS is slow to answer; each call gives up after aws.call_timeout.",
				st.Change, st.Principal, st.Account, after), nil)
		})
		return nil
	})
	return wrapped, func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		for k, t := range timers {
			t.Stop()
			delete(timers, k)
		}
	}
}
