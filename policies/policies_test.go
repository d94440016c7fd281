package policies

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sixPatterns is a realistic, rather long set of exemptions: break-glass
// roles and a user, an Identity Center permission set, the org access role
// and the bot's own role.
var sixPatterns = []string{
	"arn:aws:iam::*:role/BreakGlass*",
	"arn:aws:iam::*:role/KillSwitchResponder",
	"arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*",
	"arn:aws:iam::111122223333:user/breakglass-alice",
	"arn:aws:iam::*:role/OrganizationAccountAccessRole",
	"arn:aws:iam::*:role/IncidentResponse*",
}

func sixPatternParams() Params {
	p := DefaultParams()
	p.ExemptPatterns = sixPatterns
	p.ExternalID = "killswitch-prod-7f3a"
	return p
}

// policy is a test-side view of a rendered document.
type policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func parse(t *testing.T, doc string) policy {
	t.Helper()
	var p policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("rendered document does not parse: %v\n%s", err, doc)
	}
	return p
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func mustRender(t *testing.T, name string, p Params) string {
	t.Helper()
	out, err := Render(name, p)
	if err != nil {
		t.Fatalf("Render(%s): %v", name, err)
	}
	return out
}

func TestEveryDocumentRendersAndValidates(t *testing.T) {
	paramSets := []struct {
		name string
		p    Params
	}{
		{"default", DefaultParams()},
		{"six patterns", sixPatternParams()},
	}
	for _, ps := range paramSets {
		for _, d := range List() {
			t.Run(ps.name+"/"+d.Name, func(t *testing.T) {
				out := mustRender(t, d.Name, ps.p)
				if d.Split {
					parts, err := RenderParts(d.Name, ps.p)
					if err != nil {
						t.Fatalf("RenderParts: %v", err)
					}
					if len(parts) == 1 && parts[0] != out {
						t.Errorf("one part differs from Render's document")
					}
					for i, part := range parts {
						if err := Validate(d, part); err != nil {
							t.Errorf("part %d fails validation: %v", i+1, err)
						}
						for _, k := range d.Kinds {
							t.Logf("%-22s %-13s part %d: %s %d/%d", d.Name, ps.name, i+1, k, Size(k, part), k.Limit())
						}
					}
					return
				}
				if err := Validate(d, out); err != nil {
					t.Fatalf("rendered document fails validation: %v", err)
				}
				if !json.Valid([]byte(out)) {
					t.Fatalf("not JSON: %s", out)
				}
				if min, err := Minify(out); err != nil || min != out {
					t.Errorf("Render output is not minified (err %v)", err)
				}
				var sizes []string
				for _, k := range d.Kinds {
					n := Size(k, out)
					sizes = append(sizes, string(k)+" "+strconv.Itoa(n)+"/"+strconv.Itoa(k.Limit()))
					if n > k.Limit() {
						t.Errorf("%s: %d characters, over the %s limit %d", d.Name, n, k, k.Limit())
					}
				}
				t.Logf("%-22s %-13s %s", d.Name, ps.name, strings.Join(sizes, ", "))
			})
		}
	}
}

// The guardrail fits one SCP with the default exemptions and is split into
// parts, each within the SCP limit, when the exemptions grow; the README
// quotes these figures.
func TestDenyDeleteParts(t *testing.T) {
	parts, err := RenderParts("deny-delete", DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 {
		t.Errorf("deny-delete with the default exemptions: %d parts, want 1", len(parts))
	}
	t.Logf("deny-delete, default exemptions: %d part(s), %d/%d characters", len(parts), Size(KindSCP, parts[0]), LimitSCP)
	p := sixPatternParams()
	parts, err = RenderParts("deny-delete", p)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Errorf("deny-delete with 6 exempt patterns: %d parts, want 2", len(parts))
	}
	// How many exempt ARNs fit in two SCPs, for the README.
	fit := 0
	for ; fit < maxExemptARNs; fit++ {
		p.ExemptARNs = append(p.ExemptARNs, "arn:aws:iam::111122223333:role/baseline-exempt-"+strconv.Itoa(fit))
		parts, err := RenderParts("deny-delete", p)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) > 2 {
			break
		}
	}
	t.Logf("deny-delete, 6 patterns: 2 parts hold %d exempt ARNs besides", fit)
	again, _ := RenderParts("deny-delete", p)
	if parts, _ := RenderParts("deny-delete", p); !slices.Equal(parts, again) {
		t.Error("RenderParts is not deterministic")
	}
}

