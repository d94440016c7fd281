package drill

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// randomScenario builds a scenario from a seed: an organization (standalone
// or with members) of a few users, roles and data, an intruder holding keys
// of non-exempt administrators, a random playbook, rate, noticing and
// timings. Intruders that react to the first change do so only after the
// guardrail can have propagated: inside that window nothing can stop a
// deletion (README, "What lockdown cannot do").
func randomScenario(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 0x6b73))
	pick := func(n int) int { return rng.IntN(n) }
	org := pick(2) == 1
	members := []string{"222222222222", "333333333333"}[:1+pick(2)]
	accounts := []string{"111122223333"}
	if org {
		accounts = append([]string{"111111111111"}, members...)
	}
	var b strings.Builder
	if org {
		b.WriteString("  organization: true\n  scp_enabled: true\n")
	}
	b.WriteString("  accounts:\n")
	var holds []string
	for i, a := range accounts {
		fmt.Fprintf(&b, "    - id: %q\n", a)
		if org && i == 0 {
			b.WriteString("      management: true\n")
		}
		fmt.Fprintf(&b, "      users:\n        - {name: breakglass, password: true, tags: {\"killswitch:break-glass\": \"true\"}}\n")
		for u := 0; u < 1+pick(4); u++ {
			fmt.Fprintf(&b, "        - {name: admin-%d, password: %v, access_keys: [{active: true}], managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]}\n", u, pick(2) == 1)
			if pick(2) == 0 || len(holds) == 0 {
				holds = append(holds, fmt.Sprintf("{account: %q, user: admin-%d}", a, u))
			}
		}
		fmt.Fprintf(&b, "      roles:\n        - {name: BreakGlassAdmin, trust: '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::%s:user/breakglass\"},\"Action\":\"sts:AssumeRole\"}]}'}\n", a)
		for r := 0; r < 1+pick(3); r++ {
			fmt.Fprintf(&b, "        - {name: app-%d}\n", r)
		}
		kinds := []string{"snapshot", "ami", "volume", "bucket", "backup", "db-snapshot", "table", "log-group", "trail", "kms-key", "instance"}
		b.WriteString("      resources:\n")
		for _, k := range kinds[:2+pick(len(kinds)-2)] {
			fmt.Fprintf(&b, "        %s: [%s-%s-1, %s-%s-2]\n", k, k, a, k, a)
		}
	}
	ids := techniqueIDs()
	var playbook []string
	for i := 0; i < 5+pick(15); i++ {
		playbook = append(playbook, ids[pick(len(ids))])
	}
	prop := pick(10)
	notice := []string{"first-denied", "credential-cut", "first-change"}[pick(3)]
	after := pick(5)
	if notice == "first-change" {
		after = prop + 30 + pick(60)
	}
	return fmt.Sprintf(`name: random-%d
org:
%sduration: 1h
latency: {iam: %dms, organizations: %dms, "*": %dms}
propagation: {iam: %ds, organizations: %ds}
intruder:
  holds: [%s]
  setup: [%s]
  notices: {on: %s, after: %ds}
  rate: %d
  playbook: [%s]
responders:
  - {at: %ds, user: U0RESP01, command: "lockdown --all --incident IR-1 random"}
  - {approve: true, after: %ds, user: U0RESP02}
`, seed, b.String(), 20+pick(200), 50+pick(300), 20+pick(200), prop, prop*2, strings.Join(holds, ", "),
		[]string{"", "backdoor-user", "backdoor-user, assume-role", "add-access-key, get-session-token", "tag-break-glass"}[pick(5)],
		notice, after, 1+pick(10), strings.Join(playbook, ", "), 30+pick(300), 5+pick(120))
}

// TestLockdownHoldsOnRandomOrganizations: over 200 seeded organizations,
// playbooks and timings, lockdown loses nothing and leaves no working
// intruder credential. A failure prints its seed and writes its scenario.
func TestLockdownHoldsOnRandomOrganizations(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		doc := randomScenario(seed)
		s, err := Parse([]byte(doc), fmt.Sprintf("random-%d.yaml", seed), "")
		if err != nil {
			t.Fatalf("seed %d: the generator wrote a bad scenario: %v\n%s", seed, err, doc)
		}
		r := play(t, s)
		if !r.Contained || r.ResourcesLost > 0 || r.CredentialsWorking > 0 || !r.BreakGlassIntact {
			file := filepath.Join(t.TempDir(), fmt.Sprintf("random-%d.yaml", seed))
			_ = os.WriteFile(file, []byte(doc), 0o600)
			t.Fatalf("seed %d: lost %d %+v, working %v, won %+v, break-glass %v %v\nscenario (%s):\n%s\ntimeline:\n%s",
				seed, r.ResourcesLost, r.Lost, r.Working, r.Won, r.BreakGlassIntact, r.BreakGlassProblems, file, doc, timeline(r))
		}
	}
}
