package actions_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/sim"
)

// bigOrg is a simulated organization of n member accounts with p principals
// each (users with a password and a key, and roles), plus break-glass.
func bigOrg(b testing.TB, accounts, principals int) *sim.Org {
	b.Helper()
	org := sim.NewOrganization("100000000000")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := []string{"100000000000"}
	for i := 1; i < accounts; i++ {
		id := fmt.Sprintf("2%011d", i)
		if err := org.AddAccount(id, fmt.Sprintf("member-%d", i), "Workloads"); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		for j := 0; j < principals*3/4; j++ {
			if err := org.AddUser(id, sim.User{Name: fmt.Sprintf("user-%04d", j), Password: true, Created: base,
				AccessKeys: []sim.AccessKey{{Active: true, Created: base}}}); err != nil {
				b.Fatal(err)
			}
		}
		for j := 0; j < principals/4; j++ {
			if err := org.AddRole(id, sim.Role{Name: fmt.Sprintf("role-%04d", j), Created: base}); err != nil {
				b.Fatal(err)
			}
		}
		if err := org.AddRole(id, sim.Role{Name: "BreakGlassAdmin", Created: base}); err != nil {
			b.Fatal(err)
		}
	}
	return org
}

// BenchmarkLockdown plans and applies lockdown on 50 accounts x 200
// principals. Figures are in the README.
func BenchmarkLockdown(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		org := bigOrg(b, 50, 200)
		e := engine(b, org)
		b.StartTimer()
		ctx := context.Background()
		opt := actions.Options{RequestID: "ks-bench", RevokeBefore: t0}
		if _, err := e.Plan(ctx, actions.Lockdown, org.Accounts(), opt); err != nil {
			b.Fatal(err)
		}
		res, err := e.Apply(ctx, actions.Lockdown, org.Accounts(), opt, nil)
		if err != nil || res.Status != actions.StatusSucceeded {
			b.Fatalf("%v %v", err, res.Status)
		}
	}
}