func TestRevokeAndQuarantineFitOneUsersInlineBudget(t *testing.T) {
	// AWS limits the inline policies of one user together; a user may carry
	// both.
	p := sixPatternParams()
	n := Size(KindUserInline, mustRender(t, "revoke-older-sessions", p)) + Size(KindUserInline, mustRender(t, "quarantine", p))
	t.Logf("revoke-older-sessions + quarantine, six patterns: %d/%d", n, LimitUserInline)
	if n > LimitUserInline {
		t.Errorf("revoke-older-sessions + quarantine = %d characters, over a user's inline limit %d", n, LimitUserInline)
	}
}

func TestListLookupAndTemplates(t *testing.T) {
	docs := List()
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
		if d.Summary == "" || strings.Contains(d.Summary, "\n") {
			t.Errorf("%s: summary must be one non-empty line", d.Name)
		}
		if len(d.Kinds) == 0 {
			t.Errorf("%s: no kinds", d.Name)
		}
		got, ok := Lookup(d.Name)
		if !ok || !reflect.DeepEqual(got, d) {
			t.Errorf("Lookup(%s) = %+v, %v", d.Name, got, ok)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("List not sorted: %v", names)
	}
	want := []string{"bot-policy", "deny-delete", "deny-delete-rcp", "quarantine", "responder-trust", "revoke-older-sessions", "revoke-sso-sessions"}
	if !slices.Equal(names, want) {
		t.Errorf("List = %v, want %v", names, want)
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	if _, err := Render("nope", DefaultParams()); !errors.Is(err, ErrUnknownDocument) {
		t.Errorf("Render(nope) = %v, want ErrUnknownDocument", err)
	}
	// Every embedded file is registered.
	files, err := fs.Glob(documentFS, "documents/*")
	if err != nil {
		t.Fatal(err)
	}
	var fileNames []string
	for _, f := range files {
		fileNames = append(fileNames, strings.TrimSuffix(path.Base(f), ".json"))
	}
	sort.Strings(fileNames)
	if !slices.Equal(fileNames, want) {
		t.Errorf("embedded files %v, registry %v", fileNames, want)
	}
	// List returns copies.
	docs[0].Kinds[0] = "changed"
	if List()[0].Kinds[0] == "changed" {
		t.Error("List exposes the registry")
	}
}

func TestValidateAll(t *testing.T) {
	if errs := ValidateAll(DefaultParams()); len(errs) != 0 {
		t.Errorf("ValidateAll(DefaultParams()) = %v", errs)
	}
	errs := ValidateAll(Params{})
	var failed []string
	for _, err := range errs {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v is not a *ValidationError", err)
		}
		failed = append(failed, ve.Document)
	}
	if want := []string{"responder-trust", "revoke-older-sessions", "revoke-sso-sessions"}; !slices.Equal(failed, want) {
		t.Errorf("ValidateAll(Params{}) failed %v, want %v (required parameters missing)", failed, want)
	}
}

