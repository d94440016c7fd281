package sim

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

var drillStart = time.Date(2014, 6, 17, 9, 0, 0, 0, time.UTC)

// trace runs lanes that sleep different amounts and records the virtual
// time at which each step ran.
func trace(t *testing.T) []string {
	t.Helper()
	c := NewClock(drillStart, time.Hour)
	var mu sync.Mutex
	var got []string
	log := func(ctx context.Context, who string) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%s@%v", who, c.Now().Sub(drillStart)))
		mu.Unlock()
	}
	c.Run(context.Background(), func(ctx context.Context) {
		c.Go(ctx, func(ctx context.Context) {
			for i := 0; i < 3; i++ {
				_ = c.Sleep(ctx, 3*time.Second)
				log(ctx, "slow")
			}
		})
		c.ForEach(ctx, 4, 2, func(ctx context.Context, i int) {
			_ = c.Sleep(ctx, time.Duration(i+1)*time.Second)
			log(ctx, fmt.Sprintf("w%d", i))
		})
		log(ctx, "joined")
	})
	return got
}

func TestClockInterleavesLanesByVirtualTime(t *testing.T) {
	got := trace(t)
	// w0 ends at 1s and starts w2 (3s of sleep: ends at 4s); w1 ends at 2s
	// and starts w3 (4s: ends at 6s); slow wakes at 3, 6, 9.
	want := []string{"w0@1s", "w1@2s", "slow@3s", "w2@4s", "w3@6s", "slow@6s", "joined@6s", "slow@9s"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	for i := 0; i < 20; i++ {
		if again := trace(t); !reflect.DeepEqual(again, got) {
			t.Fatalf("run %d differs:\n%v\n%v", i, again, got)
		}
	}
}

func TestClockHorizon(t *testing.T) {
	c := NewClock(drillStart, 10*time.Second)
	var errs []error
	c.Run(context.Background(), func(ctx context.Context) {
		errs = append(errs, c.Sleep(ctx, 5*time.Second), c.Sleep(ctx, 10*time.Second), c.Sleep(ctx, time.Second))
	})
	if errs[0] != nil || errs[1] != ErrHorizon || errs[2] != ErrHorizon {
		t.Fatalf("errors %v: want nil, then ErrHorizon", errs)
	}
	if got := c.Now().Sub(drillStart); got != 10*time.Second {
		t.Fatalf("clock stopped at %v, want the horizon", got)
	}
}

func TestClockOutsideALaneDoesNotWait(t *testing.T) {
	c := NewClock(drillStart, time.Second)
	if err := c.Sleep(context.Background(), time.Hour); err != nil || !c.Now().Equal(drillStart) {
		t.Fatalf("Sleep outside a lane: %v at %v", err, c.Now())
	}
}

func TestPropagationDelaysADeny(t *testing.T) {
	o := NewStandalone("111122223333")
	if err := o.AddUser("111122223333", User{Name: "mallory", AccessKeys: []AccessKey{{Active: true}}}); err != nil {
		t.Fatal(err)
	}
	c := NewClock(drillStart, time.Hour)
	o.SetSchedule(Schedule{Clock: c, Latency: map[string]time.Duration{"*": 100 * time.Millisecond}, Propagation: map[string]time.Duration{"iam": 5 * time.Second}})
	arn, _ := o.UserARN("111122223333", "mallory")
	cred := Credential{Account: "111122223333", Principal: arn, AccessKeyID: o.AccessKeyIDs("111122223333", "mallory")[0]}
	var before, after error
	var took time.Duration
	c.Run(context.Background(), func(ctx context.Context) {
		cl, err := o.Provider("").Clients(ctx, "111122223333")
		if err != nil {
			t.Error(err)
			return
		}
		start := c.Now()
		if _, err := cl.IAM.PutUserPolicy(ctx, putDeny("mallory")); err != nil {
			t.Error(err)
		}
		took = c.Now().Sub(start)
		before = o.Act(ctx, cred, "ec2:DeleteSnapshot", "*", nil)
		_ = c.Sleep(ctx, 5*time.Second)
		after = o.Act(ctx, cred, "ec2:DeleteSnapshot", "*", nil)
	})
	if took != 100*time.Millisecond {
		t.Errorf("the bot's call took %v of virtual time, want the IAM latency", took)
	}
	if before != nil {
		t.Errorf("the deny applied before it propagated: %v", before)
	}
	if after == nil {
		t.Error("the deny never applied")
	}
}

func putDeny(user string) *iam.PutUserPolicyInput {
	return &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String("deny"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}`)}
}
