package awsint

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/killswitch/killswitch/actions"
)

// TestRevokeAgainUndoRestoresTheEarlierCutoff: a second incident revokes
// sessions again with a later cut-off; the policy it replaces is recorded,
// and undoing the second request puts the first request's policy back (as
// IAM returns documents URL-encoded, this checks the prior document is
// stored decoded and restorable).
func TestRevokeAgainUndoRestoresTheEarlierCutoff(t *testing.T) {
	org := reseed(t, defaultSeed)
	e := newEngine(t, newFactory(t), nil)
	ctx := context.Background()
	first := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	second := first.Add(30 * time.Minute)

	res, err := e.Apply(ctx, actions.RevokeSessions, org.IDs(), actions.Options{RequestID: "ks-it-revoke-1", RevokeBefore: first}, &stepRecorder{})
	if err != nil || len(res.Problems()) > 0 {
		t.Fatalf("first revoke: %v %v", err, res.Problems())
	}
	afterFirst := readState(t, org, nil)
	CheckPinnedRevokeTime(t, afterFirst, first)

	rec := &stepRecorder{}
	res, err = e.Apply(ctx, actions.RevokeSessions, org.IDs(), actions.Options{RequestID: "ks-it-revoke-2", RevokeBefore: second}, rec)
	if err != nil || len(res.Problems()) > 0 {
		t.Fatalf("second revoke: %v %v", err, res.Problems())
	}
	n := 0
	for _, s := range res.Steps() {
		if s.Prior == "" {
			t.Errorf("%s: the replaced policy is not recorded", s.Key)
			continue
		}
		n++
		if got, err := tokenIssueTime(s.Prior); err != nil || got != first.Format(time.RFC3339) {
			t.Errorf("%s: recorded prior cut-off %q (%v), want %s", s.Key, got, err, first.Format(time.RFC3339))
		}
	}
	if n == 0 {
		t.Fatal("the second revoke changed nothing")
	}
	CheckPinnedRevokeTime(t, readState(t, org, nil), second)

	undo, err := e.Undo(ctx, actions.RevokeSessions, rec.all(), actions.Options{RequestID: "ks-it-revoke-2-undo"}, &stepRecorder{})
	if err != nil || len(undo.Problems()) > 0 {
		t.Fatalf("undo: %v %v", err, undo.Problems())
	}
	AssertState(t, "after undoing the second revoke", afterFirst, readState(t, org, nil))
}

// TestRotateAgainOverwritesTheStoredKey: after a rotation, an administrator
// deletes the old keys (killswitch never deletes one); a later request
// rotates again: the existing secret gets the newest key (PutSecretValue)
// and is re-tagged with the new request (TagResource), and a second Apply
// of that request changes nothing.
func TestRotateAgainOverwritesTheStoredKey(t *testing.T) {
	org := reseed(t, defaultSeed)
	e := newEngine(t, newFactory(t), nil)
	ctx := context.Background()
	first := actions.Options{RequestID: "ks-it-rotate-1"}
	res, err := e.Apply(ctx, actions.RotateKeys, org.IDs(), first, &stepRecorder{})
	if err != nil || len(res.Problems()) > 0 {
		t.Fatalf("first rotation: %v %v", err, res.Problems())
	}
	// The administrator deletes the keys the first rotation deactivated.
	for _, s := range res.Steps() {
		if s.Op != "deactivate-access-key" {
			continue
		}
		c := iam.NewFromConfig(AccountConfig(motoConfig(), org.Management, s.Account))
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(s.Principal[strings.LastIndex(s.Principal, "/")+1:]), AccessKeyId: aws.String(s.Resource)}); err != nil {
			t.Fatal(err)
		}
	}
	before := readState(t, org, nil)

	second := actions.Options{RequestID: "ks-it-rotate-2"}
	res, err = e.Apply(ctx, actions.RotateKeys, org.IDs(), second, &stepRecorder{})
	if err != nil || len(res.Problems()) > 0 {
		t.Fatalf("second rotation: %v %v", err, res.Problems())
	}
	after := readState(t, org, nil)
	x := NewExpect(t, org, e, time.Now())
	AssertState(t, "after the second rotation", x.Applied(t, actions.RotateKeys, second.RequestID, before, after), after)
	for _, id := range org.IDs() {
		sm := secretsmanager.NewFromConfig(AccountConfig(motoConfig(), org.Management, id))
		for name, fact := range after.Accounts[id].Secrets {
			d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			tags := map[string]string{}
			for _, tg := range d.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			if tags["killswitch:request"] != second.RequestID || tags["killswitch:access-key-id"] != fact.AccessKeyID {
				t.Errorf("%s %s: tags %v, want request %s and key %s", id, name, tags, second.RequestID, fact.AccessKeyID)
			}
		}
	}

	res, err = e.Apply(ctx, actions.RotateKeys, org.IDs(), second, &stepRecorder{})
	if err != nil || len(res.Problems()) > 0 || res.Changed() != 0 {
		t.Errorf("second apply of the second rotation: %v, %d changes, %v", err, res.Changed(), res.Problems())
	}
	AssertState(t, "after the second apply", after, readState(t, org, nil))
}