func TestDenyDeleteCovers(t *testing.T) {
	required := []string{
		"ec2:DeleteSnapshot", "ec2:DeregisterImage", "ec2:DeleteVolume", "ec2:TerminateInstances",
		"s3:DeleteBucket", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
		"backup:DeleteBackupVault", "backup:DeleteRecoveryPoint",
		"rds:DeleteDBInstance", "rds:DeleteDBCluster", "rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot",
		"dynamodb:DeleteTable", "dynamodb:DeleteBackup",
		"kms:ScheduleKeyDeletion", "kms:DisableKey",
		"cloudtrail:StopLogging", "cloudtrail:DeleteTrail",
		"logs:DeleteLogGroup", "logs:DeleteLogStream",
		"organizations:LeaveOrganization",
	}
	pol := parse(t, mustRender(t, "deny-delete", sixPatternParams()))
	var denied []string
	for _, s := range pol.Statement {
		if s.Effect != "Deny" {
			t.Errorf("statement %s: effect %s", s.Sid, s.Effect)
		}
		denied = append(denied, strs(s.Action)...)
	}
	for _, a := range required {
		if !slices.ContainsFunc(denied, func(pat string) bool { return actionGlob(pat, a) }) {
			t.Errorf("deny-delete does not deny %s", a)
		}
	}
}

// actionGlob matches an IAM action pattern (* and ?) against an action,
// ignoring case as IAM does.
func actionGlob(pattern, action string) bool {
	re := "(?i)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(action)
}

// Every statement of the exemption-carrying deny documents carries the
// exempt patterns and ARNs, and no tag condition: a principal that can tag
// itself must not be able to exempt itself.
func TestExemptionConditionsOnEveryStatement(t *testing.T) {
	p := sixPatternParams()
	p.ExemptARNs = []string{"arn:aws:iam::111122223333:user/zed", "arn:aws:iam::111122223333:role/baseline"}
	want := append(append([]string(nil), sixPatterns...), "arn:aws:iam::111122223333:role/baseline", "arn:aws:iam::111122223333:user/zed")
	for _, name := range []string{"deny-delete", "quarantine"} {
		pol := parse(t, mustRender(t, name, p))
		if len(pol.Statement) == 0 {
			t.Fatalf("%s: no statements", name)
		}
		for _, s := range pol.Statement {
			got := strs(s.Condition["ArnNotLike"]["aws:PrincipalArn"])
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: ArnNotLike aws:PrincipalArn = %v, want %v", name, s.Sid, got, want)
			}
			for op, keys := range s.Condition {
				for k := range keys {
					if strings.Contains(strings.ToLower(k), "principaltag") {
						t.Errorf("%s %s: condition %s %s exempts by tag", name, s.Sid, op, k)
					}
				}
			}
		}
	}
}

func TestExemptionConditionsOmittedWhenEmpty(t *testing.T) {
	cases := []struct {
		name           string
		patterns       []string
		tag            string
		wantArn, wantN bool
		wantSids       []string
	}{
		{"patterns only", []string{"arn:aws:iam::*:role/BreakGlass*"}, "", true, false,
			[]string{"ProtectData", "ProtectAuditTrail", "FreezeIdentity", "FreezeRoleSessions", "ProtectExemptRoles"}},
		{"tag only", nil, "killswitch:break-glass", false, false,
			[]string{"ProtectData", "ProtectAuditTrail", "FreezeIdentity", "ProtectExemptTag"}},
		{"neither", nil, "", false, false,
			[]string{"ProtectData", "ProtectAuditTrail", "FreezeIdentity"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			p.ExemptPatterns, p.ExemptTag = c.patterns, c.tag
			out := mustRender(t, "deny-delete", p)
			pol := parse(t, out)
			var sids []string
			for _, s := range pol.Statement {
				sids = append(sids, s.Sid)
				_, hasArn := s.Condition["ArnNotLike"]
				_, hasNull := s.Condition["Null"]
				if hasArn != c.wantArn || hasNull != c.wantN {
					t.Errorf("%s: ArnNotLike %v Null %v, want %v %v", s.Sid, hasArn, hasNull, c.wantArn, c.wantN)
				}
			}
			if !slices.Equal(sids, c.wantSids) {
				t.Errorf("statements %v, want %v", sids, c.wantSids)
			}
			if strings.Contains(out, "{{") || strings.Contains(out, `""`) || strings.Contains(out, "{}") {
				t.Errorf("leftover placeholder or empty value: %s", out)
			}
			// A single pattern renders as a one-element list (the template's
			// form), still valid.
			if len(c.patterns) == 1 && !strings.Contains(out, `"aws:PrincipalArn":["`+c.patterns[0]+`"]`) {
				t.Errorf("single pattern not rendered as a list: %s", out)
			}
		})
	}
}

