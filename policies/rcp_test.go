package policies

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rcpServices are the services resource control policies apply to (AWS
// Organizations user guide, "Resource control policies"; S3, STS, KMS, SQS
// and Secrets Manager since November 2024, ECR and OpenSearch Serverless
// since June 2025, Cognito and CloudWatch Logs since January 2026, DynamoDB
// since February 2026).
var rcpServices = []string{"s3", "sts", "kms", "sqs", "secretsmanager", "ecr", "aoss", "cognito-idp", "logs", "dynamodb"}

type rcpView struct {
	Statement []struct {
		Sid       string
		Effect    string
		Principal any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func parseRCP(t *testing.T, doc string) rcpView {
	t.Helper()
	var v rcpView
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("rendered RCP does not parse: %v\n%s", err, doc)
	}
	return v
}

// TestRCPExemptsExactlyLikeTheSCP: the RCP renders, validates, names
// Principal "*" on Deny statements only, exempts exactly the principals the
// deny-delete SCP exempts (patterns and exact ARNs, in the same order),
// spares AWS service principals, and denies principals outside the
// Organization even when their ARN matches an exempt pattern.
func TestRCPExemptsExactlyLikeTheSCP(t *testing.T) {
	p := sixPatternParams()
	p.ExemptARNs = []string{"arn:aws:iam::111122223333:user/zed", "arn:aws:iam::111122223333:role/baseline"}
	p.OrgID = "o-abcdef1234"
	scp := parse(t, mustRender(t, "deny-delete", p))
	var scpExempt []string
	var scpActions []string
	for _, s := range scp.Statement {
		if s.Sid == "ProtectData" || s.Sid == "ProtectAuditTrail" {
			scpExempt = strs(s.Condition["ArnNotLike"]["aws:PrincipalArn"])
			scpActions = append(scpActions, strs(s.Action)...)
		}
	}
	if len(scpExempt) != 8 {
		t.Fatalf("SCP exemptions %v: want the six patterns and two ARNs", scpExempt)
	}
	doc := mustRender(t, "deny-delete-rcp", p)
	rcp := parseRCP(t, doc)
	if len(rcp.Statement) != 2 {
		t.Fatalf("RCP has %d statements, want ProtectResources and ProtectResourcesFromOutside", len(rcp.Statement))
	}
	for _, s := range rcp.Statement {
		if s.Effect != "Deny" || s.Principal != "*" {
			t.Errorf("%s: Effect %v Principal %v, want Deny and \"*\"", s.Sid, s.Effect, s.Principal)
		}
		if got := strs(s.Condition["BoolIfExists"]["aws:PrincipalIsAWSService"]); !slices.Equal(got, []string{"false"}) {
			t.Errorf("%s: BoolIfExists aws:PrincipalIsAWSService = %v: AWS services would be denied", s.Sid, got)
		}
		for _, a := range strs(s.Action) {
			svc, _, _ := strings.Cut(a, ":")
			if !slices.Contains(rcpServices, svc) {
				t.Errorf("%s: %s is of a service RCPs do not apply to", s.Sid, a)
			}
			if !slices.Contains(scpActions, a) {
				t.Errorf("%s: %s is not denied by the deny-delete SCP", s.Sid, a)
			}
		}
	}
	if got := strs(rcp.Statement[0].Condition["ArnNotLike"]["aws:PrincipalArn"]); !slices.Equal(got, scpExempt) {
		t.Errorf("RCP exemptions %v, SCP exemptions %v", got, scpExempt)
	}
	out := rcp.Statement[1]
	if _, ok := out.Condition["ArnNotLike"]; ok {
		t.Error("ProtectResourcesFromOutside exempts by ARN: a role named BreakGlass* in the intruder's own account would be exempt")
	}
	if got := strs(out.Condition["StringNotEqualsIfExists"]["aws:PrincipalOrgID"]); !slices.Equal(got, []string{"o-abcdef1234"}) {
		t.Errorf("ProtectResourcesFromOutside aws:PrincipalOrgID = %v", got)
	}
	// every action of a covered service that the SCP denies on a resource
	// is in the RCP (s3:PutAccountPublicAccessBlock is account-level)
	for _, a := range scpActions {
		svc, _, _ := strings.Cut(a, ":")
		if slices.Contains(rcpServices, svc) && a != "s3:PutAccountPublicAccessBlock" && !slices.Contains(strs(rcp.Statement[0].Action), a) {
			t.Errorf("the SCP denies %s, the RCP does not", a)
		}
	}
	for _, a := range []string{"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "kms:PutKeyPolicy", "s3:DeleteObject", "kms:ScheduleKeyDeletion", "secretsmanager:DeleteSecret", "dynamodb:DeleteTable", "logs:Delete*"} {
		if !slices.Contains(strs(rcp.Statement[0].Action), a) {
			t.Errorf("the RCP does not deny %s", a)
		}
	}
	// without an Organization id the outside statement is dropped, never
	// rendered without its condition (which would deny the exempt)
	p.OrgID = ""
	if v := parseRCP(t, mustRender(t, "deny-delete-rcp", p)); len(v.Statement) != 1 || v.Statement[0].Sid != "ProtectResources" {
		t.Errorf("without OrgID: %+v", v.Statement)
	}
	p.OrgID = "o-BAD"
	if _, err := Render("deny-delete-rcp", p); err == nil || !strings.Contains(err.Error(), "OrgID") {
		t.Errorf("bad OrgID accepted: %v", err)
	}
}

// TestRCPPartsFitTheLimit: with many exempt ARNs the RCP is split like the
// SCP, every part within 5,120 characters and valid as an RCP.
func TestRCPPartsFitTheLimit(t *testing.T) {
	p := sixPatternParams()
	p.OrgID = "o-abcdef1234"
	parts, err := RenderParts("deny-delete-rcp", p)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 {
		t.Errorf("default RCP: %d parts, want 1", len(parts))
	}
	for i := range 60 {
		p.ExemptARNs = append(p.ExemptARNs, "arn:aws:iam::111122223333:role/baseline-exempt-"+strconv.Itoa(i))
	}
	parts, err = RenderParts("deny-delete-rcp", p)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("RCP with %d exempt ARNs in %d part(s)", len(p.ExemptARNs), len(parts))
	}
	d, _ := Lookup("deny-delete-rcp")
	for i, part := range parts {
		if n := Size(KindRCP, part); n > LimitRCP {
			t.Errorf("part %d: %d characters", i+1, n)
		}
		if err := Validate(d, part); err != nil {
			t.Errorf("part %d: %v", i+1, err)
		}
	}
}

// TestValidateRCPRules: AWS's rules for resource control policies.
func TestValidateRCPRules(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	good := `{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*"}`
	big := `{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"` + strings.Repeat("1", 5000) + `"}}}`
	for _, c := range []struct {
		name  string
		kinds []Kind
		doc   string
		want  string // "" = valid
	}{
		{"good", []Kind{KindRCP}, stmt(good), ""},
		{"allow", []Kind{KindRCP}, stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:DeleteBucket","Resource":"*"}`), "may only Deny"},
		{"no principal", []Kind{KindRCP}, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}`), "missing Principal"},
		{"named principal", []Kind{KindRCP}, stmt(`{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:DeleteBucket","Resource":"*"}`), `only takes "*"`},
		{"not principal", []Kind{KindRCP}, stmt(`{"Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:DeleteBucket","Resource":"*"}`), "NotPrincipal is not supported"},
		{"not action", []Kind{KindRCP}, stmt(`{"Effect":"Deny","Principal":"*","NotAction":"s3:DeleteBucket","Resource":"*"}`), "NotAction is not supported"},
		{"also an SCP", []Kind{KindRCP, KindSCP}, stmt(good), "cannot also be attached"},
		{"too large", []Kind{KindRCP}, stmt(big), "too large for rcp"},
		{"principal in an SCP", []Kind{KindSCP}, stmt(good), "only allowed in a trust policy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateDocument("x", c.kinds, false, c.doc)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("valid RCP refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want a problem containing %q", err, c.want)
			}
		})
	}
}
