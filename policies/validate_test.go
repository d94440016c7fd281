package policies

import (
	"errors"
	"strings"
	"testing"
)

// good is a valid deny document; the cases below break it one way each.
const good = `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","Action":["s3:DeleteBucket"],"Resource":"*"}]}`

func stmt(body string) string {
	return `{"Version":"2012-10-17","Statement":[` + body + `]}`
}

func TestValidateRejectsBrokenDocuments(t *testing.T) {
	deny := []Kind{KindSCP, KindManaged}
	big := stmt(`{"Effect":"Deny","Action":["s3:DeleteBucket"],"Resource":["arn:aws:s3:::` + strings.Repeat("b", 7000) + `"]}`)
	// Valid for a managed policy (whitespace is free) but not for an SCP.
	spacious := stmt(`{"Effect":"Deny","Action":["s3:DeleteBucket"],"Resource":"*"}` + strings.Repeat(" ", LimitSCP))
	cases := []struct {
		name     string
		kinds    []Kind
		denyOnly bool
		doc      string
		want     []string // every one must appear in the error
	}{
		{"allow in deny document", deny, true, stmt(`{"Sid":"Oops","Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}`),
			[]string{`statement 1 (Sid "Oops"): Allow statement in a deny-only document`}},
		{"denies s3:GetObject", deny, true, stmt(`{"Effect":"Deny","Action":["s3:DeleteObject","s3:GetObject"],"Resource":"*"}`),
			[]string{`denies read-only calls: "s3:GetObject"`}},
		{"denies ec2:Describe*", deny, true, stmt(`{"Effect":"Deny","Action":"ec2:Describe*","Resource":"*"}`),
			[]string{`"ec2:Describe*" matches ec2:Describe...`}},
		{"denies everything", deny, true, stmt(`{"Effect":"Deny","Action":"*","Resource":"*"}`),
			[]string{`"*" matches every call`}},
		{"denies s3:*", deny, true, stmt(`{"Effect":"Deny","Action":"s3:*","Resource":"*"}`),
			[]string{`"s3:*" matches s3:Get...`}},
		{"denies ec2:D*", deny, true, stmt(`{"Effect":"Deny","Action":"ec2:D*","Resource":"*"}`),
			[]string{`"ec2:D*" matches ec2:Describe...`}},
		{"denies lowercase read", deny, true, stmt(`{"Effect":"Deny","Action":"dynamodb:batchgetitem","Resource":"*"}`),
			[]string{`"dynamodb:batchgetitem" matches`}},
		{"NotAction in deny document", deny, true, stmt(`{"Effect":"Deny","NotAction":"s3:PutObject","Resource":"*"}`),
			[]string{"NotAction in a deny-only document"}},
		{"oversize", deny, true, big,
			[]string{"too large for scp", "including whitespace, limit 5120", "too large for managed", "excluding whitespace, limit 6144"}},
		{"whitespace counts for SCP", []Kind{KindSCP}, true, spacious,
			[]string{"too large for scp"}},
		{"user inline limit", []Kind{KindUserInline}, false, stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2100) + `"}`),
			[]string{"too large for user-inline", "limit 2048"}},
		{"invalid JSON", deny, true, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny",}]}`,
			[]string{"invalid JSON at byte"}},
		{"truncated JSON", deny, true, good[:40],
			[]string{"invalid JSON"}},
		{"trailing data", deny, true, good + `{}`,
			[]string{"trailing data"}},
		{"not UTF-8", deny, true, "{\"Version\":\"\xff\"}",
			[]string{"not valid UTF-8"}},
		{"empty", deny, true, "  ",
			[]string{"empty document"}},
		{"not an object", deny, true, `[]`,
			[]string{"not a JSON object"}},
		{"missing Action", deny, true, stmt(`{"Sid":"NoAction","Effect":"Deny","Resource":"*"}`),
			[]string{`statement 1 (Sid "NoAction"): missing Action`}},
		{"empty Action list", deny, true, stmt(`{"Effect":"Deny","Action":[],"Resource":"*"}`),
			[]string{"statement 1: Action is an empty list"}},
		{"empty action string", deny, true, stmt(`{"Effect":"Deny","Action":[""],"Resource":"*"}`),
			[]string{"Action[0] is not a non-empty string"}},
		{"both Action and NotAction", nil, false, stmt(`{"Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}`),
			[]string{"has both Action and NotAction", "no kind given"}},
		{"malformed action", deny, true, stmt(`{"Effect":"Deny","Action":"s3 DeleteBucket","Resource":"*"}`),
			[]string{`malformed action "s3 DeleteBucket"`}},
		{"duplicate Sid", deny, true, stmt(`{"Sid":"Same","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"},{"Sid":"Same","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}`),
			[]string{`statement 2 (Sid "Same"): duplicate Sid, also statement 1`}},
		{"bad Sid", deny, true, stmt(`{"Sid":"no spaces","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}`),
			[]string{`Sid "no spaces" may only hold letters and digits`}},
		{"duplicate key", deny, true, stmt(`{"Effect":"Deny","Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}`),
			[]string{`duplicate key "Effect" in Statement[0]`, "Allow statement"}},
		{"wrong Version", deny, true, `{"Version":"2008-10-17","Statement":{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}}`,
			[]string{`Version is "2008-10-17", want "2012-10-17"`}},
		{"missing Version", deny, true, `{"Statement":{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}}`,
			[]string{"missing Version"}},
		{"missing Statement", deny, true, `{"Version":"2012-10-17"}`,
			[]string{"missing Statement"}},
		{"empty Statement", deny, true, stmt(``),
			[]string{"Statement is an empty list"}},
		{"unknown top-level key", deny, true, `{"Version":"2012-10-17","Statment":[],"Statement":{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}}`,
			[]string{`unknown top-level key "Statment"`}},
		{"bad Effect", deny, true, stmt(`{"Effect":"deny","Action":"s3:DeleteBucket","Resource":"*"}`),
			[]string{`Effect is "deny", want Allow or Deny`}},
		{"missing Resource", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket"}`),
			[]string{"missing Resource"}},
		{"malformed Resource", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"bucket"}`),
			[]string{`malformed Resource "bucket"`}},
		{"Principal outside trust", deny, true, stmt(`{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"*"}`),
			[]string{"Principal is only allowed in a trust policy"}},
		{"trust without Principal", []Kind{KindTrust}, false, stmt(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}`),
			[]string{"missing Principal", "a trust policy statement has no Resource"}},
		{"trust bad principal type", []Kind{KindTrust}, false, stmt(`{"Effect":"Allow","Principal":{"Aws":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}`),
			[]string{`unknown type "Aws"`}},
		{"trust mixed with managed", []Kind{KindTrust, KindManaged}, false, stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}`),
			[]string{"cannot also be attached"}},
		{"unknown kind", []Kind{"inline"}, false, good,
			[]string{`unknown kind "inline"`}},
		{"unknown statement key", deny, true, stmt(`{"Effect":"Deny","Actions":"s3:DeleteBucket","Action":"s3:DeleteBucket","Resource":"*"}`),
			[]string{`unknown key "Actions"`}},
		{"control character", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::b\u0007/*"}`),
			[]string{`control character in Statement[0].Resource`}},
		{"control character in key", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"Null":{"aws:PrincipalTag/a\nb":"true"}}}`),
			[]string{`control character in a key in Statement[0].Condition.Null: "aws:PrincipalTag/a\nb"`}},
		{"unrendered placeholder", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"{{ExemptPatterns?}}"}}}`),
			[]string{"unrendered placeholder"}},
		{"unknown operator", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"ArnNotLikeX":{"aws:PrincipalArn":"arn:aws:iam::*:role/B*"}}}`),
			[]string{`unknown condition operator "ArnNotLikeX"`}},
		{"empty condition value", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":[]}}}`),
			[]string{`condition ArnNotLike "aws:PrincipalArn": want a string`}},
		{"empty condition", deny, true, stmt(`{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{}}`),
			[]string{"Condition is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateDocument("broken", c.kinds, c.denyOnly, c.doc)
			if err == nil {
				t.Fatal("accepted")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Document != "broken" || len(ve.Problems) == 0 {
				t.Fatalf("err %#v is not a *ValidationError for document broken", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "policy broken: ") {
				t.Errorf("error does not name the document: %s", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not mention %q", msg, w)
				}
			}
			for _, p := range ve.Problems {
				if !strings.Contains(msg, p) {
					t.Errorf("Error() omits problem %q", p)
				}
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	cases := []struct {
		name  string
		d     Document
		doc   string
		allow bool
	}{
		{"good deny", Document{Name: "x", Kinds: []Kind{KindSCP}, DenyOnly: true}, good, true},
		{"pretty printed managed", Document{Name: "x", Kinds: []Kind{KindManaged}, DenyOnly: true},
			"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\n    \"Effect\": \"Deny\",\n    \"Action\": \"s3:Delete*\",\n    \"Resource\": \"*\"\n  }\n}\n", true},
		{"deny-all document may deny *", Document{Name: "x", Kinds: []Kind{KindRoleInline}, DenyOnly: true, DenyAll: true},
			stmt(`{"Effect":"Deny","Action":["*"],"Resource":["*"]}`), true},
		{"deny-all document still refuses Allow", Document{Name: "x", Kinds: []Kind{KindRoleInline}, DenyOnly: true, DenyAll: true},
			stmt(`{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["*"]}`), false},
		{"not deny-only may allow reads", Document{Name: "x", Kinds: []Kind{KindManaged}},
			stmt(`{"Effect":"Allow","Action":["s3:GetObject","ec2:Describe*"],"Resource":"*"}`), true},
		{"credential minting is not a read", Document{Name: "x", Kinds: []Kind{KindUserInline}, DenyOnly: true},
			stmt(`{"Effect":"Deny","Action":["sts:GetSessionToken","sts:GetFederationToken"],"Resource":"*"}`), true},
		{"condition operators", Document{Name: "x", Kinds: []Kind{KindManaged}},
			stmt(`{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a","b"]},"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}`), true},
		{"trust", Document{Name: "x", Kinds: []Kind{KindTrust}},
			stmt(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root"]},"Action":"sts:AssumeRole"}`), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.d, c.doc)
			if c.allow && err != nil {
				t.Errorf("rejected: %v", err)
			}
			if !c.allow && err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestDeniesReadOnly(t *testing.T) {
	cases := []struct {
		action string
		read   bool
	}{
		{"*", true},
		{"s3:*", true},
		{"ec2:D*", true},
		{"ec2:Describe*", true},
		{"s3:GetObject", true},
		{"s3:G?tObject", true},
		{"s3:*Object", true}, // matches GetObject
		{"s3:?*", true},
		{"dynamodb:BatchGetItem", true},
		{"dynamodb:Batch*", true},
		{"dynamodb:Query", true},
		{"dynamodb:Scan", true},
		{"cloudtrail:LookupEvents", true},
		{"s3:HeadObject", true},
		{"s3:listbucket", true},
		{"sts:Get*", true}, // GetCallerIdentity
		{"s3:DeleteObject", false},
		{"s3:Delete*", false},
		{"ec2:Dis*", false},
		{"ec2:TerminateInstances", false},
		{"iam:Put*", false},
		{"iam:Update*", false},
		{"dynamodb:BatchWriteItem", false},
		{"sts:GetSessionToken", false},
		{"kms:ScheduleKeyDeletion", false},
		{"s3:G", false},
	}
	for _, c := range cases {
		if _, got := deniesReadOnly(c.action); got != c.read {
			t.Errorf("deniesReadOnly(%q) = %v, want %v", c.action, got, c.read)
		}
	}
}

func TestMinify(t *testing.T) {
	got, err := Minify("{\n  \"a\": [ 1, \"b c\" ]\n}\n")
	if err != nil || got != `{"a":[1,"b c"]}` {
		t.Errorf("Minify = %q, %v", got, err)
	}
	if _, err := Minify(`{"a":`); err == nil {
		t.Error("Minify accepted invalid JSON")
	}
}

func TestValidationErrorMessage(t *testing.T) {
	e := &ValidationError{Document: "deny-delete", Problems: []string{"one", "two"}}
	if got, want := e.Error(), "policy deny-delete: 2 problems: one; two"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Problems = e.Problems[:1]
	if got, want := e.Error(), "policy deny-delete: one"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
