package sim

import (
	"fmt"
	"strings"
)

// Principals outside the Organization: an account the intruder controls,
// not a member, with one user of its own ("intruder") whose own IAM allows
// everything. SCPs never bind it; a resource in the Organization is open to
// it only where that resource's policy (a bucket policy) grants it, and an
// RCP attached to the owning account still denies it.

// OutsideUser is the name of the intruder's user in an outside account.
const OutsideUser = "intruder"

// bucketPolicy is an S3 bucket policy: its text and the parsed document.
type bucketPolicy struct {
	text string
	doc  *policy
}

// outsideAccountLocked returns the outside account id, creating it (with
// its user) on first use. An id of the Organization is refused.
func (o *Org) outsideAccountLocked(id string) (*account, error) {
	if o.accounts[id] != nil {
		return nil, fmt.Errorf("account %s is in the simulated organization, not outside it", id)
	}
	if err := validAccountID(id); err != nil {
		return nil, fmt.Errorf("outside account: %w", err)
	}
	if a := o.outside[id]; a != nil {
		return a, nil
	}
	a := &account{id: id, name: "outside", users: map[string]*user{}, roles: map[string]*role{}, groups: map[string]*group{},
		policies: map[string]*managedPolicy{}, attachN: map[string]int{}, secrets: map[string]*secret{},
		resources: map[string]map[string]struct{}{}, lost: map[string]map[string]string{}, left: true}
	if err := o.addUserLocked(a, User{Name: OutsideUser, Created: o.now()}); err != nil {
		return nil, err
	}
	o.outside[id] = a
	return a, nil
}

// OutsideCredential returns a session of the intruder's user in an outside
// account (created on first use).
func (o *Org) OutsideCredential(acct string) (Credential, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.outsideAccountLocked(acct)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Account: a.id, Principal: "arn:aws:iam::" + a.id + ":user/" + OutsideUser, SessionIssued: o.now()}, nil
}

// callerAccountLocked is the account of a caller: a member (or the
// standalone account) or an outside account.
func (o *Org) callerAccountLocked(id string) *account {
	if a := o.accounts[id]; a != nil {
		return a
	}
	return o.outside[id]
}

// PutBucketPolicy sets a bucket's policy (s3:PutBucketPolicy without an
// authorizer: seeding). The document must name a Principal and a Resource.
func (o *Org) PutBucketPolicy(acct, bucket, doc string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return err
	}
	return a.putBucketPolicy(bucket, doc)
}

// BucketPolicy returns a bucket's policy ("" when it has none).
func (o *Org) BucketPolicy(acct, bucket string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil || a.bucketPolicies[bucket] == nil {
		return ""
	}
	return a.bucketPolicies[bucket].text
}

func (a *account) putBucketPolicy(bucket, doc string) error {
	if !a.hasResource("bucket", bucket) {
		return fmt.Errorf("put bucket policy: no bucket %q in %s", clip(bucket), a.id)
	}
	if len(doc) > 20<<10 {
		return fmt.Errorf("put bucket policy on %s: larger than 20 KB", bucket)
	}
	p, err := parsePolicy(doc, resourcePolicy)
	if err != nil {
		return fmt.Errorf("put bucket policy on %s: malformed policy: %w", bucket, err)
	}
	if a.bucketPolicies == nil {
		a.bucketPolicies = map[string]*bucketPolicy{}
	}
	a.bucketPolicies[bucket] = &bucketPolicy{text: doc, doc: p}
	return nil
}

// bucketPolicyFor is the bucket policy governing an S3 ARN (bucket or
// object), nil when none.
func (a *account) bucketPolicyFor(resource string) *policy {
	rest, ok := strings.CutPrefix(resource, "arn:aws:s3:::")
	if !ok {
		return nil
	}
	bucket, _, _ := strings.Cut(rest, "/")
	if bp := a.bucketPolicies[bucket]; bp != nil {
		return bp.doc
	}
	return nil
}

// outsideGrant is the bucket policy the intruder writes: its outside
// account may do anything with the bucket and its objects.
func outsideGrant(outside, bucket string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Replication","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"s3:*","Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`, outside, bucket, bucket)
}

// grantsOutside reports whether a bucket's policy lets an account in.
func (a *account) grantsOutside(bucket, outside string) bool {
	bp := a.bucketPolicies[bucket]
	if bp == nil {
		return false
	}
	for _, st := range bp.doc.statements {
		if !st.deny && st.grants(outside, "") {
			return true
		}
	}
	return false
}
