package sim

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"ec2:*", "ec2:deletesnapshot", true},
		{"ec2:delete*", "ec2:deletesnapshot", true},
		{"ec2:delete*", "ec2:describeinstances", false},
		{"ec2:delete?napshot", "ec2:deletesnapshot", true},
		{"ec2:delete?napshot", "ec2:deletessnapshot", false},
		{"*:get*", "s3:getobject", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"arn:aws:s3:::prod-*", "arn:aws:s3:::prod-data", true},
		{"arn:aws:s3:::prod-*", "arn:aws:s3:::dev-data", false},
		{"", "", true},
		{"", "x", false},
		{"x", "", false},
		{"**", "x", true},
		{"é?", "éà", true},
		{"?", "é", true},
		{strings.Repeat("*a", 30), strings.Repeat("a", 60), true},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestArnLike(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		match      bool
	}{
		{"arn:aws:iam::222222222222:role/BreakGlassAdmin", "arn:aws:iam::*:role/BreakGlass*", true},
		{"arn:aws:iam::222222222222:role/path/BreakGlassAdmin", "arn:aws:iam::*:role/BreakGlass*", false},
		{"arn:aws:iam::222222222222:role/path/BreakGlassAdmin", "arn:aws:iam::*:role/*BreakGlass*", true},
		{"arn:aws:iam::222222222222:user/alice", "arn:aws:iam::*:role/*", false},
		{"arn:aws:iam::222222222222:user/alice", "arn:aws:iam::2222222222??:user/alice", true},
		{"arn:aws:iam::222222222222:user/alice", "arn:aws:*:user/alice", false}, // wildcards do not cross components
		{"arn:aws:iam::222222222222:user/alice", "*", true},
		{"not-an-arn", "not-*", true},
	} {
		if got, _ := arnLike(tc.have, tc.want); got != tc.match {
			t.Errorf("arnLike(%q, %q) = %v", tc.have, tc.want, got)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind policyKind
		doc  string
		ok   bool
	}{
		{"statement object", identityPolicy, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`, true},
		{"statement array", identityPolicy, `{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["*"]}]}`, true},
		{"NotAction NotResource", identityPolicy, `{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::x"}}`, true},
		{"condition values", identityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":10},"StringEquals":{"aws:PrincipalTag/a":["x","y"]}}}}`, true},
		{"old version", identityPolicy, `{"Version":"2008-10-17","Statement":[]}`, true},
		{"bad version", identityPolicy, `{"Version":"2020-01-01","Statement":[]}`, false},
		{"no statement", identityPolicy, `{"Version":"2012-10-17"}`, false},
		{"not an object", identityPolicy, `"x"`, false},
		{"null", identityPolicy, `null`, false},
		{"trailing data", identityPolicy, `{"Statement":[]} {}`, false},
		{"unknown top-level field", identityPolicy, `{"Statement":[],"Foo":1}`, false},
		{"unknown statement field", identityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Actions":"x"}}`, false},
		{"Action and NotAction", identityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","NotAction":"*","Resource":"*"}}`, false},
		{"Resource and NotResource", identityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","NotResource":"*"}}`, false},
		{"no action", identityPolicy, `{"Statement":{"Effect":"Deny","Resource":"*"}}`, false},
		{"empty action list", identityPolicy, `{"Statement":{"Effect":"Deny","Action":[],"Resource":"*"}}`, false},
		{"numeric action", identityPolicy, `{"Statement":{"Effect":"Deny","Action":1,"Resource":"*"}}`, false},
		{"condition not an object", identityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":"x"}}`, false},
		{"condition value object", identityPolicy, `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":{"a":1}}}}}`, false},
		{"SCP without resource", scpPolicy, `{"Statement":{"Effect":"Allow","Action":"*"}}`, true},
		{"SCP with principal", scpPolicy, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`, false},
		{"trust", trustPolicy, `{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`, true},
		{"trust without principal", trustPolicy, `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, false},
		{"invalid UTF-8", identityPolicy, "{\"Statement\":[],\"Id\":\"\xff\"}", false},
		{"too large", identityPolicy, `{"Statement":[],"Id":"` + strings.Repeat("x", maxPolicyBytes) + `"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePolicy(tc.doc, tc.kind)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestAWSURLEncode(t *testing.T) {
	for _, s := range []string{`{"a": "b c+d&e=f/g"}`, "ünïcödé ~._-", "100%"} {
		enc := awsURLEncode(s)
		if strings.ContainsAny(enc, " +&=/{\"") {
			t.Errorf("%q not encoded: %q", s, enc)
		}
		for _, dec := range []func(string) (string, error){url.QueryUnescape, url.PathUnescape} {
			if got, err := dec(enc); err != nil || got != s {
				t.Errorf("round trip of %q: %q %v", s, got, err)
			}
		}
	}
}

func TestPolicySize(t *testing.T) {
	if n := policySize("{ \"a\" :\n\t\"b c\" }"); n != 10 {
		t.Fatalf("policySize = %d", n)
	}
	if d := docOfSize(2048, 300); policySize(d) != 2048 {
		t.Fatal("docOfSize")
	}
}

func TestConditionOperators(t *testing.T) {
	r := &reqCtx{
		action: "s3:getobject", resource: "*",
		principalARN: "arn:aws:iam::222222222222:user/alice", principalType: "User", account: "222222222222",
		username: "alice", userID: "AIDAEXAMPLE", orgID: "o-abcdefghij",
		issued: t0.Add(-time.Hour), now: t0, tags: map[string]string{"Team": "Web", "level": "3"},
	}
	for _, tc := range []struct {
		cond string
		want bool // does the Deny statement apply
	}{
		{`{"StringEquals":{"aws:username":"alice"}}`, true},
		{`{"StringEquals":{"aws:username":"Alice"}}`, false},
		{`{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, true},
		{`{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, false},
		{`{"StringNotEquals":{"aws:username":["bob","carol"]}}`, true},
		{`{"StringNotEquals":{"aws:username":["bob","alice"]}}`, false},
		{`{"StringEquals":{"aws:PrincipalType":"User","aws:PrincipalAccount":"222222222222","aws:PrincipalOrgID":"o-abcdefghij"}}`, true},
		{`{"StringEquals":{"aws:PrincipalTag/team":"Web"}}`, true},
		{`{"StringLike":{"aws:userid":"AIDA*"}}`, true},
		{`{"Bool":{"aws:SecureTransport":true}}`, true},
		{`{"Bool":{"aws:SecureTransport":"false"}}`, false},
		{`{"Bool":{"aws:SecureTransport":"maybe"}}`, true}, // unparsable: fail closed
		{`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, true},
		{`{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, false},
		{`{"NumericGreaterThan":{"aws:PrincipalTag/level":"2"}}`, true},
		{`{"NumericLessThanEquals":{"aws:PrincipalTag/level":2}}`, false},
		{`{"NumericEquals":{"aws:PrincipalTag/level":"x"}}`, true},
		{`{"NumericNotEquals":{"aws:PrincipalTag/level":"3"}}`, false},
		{`{"NumericLessThan":{"aws:PrincipalTag/level":"4"},"NumericGreaterThanEquals":{"aws:PrincipalTag/level":"3"}}`, true},
		{`{"DateLessThan":{"aws:TokenIssueTime":"2026-03-01T12:00:00Z"}}`, true},
		{`{"DateLessThanEquals":{"aws:TokenIssueTime":"2026-03-01T11:00:00Z"}}`, true},
		{`{"DateGreaterThanEquals":{"aws:TokenIssueTime":"2026-03-01T11:00:01Z"}}`, false},
		{`{"DateEquals":{"aws:TokenIssueTime":"2026-03-01T11:00:00Z"}}`, true},
		{`{"DateNotEquals":{"aws:TokenIssueTime":"2026-03-01T11:00:00Z"}}`, false},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, true},
		{`{"DateLessThan":{"aws:EpochTime":"1900000000"}}`, true},
		{`{"DateLessThan":{"aws:TokenIssueTime":"1772366400"}}`, true}, // epoch seconds of t0
		{`{"ForAnyValue:StringEquals":{"aws:PrincipalTag/team":["Data","Web"]}}`, true},
		{`{"ForAllValues:StringEquals":{"aws:PrincipalTag/missing":"x"}}`, true},
		{`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::222222222222:user/alice"}}`, true},
		{`{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::222222222222:user/alice"}}`, false},
		{`{"Null":{"aws:TokenIssueTime":"false"}}`, true},
		{`{"Null":{"aws:PrincipalTag/missing":"maybe"}}`, true}, // unparsable: fail closed
		{`{"StringEquals":{"aws:RequestedRegion":"us-east-1","aws:ViaAWSService":"false","aws:PrincipalIsAWSService":"false"}}`, true},
		{`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
	} {
		p, err := parsePolicy(doc("Deny", "*", "*", tc.cond), identityPolicy)
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		if _, got := p.matchDeny(r); got != tc.want {
			t.Errorf("%s: deny applies %v, want %v", tc.cond, got, tc.want)
		}
		// the same condition on an Allow never grants when unsupported
		if strings.Contains(tc.cond, "IpAddress") {
			ap, _ := parsePolicy(doc("Allow", "*", "*", tc.cond), scpPolicy)
			if ap.allows(r) {
				t.Error("unsupported operator on an Allow granted access")
			}
		}
	}
}