// The tag guard must never render without its tag condition: that would deny
// every CreateRole and TagRole.
func TestExemptTagGuard(t *testing.T) {
	out := mustRender(t, "deny-delete", sixPatternParams())
	pol := parse(t, out)
	for _, s := range pol.Statement {
		if s.Sid != "ProtectExemptTag" {
			continue
		}
		if got := s.Condition["ForAnyValue:StringEqualsIgnoreCase"]["aws:TagKeys"]; got != "killswitch:break-glass" {
			t.Errorf("tag guard condition = %v", got)
		}
		return
	}
	t.Errorf("no ProtectExemptTag statement in %s", out)
}

func TestRevokeOlderSessions(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	cases := []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc", time.Date(2026, 11, 30, 17, 41, 3, 0, time.UTC), "2026-11-30T17:41:03Z"},
		{"other zone rendered in UTC", time.Date(2026, 11, 30, 18, 41, 3, 0, berlin), "2026-11-30T17:41:03Z"},
		{"fraction rounds up", time.Date(2026, 11, 30, 17, 41, 3, 1, time.UTC), "2026-11-30T17:41:04Z"},
		{"other date", time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC), "2031-01-02T03:04:05Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			p.RevokeBefore = c.in
			got := mustRender(t, "revoke-older-sessions", p)
			want := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + c.want + `"}}}]}`
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}

	p := DefaultParams()
	p.RevokeBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := mustRender(t, "revoke-older-sessions", p)
	p.RevokeBefore = p.RevokeBefore.Add(time.Hour)
	if b := mustRender(t, "revoke-older-sessions", p); a == b {
		t.Errorf("different RevokeBefore rendered the same document: %s", a)
	}

	for _, bad := range []struct {
		name string
		t    time.Time
		want string
	}{
		{"zero", time.Time{}, "RevokeBefore is not set"},
		{"before sessions existed", time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC), "revokes nothing"},
	} {
		p.RevokeBefore = bad.t
		out, err := Render("revoke-older-sessions", p)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Document != "revoke-older-sessions" || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: Render = %q, %v; want a *ValidationError mentioning %q", bad.name, out, err, bad.want)
		}
		if out != "" {
			t.Errorf("%s: rendered %s", bad.name, out)
		}
	}
}

func TestResponderTrust(t *testing.T) {
	p := sixPatternParams()
	pol := parse(t, mustRender(t, "responder-trust", p))
	if len(pol.Statement) != 1 {
		t.Fatalf("want one statement, got %d", len(pol.Statement))
	}
	s := pol.Statement[0]
	if s.Effect != "Allow" || !slices.Equal(strs(s.Action), []string{"sts:AssumeRole"}) || s.Resource != nil {
		t.Errorf("statement = %+v", s)
	}
	if got := s.Principal["AWS"]; got != p.BotPrincipal {
		t.Errorf("Principal.AWS = %v, want %s", got, p.BotPrincipal)
	}
	if got := s.Condition["StringEquals"]["sts:ExternalId"]; got != p.ExternalID {
		t.Errorf("sts:ExternalId = %v, want %s", got, p.ExternalID)
	}
	p.ExternalID = ""
	if pol := parse(t, mustRender(t, "responder-trust", p)); pol.Statement[0].Condition != nil {
		t.Errorf("condition rendered without an external id: %+v", pol.Statement[0].Condition)
	}

	for _, bad := range []struct{ principal, want string }{
		{"", "BotPrincipal is not set"},
		{"KillSwitchBot", `"KillSwitchBot" is not an IAM principal ARN`},
		{"arn:aws:iam::*:role/KillSwitchBot", "is not an IAM principal ARN"},
		{"arn:aws:s3:::bucket", "is not an IAM principal ARN"},
		{"*", "is not an IAM principal ARN"},
	} {
		p.BotPrincipal = bad.principal
		if _, err := Render("responder-trust", p); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("BotPrincipal %q: err = %v, want %q", bad.principal, err, bad.want)
		}
	}
}

