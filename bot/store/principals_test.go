package store_test

import (
	"slices"
	"testing"

	"github.com/killswitch/killswitch/bot/store/storetest"
)

// TestRequestPrincipalsRoundTrip: the Identity Center principals a request
// names are pinned in the store (both backends), so a resumed run removes
// exactly the same assignments; a request naming none reads back nil.
func TestRequestPrincipalsRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := newRequest("U1")
		r.Action = "contain-identity-center"
		r.Principals = []string{"user:alice", "group:Admins"}
		r = mustCreate(t, st, r)
		got, err := st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Principals, []string{"user:alice", "group:Admins"}) {
			t.Errorf("principals %q", got.Principals)
		}
		c := got.Clone()
		c.Principals[0] = "user:mallory"
		if got.Principals[0] != "user:alice" {
			t.Error("Clone shares Principals")
		}
		none := mustCreate(t, st, newRequest("U1"))
		if got, err := st.GetRequest(ctx, none.ID); err != nil || got.Principals != nil {
			t.Errorf("no principals: %q, %v", got.Principals, err)
		}
	})
}
