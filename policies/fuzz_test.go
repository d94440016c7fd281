package policies

import (
	"encoding/json"
	"strings"
	"testing"
)

// Validate must survive any input and always name the document.
func FuzzValidate(f *testing.F) {
	f.Add(good)
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow"}]}`)
	f.Add(`[[[[{}]]]]`)
	f.Add("{\"Version\":\"\xff\"}")
	f.Fuzz(func(t *testing.T, doc string) {
		err := ValidateDocument("fuzz", []Kind{KindSCP, KindManaged}, true, doc)
		if err != nil && !strings.HasPrefix(err.Error(), "policy fuzz: ") {
			t.Errorf("error does not name the document: %v", err)
		}
	})
}

// Whatever exemption values are accepted, the result is JSON with the
// template's statements, each keeping its Effect.
func FuzzRenderExemptions(f *testing.F) {
	f.Add("arn:aws:iam::*:role/BreakGlass*", "killswitch:break-glass")
	f.Add(`arn:aws:iam::*:role/x"}`, `a"b`)
	f.Add("arn:aws:iam::1:role/é", "é ü")
	f.Fuzz(func(t *testing.T, pattern, tag string) {
		p := DefaultParams()
		p.ExemptPatterns = []string{pattern}
		p.ExemptTag = tag
		for _, name := range []string{"deny-delete", "quarantine"} {
			out, err := Render(name, p)
			if err != nil {
				continue
			}
			var pol struct{ Statement []struct{ Effect string } }
			if err := json.Unmarshal([]byte(out), &pol); err != nil {
				t.Fatalf("%s: accepted values produced invalid JSON: %v\n%s", name, err, out)
			}
			for _, s := range pol.Statement {
				if s.Effect != "Deny" {
					t.Fatalf("%s: statement effect %q", name, s.Effect)
				}
			}
		}
	})
}