func TestBadParamsAreRejectedByName(t *testing.T) {
	long := strings.Repeat("a", 200)
	cases := []struct {
		name string
		doc  string
		mod  func(*Params)
		want string
	}{
		{"pattern not an ARN", "deny-delete", func(p *Params) { p.ExemptPatterns = []string{"BreakGlass*"} }, `ExemptPatterns[0]: exempt pattern "BreakGlass*" is not`},
		{"pattern too broad", "deny-delete", func(p *Params) { p.ExemptPatterns = []string{"arn:aws:iam::*:role/*"} }, "too broad"},
		{"pattern everyone", "quarantine", func(p *Params) { p.ExemptPatterns = []string{"arn:aws:iam::*:*"} }, "is not an IAM principal ARN pattern"},
		{"pattern with newline", "deny-delete", func(p *Params) { p.ExemptPatterns = []string{"arn:aws:iam::*:role/A\nB"} }, "control character"},
		{"pattern of another service", "deny-delete", func(p *Params) { p.ExemptPatterns = []string{"arn:aws:s3:::bucket/x"} }, "not an IAM principal ARN pattern"},
		{"second pattern named", "deny-delete", func(p *Params) { p.ExemptPatterns = []string{"arn:aws:iam::*:role/Ok", "nope"} }, `ExemptPatterns[1]: exempt pattern "nope"`},
		{"tag reserved", "deny-delete", func(p *Params) { p.ExemptTag = "aws:foo" }, "reserved prefix"},
		{"tag too long", "deny-delete", func(p *Params) { p.ExemptTag = long }, "not a valid IAM tag key"},
		{"tag with quote", "deny-delete", func(p *Params) { p.ExemptTag = `a"b` }, `tag key "a\"b"`},
		{"tag with tab", "deny-delete", func(p *Params) { p.ExemptTag = "a\tb" }, "control character"},
		{"role name", "bot-policy", func(p *Params) { p.RoleName = "Kill Switch" }, `RoleName "Kill Switch"`},
		{"role name slash", "bot-policy", func(p *Params) { p.RoleName = "a/b" }, `RoleName "a/b"`},
		{"external id", "responder-trust", func(p *Params) { p.ExternalID = `x"}` }, "ExternalID"},
		{"external id short", "responder-trust", func(p *Params) { p.ExternalID = "x" }, "ExternalID"},
		{"huge value shortened", "deny-delete", func(p *Params) { p.ExemptPatterns = []string{strings.Repeat("x", 5000)} }, "... (5000 bytes)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			c.mod(&p)
			out, err := Render(c.doc, p)
			if err == nil {
				t.Fatalf("rendered %s", out)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Document != c.doc {
				t.Fatalf("err %v is not a *ValidationError for %s", err, c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %s", err, c.want)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
		})
	}
	// Parameters a document does not use are not its problem.
	p := DefaultParams()
	p.BotPrincipal = "nonsense"
	mustRender(t, "deny-delete", p)
	// The default role name applies when none is given.
	p.RoleName = ""
	if out := mustRender(t, "bot-policy", p); !strings.Contains(out, "role/"+DefaultRoleName) {
		t.Errorf("default role name missing: %s", out)
	}
	p.RoleName = "Responder-2"
	if out := mustRender(t, "bot-policy", p); !strings.Contains(out, `"arn:aws:iam::*:role/Responder-2"`) {
		t.Errorf("role name not rendered: %s", out)
	}
}

// Hostile values either never reach a document (parameter validation) or
// are encoded as JSON strings: the structure never changes.
func TestInjection(t *testing.T) {
	hostile := []string{
		`arn:aws:iam::*:role/x"]},{"Effect":"Allow","Action":"*","Resource":"*`,
		`arn:aws:iam::*:role/x}`,
		`arn:aws:iam::*:role/x\"`,
		"arn:aws:iam::*:role/x\u2028",
	}
	for _, h := range hostile {
		p := DefaultParams()
		p.ExemptPatterns = []string{h}
		if out, err := Render("deny-delete", p); err == nil {
			t.Errorf("pattern %q accepted: %s", h, out)
		}
		p = DefaultParams()
		p.ExemptTag = h
		if out, err := Render("deny-delete", p); err == nil {
			t.Errorf("tag %q accepted: %s", h, out)
		}
		p = DefaultParams()
		p.BotPrincipal = h
		if out, err := Render("responder-trust", p); err == nil {
			t.Errorf("principal %q accepted: %s", h, out)
		}
	}

	// Below validation: the encoder alone keeps the structure intact.
	src, err := template("deny-delete")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decodeTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hostile {
		r := &renderer{values: map[string][]string{"ExemptPatterns": {h, "arn:aws:iam::*:role/B*"}, "ExemptTag": {h}}}
		out := policyDoc{Version: doc.Version}
		for i, s := range doc.Statement {
			if rs, ok := r.statement(i, s); ok {
				out.Statement = append(out.Statement, rs)
			}
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		pol := parse(t, string(b))
		if len(pol.Statement) != len(doc.Statement) {
			t.Fatalf("%d statements, want %d: %s", len(pol.Statement), len(doc.Statement), b)
		}
		for i, s := range pol.Statement {
			if s.Effect != "Deny" || s.Sid != doc.Statement[i].Sid {
				t.Errorf("statement %d changed: %+v", i, s)
			}
			if got := strs(s.Condition["ArnNotLike"]["aws:PrincipalArn"]); !slices.Equal(got, []string{h, "arn:aws:iam::*:role/B*"}) {
				t.Errorf("pattern did not round-trip: %q", got)
			}
			if s.Sid == "ProtectExemptTag" && strs(s.Condition["ForAnyValue:StringEqualsIgnoreCase"]["aws:TagKeys"])[0] != h {
				t.Errorf("tag did not round-trip: %v", s.Condition)
			}
		}
	}
}

func TestDefaultParamsAreStable(t *testing.T) {
	a, b := DefaultParams(), DefaultParams()
	a.ExemptPatterns[0] = "changed"
	if b.ExemptPatterns[0] == "changed" {
		t.Error("DefaultParams shares its slice")
	}
	if b.RevokeBefore.IsZero() || b.ExemptTag != "killswitch:break-glass" || b.RoleName != DefaultRoleName {
		t.Errorf("DefaultParams = %+v", b)
	}
	if !slices.Contains(b.ExemptPatterns, "arn:aws:iam::*:role/BreakGlass*") || !slices.Contains(b.ExemptPatterns, "arn:aws:iam::*:role/"+DefaultRoleName) {
		t.Errorf("DefaultParams patterns = %v", b.ExemptPatterns)
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(string(k))
		if err != nil || got != k || k.Limit() == 0 {
			t.Errorf("ParseKind(%s) = %s, %v; limit %d", k, got, err, k.Limit())
		}
	}
	if _, err := ParseKind("inline"); err == nil {
		t.Error("ParseKind(inline) succeeded")
	}
	doc := "{ \"a\" :\n\t1 }"
	if got := Size(KindSCP, doc); got != len(doc) {
		t.Errorf("SCP size %d, want %d", got, len(doc))
	}
	if got := Size(KindManaged, doc); got != len(`{"a":1}`) {
		t.Errorf("managed size %d, want %d", got, len(`{"a":1}`))
	}
	if got := Size(KindManaged, `{"é":"ü"}`); got != 9 {
		t.Errorf("size counts bytes, not characters: %d", got)
	}
}
