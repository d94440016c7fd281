package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// docExample returns the YAML example of the package documentation.
func docExample(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	must(t, err)
	var lines []string
	for _, l := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(l, "//\t"); ok {
			lines = append(lines, rest)
		}
	}
	return strings.Join(lines, "\n")
}

func TestLoadDocumentedExample(t *testing.T) {
	o, err := Load(strings.NewReader(docExample(t)))
	must(t, err)
	if o.Standalone() || o.ManagementAccount() != mgmtID || !o.SCPEnabled() {
		t.Fatal("organization")
	}
	web, ok := o.OUID("Prod/Web")
	if !ok || len(o.SCPsFor(web)) != 1 {
		t.Fatalf("OU Prod/Web %q", web)
	}
	st := o.Snapshot(soloID)
	if st.Name != "prod" || len(st.Users) != 151 || len(st.Roles) != 24 || len(st.Groups) != 1 || len(st.Policies) != 1 || len(st.Resources) != 2 {
		t.Fatalf("counts: %d users %d roles %d groups %d policies %d resources", len(st.Users), len(st.Roles), len(st.Groups), len(st.Policies), len(st.Resources))
	}
	alice := st.Users[0]
	if alice.Name != "alice" || !alice.LoginProfile || len(alice.AccessKeys) != 2 || !alice.AccessKeys[0].Active || alice.AccessKeys[1].Active ||
		alice.AccessKeys[1].ID != "AKIAEXAMPLE000000001" || len(alice.SSHKeys) != 1 || len(alice.ServiceCredentials) != 1 ||
		alice.Tags["team"] != "web" || alice.Groups[0] != "Developers" || len(alice.ManagedPolicies) != 2 || alice.Created.Year() != 2025 {
		t.Fatalf("alice %+v", alice)
	}
	for _, r := range st.Roles {
		switch r.Name {
		case "AWSReservedSSO_AdministratorAccess_abc123":
			if r.Path != "/aws-reserved/sso.amazonaws.com/" {
				t.Fatal(r.Path)
			}
		case "vendor-audit":
			if !strings.Contains(r.Trust, "999988887777") || r.Tags["owner"] != "security" {
				t.Fatal(r)
			}
		}
	}
	// the example's customer policy denies iam:Create* to alice
	err = o.Authorize(Credential{Account: soloID, Principal: alice.Arn, Console: true}, "iam:CreateUser", "*")
	if d, ok := err.(*Denied); !ok || !strings.Contains(d.Reason, "DenyIAMWrite") {
		t.Fatalf("customer policy: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "org.yaml")
	must(t, os.WriteFile(path, []byte("accounts: [{id: \"123456789012\", users: [{name: a}]}]\n"), 0o600))
	o, err := LoadFile(path)
	must(t, err)
	if !o.Standalone() || o.Accounts()[0] != "123456789012" {
		t.Fatal(o.Accounts())
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file")
	}
	must(t, os.WriteFile(path, []byte("accounts: [{id: \"1\"}]\n"), 0o600))
	if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error should name the file: %v", err)
	}
}

func TestLoadRejectsHostileInput(t *testing.T) {
	acct := func(body string) string { return "accounts:\n  - id: \"111122223333\"\n" + body }
	user := func(body string) string { return acct("    users:\n      - name: u\n" + body) }
	many := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
		}
		return b.String()
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty"},
		{"unknown top-level key", "organisation: true\naccounts: [{id: \"111122223333\"}]", "organisation"},
		{"unknown nested key", user("        passwd: true\n"), "passwd"},
		{"unknown key in access key", user("        access_keys: [{enabled: true}]\n"), "enabled"},
		{"two documents", "accounts: [{id: \"111122223333\"}]\n---\naccounts: []\n", "exactly one"},
		{"no accounts", "organization: false\n", "at least one account"},
		{"short account id", "accounts: [{id: \"12345\"}]", "12 digits"},
		{"letters in account id", "accounts: [{id: \"11112222333a\"}]", "12 digits"},
		{"duplicate account", "organization: true\naccounts: [{id: \"111111111111\", management: true}, {id: \"222222222222\"}, {id: \"222222222222\"}]", "already exists"},
		{"two management accounts", "organization: true\naccounts: [{id: \"111111111111\", management: true}, {id: \"222222222222\", management: true}]", "only one"},
		{"organization without management", "organization: true\naccounts: [{id: \"111111111111\"}]", "management: true"},
		{"standalone with two accounts", "accounts: [{id: \"111111111111\"}, {id: \"222222222222\"}]", "exactly one account"},
		{"scp_enabled standalone", "scp_enabled: true\naccounts: [{id: \"111111111111\"}]", "organization: true"},
		{"ou standalone", "accounts: [{id: \"111111111111\", ou: Prod}]", "organization: true"},
		{"OU too deep", "organization: true\naccounts: [{id: \"111111111111\", management: true}, {id: \"222222222222\", ou: a/b/c/d/e/f}]", "deeper"},
		{"long account name", acct("    name: " + strings.Repeat("n", 51) + "\n"), "1-50"},
		{"user name with space", acct("    users: [{name: \"bad name\"}]\n"), "user name"},
		{"user name too long", acct("    users: [{name: " + strings.Repeat("u", 65) + "}]\n"), "user name"},
		{"duplicate user, other case", acct("    users: [{name: Alice}, {name: alice}]\n"), "already exists"},
		{"path without slashes", user("        path: dev\n"), "path"},
		{"path too long", user("        path: /" + strings.Repeat("p", 512) + "/\n"), "path"},
		{"three access keys", user("        access_keys: [{}, {}, {}]\n"), "access keys"},
		{"bad access key id", user("        access_keys: [{id: \"akia-lower\"}]\n"), "access key id"},
		{"duplicate access key id", acct("    users: [{name: a, access_keys: [{id: AKIAAAAAAAAAAAAAAAAA}]}, {name: b, access_keys: [{id: AKIAAAAAAAAAAAAAAAAA}]}]\n"), "already exists"},
		{"six ssh keys", user("        ssh_keys: 6\n"), "ssh_keys"},
		{"negative ssh keys", user("        ssh_keys: -1\n"), "ssh_keys"},
		{"three service credentials", user("        service_credentials: 3\n"), "service_credentials"},
		{"reserved tag prefix", user("        tags: {\"aws:owner\": x}\n"), "reserved"},
		{"bad tag value", user("        tags: {k: \"a\\u0000b\"}\n"), "tag"},
		{"51 tags", user("        tags: {" + many(51, func(i int) string { return fmt.Sprintf("k%d: v,", i) }) + "}\n"), "tags"},
		{"unknown group", user("        groups: [Ghosts]\n"), "group"},
		{"eleven groups", user("        groups: [" + strings.Repeat("g,", 11) + "]\n"), "groups"},
		{"malformed inline policy", user("        inline_policies: {p: '{\"Statement\": '}\n"), "syntax"},
		{"inline policy over 2,048", user("        inline_policies: {p: '" + docOfSize(2049, 0) + "'}\n"), "aggregate"},
		{"unknown managed policy", user("        managed_policies: [arn:aws:iam::aws:policy/Nope]\n"), "not found"},
		{"eleven managed policies", user("        managed_policies: [" + strings.Repeat("arn:aws:iam::aws:policy/ReadOnlyAccess,", 11) + "]\n"), "managed policies"},
		{"bad trust", acct("    roles: [{name: r, trust: '{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\"}}'}]\n"), "principal"},
		{"role name too long", acct("    roles: [{name: " + strings.Repeat("r", 65) + "}]\n"), "role name"},
		{"bad policy document", acct("    policies: [{name: p, document: 'nope'}]\n"), "syntax"},
		{"negative generate", acct("    generate: {users: -1}\n"), "negative"},
		{"huge generate", acct("    generate: {users: 100001}\n"), "principals"},
		{"generate across accounts over the limit", "organization: true\naccounts:\n" + many(3, func(i int) string {
			return fmt.Sprintf("  - {id: \"%012d\", management: %v, generate: {users: 40000}}\n", i+1, i == 0)
		}), "principals"},
		{"1001 accounts", "organization: true\naccounts:\n" + many(1001, func(i int) string {
			return fmt.Sprintf("  - {id: \"%012d\", management: %v}\n", i+1, i == 0)
		}), "at most 1000"},
		{"unknown resource kind", acct("    resources: {no-such-kind: [k]}\n"), "unknown kind"},
		{"resource id with space", acct("    resources: {bucket: [\"a b\"]}\n"), "id must be"},
		{"duplicate resource", acct("    resources: {bucket: [a, a]}\n"), "already exists"},
		{"wrong type", acct("    users: yes\n"), "cannot unmarshal"},
		{"billion laughs", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\naccounts: []\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Load(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatalf("accepted: %v", o.Accounts())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	t.Run("file too large", func(t *testing.T) {
		big := bytes.Repeat([]byte("#"), MaxFileSize+1)
		if _, err := Load(bytes.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger") {
			t.Fatalf("big file: %v", err)
		}
	})
}

func TestLoadAcceptsLimits(t *testing.T) {
	y := "accounts:\n  - id: \"111122223333\"\n    users:\n      - name: " + strings.Repeat("u", 64) +
		"\n        path: /" + strings.Repeat("p", 510) + "/\n        access_keys: [{}, {active: false}]\n        ssh_keys: 5\n        service_credentials: 2\n" +
		"        inline_policies: {p: '" + docOfSize(2048, 100) + "'}\n"
	o, err := Load(strings.NewReader(y))
	must(t, err)
	u := o.Snapshot(soloID).Users[0]
	if len(u.AccessKeys) != 2 || !u.AccessKeys[0].Active || u.AccessKeys[1].Active || len(u.SSHKeys) != 5 {
		t.Fatalf("%+v", u)
	}
}

func TestBuiltins(t *testing.T) {
	if names := BuiltinNames(); !reflect.DeepEqual(names, []string{"codespaces", "org"}) {
		t.Fatal(names)
	}
	if _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), "codespaces, org") {
		t.Fatalf("unknown built-in: %v", err)
	}
	t.Run("codespaces", func(t *testing.T) {
		o, err := Builtin("codespaces")
		must(t, err)
		if !o.Standalone() || len(o.Accounts()) != 1 || o.Accounts()[0] != soloID {
			t.Fatal(o.Accounts())
		}
		st := o.Snapshot(soloID)
		users := map[string]UserState{}
		for _, u := range st.Users {
			users[u.Name] = u
		}
		roles := map[string]RoleState{}
		for _, r := range st.Roles {
			roles[r.Name] = r
		}
		kinds := map[string]int{}
		for _, r := range st.Resources {
			kinds[r.Kind]++
		}
		consoleAndKey := 0
		for _, u := range st.Users {
			if u.LoginProfile && len(u.AccessKeys) > 0 {
				consoleAndKey++
			}
		}
		checks := map[string]bool{
			"about 12 users":                 len(st.Users) >= 12,
			"developers with console + keys": consoleAndKey >= 5,
			"deploy has two active keys":     len(users["deploy"].AccessKeys) == 2 && users["deploy"].AccessKeys[0].Active && users["deploy"].AccessKeys[1].Active,
			"a 150-character path":           len(users["archivist"].Path) == 150,
			"break-glass user tagged":        users["breakglass-admin"].Tags[BreakGlassTag] == "true",
			"BreakGlassAdmin role":           roles["BreakGlassAdmin"].Name != "",
			"service-linked role":            roles["AWSServiceRoleForSupport"].Path == "/aws-service-role/support.amazonaws.com/",
			"SSO role":                       roles["AWSReservedSSO_AdministratorAccess_abc123"].Path == "/aws-reserved/sso.amazonaws.com/",
			"Developers group has members":   len(st.Groups) > 0 && st.Groups[1].Name == "Developers" && len(st.Groups[1].Members) >= 4,
			"data":                           kinds["snapshot"] >= 3 && kinds["ami"] >= 2 && kinds["volume"] >= 2 && kinds["bucket"] >= 2 && kinds["backup"] >= 2,
		}
		for what, ok := range checks {
			if !ok {
				t.Error(what)
			}
		}
	})
	t.Run("org", func(t *testing.T) {
		o, err := Builtin("org")
		must(t, err)
		accts := o.Accounts()
		if o.Standalone() || accts[0] != mgmtID || len(accts) < 4 || !o.SCPEnabled() {
			t.Fatal(accts)
		}
		principals, big := 0, false
		for _, a := range accts {
			st := o.Snapshot(a)
			principals += len(st.Users) + len(st.Roles) + len(st.Groups)
			big = big || len(st.Users) >= 150
			has := map[string]bool{}
			for _, r := range st.Roles {
				has[r.Name] = true
				if strings.HasPrefix(r.Name, "AWSReservedSSO_") && r.Path != "/aws-reserved/sso.amazonaws.com/" {
					t.Errorf("%s: %s path %s", a, r.Name, r.Path)
				}
			}
			if !has["BreakGlassAdmin"] || !has["AWSServiceRoleForSupport"] || len(st.Resources) == 0 || len(st.SCPs) < 2 {
				t.Errorf("%s: roles %v, %d resources, SCPs %v", a, has, len(st.Resources), st.SCPs)
			}
			if a != mgmtID {
				if _, ok := o.AccountName(a); !ok {
					t.Error(a)
				}
			}
		}
		if principals < 300 || !big {
			t.Fatalf("%d principals, an account with 150 users: %v", principals, big)
		}
		for _, a := range []string{"222222222222", "333333333333", "444444444444"} {
			if !contains(accts, a) {
				t.Errorf("missing member %s", a)
			}
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		for _, name := range BuiltinNames() {
			a, _ := Builtin(name)
			b, _ := Builtin(name)
			for _, acct := range a.Accounts() {
				if !reflect.DeepEqual(a.Snapshot(acct), b.Snapshot(acct)) {
					t.Fatalf("%s: %s differs between two builds", name, acct)
				}
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
