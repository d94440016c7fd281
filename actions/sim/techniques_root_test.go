package sim

import (
	"errors"
	"strings"
	"testing"
)

// rootCredentialsNeeds: what the intruder does as root in catalogueOrg.
var rootCredentialsNeeds = []string{"ec2:DeleteSnapshot", "ec2:DeregisterImage", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket",
	"iam:CreateUser", "iam:CreateLoginProfile", "iam:CreateAccessKey"}

const rootCredentialsCalls = 9 // two buckets: r-bucket and b1

func checkRootCredentials(t *testing.T, o *Org, eff Effect) {
	t.Helper()
	lost := map[string]bool{}
	for _, r := range eff.Lost {
		lost[r.Kind] = true
	}
	if !lost["snapshot"] || !lost["ami"] || !lost["bucket"] || len(eff.Creds) == 0 {
		t.Fatalf("effect %+v", eff)
	}
	if !strings.Contains(eff.What[0], "signed in as the root user of "+memberID+" with its stolen console password") {
		t.Errorf("what %q", eff.What)
	}
}

// TestRootCredentialsNeedsARootCredential: a root user with no password
// and no active key gives the intruder nothing to steal; an active root
// key is used when there is no password; IAM denies never bind it.
func TestRootCredentialsNeedsARootCredential(t *testing.T) {
	o := catalogueOrg(t)
	must(t, o.SetRoot(memberID, Root{AccessKeys: []AccessKey{{ID: "AKIAROOT000000000001", Active: false}}}))
	if _, err := mustTechnique(t, "root-credentials").Run(bg, Attempt{Org: o, Cred: memberCred()}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no root credential: %v", err)
	}
	must(t, o.SetRoot(memberID, Root{AccessKeys: []AccessKey{{ID: "AKIAROOT000000000002", Active: true}}}))
	putInlineT(t, o, memberID, "user", "intruder", "DenyAll", denyDoc([]string{"*"}, ""))
	eff, err := mustTechnique(t, "root-credentials").Run(bg, Attempt{Org: o, Cred: memberCred()})
	if err != nil || !strings.Contains(eff.What[0], "leaked access key AKIA…0002") || len(eff.Lost) == 0 {
		t.Fatalf("%v %+v", err, eff)
	}
}
