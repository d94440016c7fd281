package policies

import (
	"encoding/json"
	"strings"
	"testing"
)

// docOfSize builds a deny document of exactly n characters (minified): one
// statement whose last action name is padded.
func docOfSize(t *testing.T, n int) policyDoc {
	t.Helper()
	st := statement{Sid: "Pad", Effect: "Deny", Resource: strList{vals: []string{"*"}},
		Condition: map[string]map[string]strList{"ArnNotLike": {"aws:PrincipalArn": {vals: []string{"arn:aws:iam::*:role/BreakGlass*"}, array: true}}}}
	var acts []string
	for i := 0; i < 150; i++ {
		acts = append(acts, "ec2:DeleteSnapshot"+strings.Repeat("X", i%7))
	}
	doc := policyDoc{Version: "2012-10-17"}
	size := func() int {
		st.Action = strList{vals: acts, array: true}
		doc.Statement = []statement{st}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	for size() > n {
		acts = acts[:len(acts)-1]
	}
	last := len(acts) - 1
	for size() < n {
		acts[last] += "Y"
	}
	if got := size(); got != n {
		t.Fatalf("built %d characters, want %d", got, n)
	}
	return doc
}

func TestSplitAtTheSCPBoundary(t *testing.T) {
	kinds := []Kind{KindSCP, KindManaged}
	d := Document{Name: "boundary", Kinds: kinds, DenyOnly: true}
	for _, c := range []struct {
		size, parts int
	}{{LimitSCP - 1, 1}, {LimitSCP, 1}, {LimitSCP + 1, 2}} {
		doc := docOfSize(t, c.size)
		whole, _ := json.Marshal(doc)
		err := Validate(d, string(whole))
		if (err == nil) != (c.size <= LimitSCP) {
			t.Errorf("%d characters: Validate = %v", c.size, err)
		}
		parts, err := split(doc, kinds)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != c.parts {
			t.Errorf("%d characters: %d parts, want %d", c.size, len(parts), c.parts)
		}
		var acts []string
		for i, p := range parts {
			b, _ := json.Marshal(p)
			if err := Validate(d, string(b)); err != nil {
				t.Errorf("%d characters, part %d: %v", c.size, i+1, err)
			}
			for j, s := range p.Statement {
				acts = append(acts, s.Action.vals...)
				if want := map[bool]string{true: "Pad", false: "Pad2"}[i == 0]; s.Sid != want {
					t.Errorf("part %d statement %d: Sid %q, want %q", i+1, j+1, s.Sid, want)
				}
				if s.Condition["ArnNotLike"]["aws:PrincipalArn"].vals[0] != "arn:aws:iam::*:role/BreakGlass*" {
					t.Errorf("part %d lost the exemption", i+1)
				}
			}
		}
		if strings.Join(acts, ",") != strings.Join(doc.Statement[0].Action.vals, ",") {
			t.Errorf("%d characters: the parts do not hold the actions in order", c.size)
		}
	}
}

func TestSplitRefusesAStatementThatCannotFit(t *testing.T) {
	st := statement{Sid: "Huge", Effect: "Deny", Action: strList{vals: []string{"ec2:DeleteSnapshot"}},
		Resource: strList{vals: []string{"arn:aws:s3:::" + strings.Repeat("b", LimitSCP)}}}
	if _, err := split(policyDoc{Version: "2012-10-17", Statement: []statement{st}}, []Kind{KindSCP}); err == nil {
		t.Error("a statement larger than an SCP was split")
	}
}

func TestPartName(t *testing.T) {
	for i, want := range []string{"KillSwitchDenyDelete", "KillSwitchDenyDelete-2", "KillSwitchDenyDelete-3"} {
		if got := PartName("KillSwitchDenyDelete", i); got != want {
			t.Errorf("PartName(%d) = %s, want %s", i, got, want)
		}
	}
}
