package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/killswitch/killswitch/bot/store"
	"github.com/killswitch/killswitch/bot/store/storetest"
)

func TestBaselines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		const acct, other = "111122223333", "444455556666"
		t0 := time.Date(2025, 6, 1, 9, 0, 0, 123, time.UTC)
		bg := []string{"arn:aws:iam::111122223333:user/breakglass-admin", "arn:aws:iam::111122223333:role/BreakGlassAdmin"}
		if _, err := st.BaselineAt(ctx, acct, t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no baseline yet: %v, want ErrNotFound", err)
		}
		put := func(at time.Time, arns []string) store.Baseline {
			t.Helper()
			b, err := st.PutBaseline(ctx, acct, at, arns)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		first := put(t0, bg)
		if !first.At.Equal(t0) || !slices.IsSorted(first.Principals) || len(first.Principals) != 2 {
			t.Fatalf("first baseline %+v", first)
		}
		// unchanged: confirmed, not added (the same set since t0)
		again := put(t0.Add(time.Hour), []string{bg[1], bg[0], bg[0]})
		if !again.At.Equal(t0) || !again.Confirmed.Equal(t0.Add(time.Hour)) {
			t.Fatalf("an unchanged set must keep At and move Confirmed: %+v", again)
		}
		// the intruder's role appears: a new baseline
		evil := append(slices.Clone(bg), "arn:aws:iam::111122223333:role/BreakGlass-evil")
		put(t0.Add(2*time.Hour), evil)
		if _, err := st.PutBaseline(ctx, other, t0, nil); err != nil {
			t.Fatal(err)
		}
		all, err := st.Baselines(ctx, acct)
		if err != nil || len(all) != 2 || len(all[0].Principals) != 3 {
			t.Fatalf("baselines %+v (%v), want 2 newest first", all, err)
		}
		// the newest at or before a time: a day-old cut-off picks the calm one
		got, err := st.BaselineAt(ctx, acct, t0.Add(time.Hour+30*time.Minute))
		if err != nil || !slices.Equal(got.Principals, first.Principals) || !got.Confirmed.Equal(t0.Add(time.Hour)) {
			t.Fatalf("baseline at t0+1h30: %+v (%v), want the first one", got, err)
		}
		if got, _ := st.BaselineAt(ctx, acct, t0.Add(3*time.Hour)); len(got.Principals) != 3 {
			t.Fatalf("baseline at t0+3h: %+v, want the newest", got)
		}
		if got, err := st.BaselineAt(ctx, other, t0); err != nil || got.Principals == nil || len(got.Principals) != 0 {
			t.Fatalf("an empty baseline of another account: %+v (%v)", got, err)
		}
		// history is bounded per account
		for i := 0; i < store.MaxBaselines+5; i++ {
			put(t0.Add(time.Duration(3+i)*time.Hour), []string{bg[i%2]})
		}
		all, _ = st.Baselines(ctx, acct)
		if len(all) != store.MaxBaselines {
			t.Fatalf("%d baselines kept, want %d", len(all), store.MaxBaselines)
		}
		if kept, _ := st.Baselines(ctx, other); len(kept) != 1 {
			t.Fatalf("pruning one account removed another's: %d left", len(kept))
		}
		if _, err := st.PutBaseline(ctx, "", t0, nil); err == nil {
			t.Fatal("a baseline without an account was stored")
		}
	})
}
