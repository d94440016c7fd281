package sim

import (
	"context"
)

// The intruder's technique through a principal outside the Organization:
// with a foothold in a member account it puts a bucket policy letting its
// own account in (s3:PutBucketPolicy), then, from that outside account,
// empties and deletes the buckets. SCPs never bind the outside principal;
// only an RCP on the owning account does (and RCPs never apply to the
// management account, so it needs a member foothold to be met).

func outsideTechniques() []Technique {
	return []Technique{{
		ID:      "outside-principal-bucket-policy",
		Name:    "let the outside account in with a bucket policy (s3:PutBucketPolicy), then empty and delete every bucket from there (s3:DeleteObject, s3:DeleteBucket)",
		Tactic:  "exfiltration",
		MITRE:   "T1537",
		Stratus: "aws.exfiltration.s3-backdoor-bucket-policy",
		Needs:   "member",
		Run:     outsideBucketDelete,
	}}
}

func outsideBucketDelete(ctx context.Context, at Attempt) (Effect, error) {
	r := newRun(at)
	var eff Effect
	victim := r.Cred.Account
	var buckets []string
	if err := r.peek(func(a *account) { buckets = a.resourceIDs("bucket") }); err != nil {
		return eff, err
	}
	if len(buckets) == 0 {
		return eff, nothing("outside-principal-bucket-policy", victim, "bucket")
	}
	out, err := r.Org.OutsideCredential(r.Outside)
	if err != nil {
		return eff, err
	}
	return eff, keepGoing(buckets, func(b string) error {
		var open bool
		_ = r.peek(func(a *account) { open = a.grantsOutside(b, r.Outside) })
		if !open {
			err := r.act(ctx, "s3:PutBucketPolicy", arnOf(victim, "bucket", b), func(a *account) error {
				if err := a.putBucketPolicy(b, outsideGrant(r.Outside, b)); err != nil {
					return err
				}
				eff.says("bucket %s: policy lets account %s in", b, r.Outside)
				return nil
			})
			if err != nil {
				return err
			}
		}
		var objs []string
		_ = r.peek(func(a *account) { objs = append(inBucket(a, "object-version", b), inBucket(a, "object", b)...) })
		for _, id := range objs {
			kind := "object"
			if _, _, ok := cutVersion(id); ok {
				kind = "object-version"
			}
			if err := r.outsideDestroy(ctx, &eff, out, victim, kind, id); err != nil {
				return err
			}
		}
		return r.outsideDestroy(ctx, &eff, out, victim, "bucket", b)
	})
}

func cutVersion(id string) (string, string, bool) {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '#' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

// outsideDestroy is a delete call from the outside credential on a
// resource of the victim account.
func (r *run) outsideDestroy(ctx context.Context, eff *Effect, out Credential, victim, kind, id string) error {
	action := resourceKinds[kind].action
	o := r.Org
	if r.calls > 0 && r.Pace != nil {
		if err := r.Pace(ctx); err != nil {
			return err
		}
	}
	r.calls++
	return o.Act(ctx, out, action, arnOf(victim, kind, id), func(*account) error {
		a := o.accounts[victim]
		if a == nil || !a.hasResource(kind, id) {
			return nothing(action, victim, kind+" "+id)
		}
		o.deleteResourceLocked(a, kind, id, action)
		eff.says("deleted %s %s from outside account %s (%s)", kind, id, out.Account, action)
		eff.lost(kind, id)
		return nil
	})
}
