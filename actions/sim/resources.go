package sim

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Resource is a piece of data the intruder can destroy.
type Resource struct {
	Kind, ID string
}

type resourceKind struct {
	action string
	arn    func(acct, id string) string
}

var resourceKinds = map[string]resourceKind{
	"snapshot":    {"ec2:DeleteSnapshot", func(_, id string) string { return "arn:aws:ec2:" + Region + "::snapshot/" + id }},
	"ami":         {"ec2:DeregisterImage", func(_, id string) string { return "arn:aws:ec2:" + Region + "::image/" + id }},
	"volume":      {"ec2:DeleteVolume", func(a, id string) string { return "arn:aws:ec2:" + Region + ":" + a + ":volume/" + id }},
	"bucket":      {"s3:DeleteBucket", func(_, id string) string { return "arn:aws:s3:::" + id }},
	"backup":      {"backup:DeleteRecoveryPoint", func(a, id string) string { return "arn:aws:backup:" + Region + ":" + a + ":recovery-point:" + id }},
	"db-snapshot": {"rds:DeleteDBSnapshot", func(a, id string) string { return "arn:aws:rds:" + Region + ":" + a + ":snapshot:" + id }},
	"table":       {"dynamodb:DeleteTable", func(a, id string) string { return "arn:aws:dynamodb:" + Region + ":" + a + ":table/" + id }},
	"log-group":   {"logs:DeleteLogGroup", func(a, id string) string { return "arn:aws:logs:" + Region + ":" + a + ":log-group:" + id }},
	"trail":       {"cloudtrail:DeleteTrail", func(a, id string) string { return "arn:aws:cloudtrail:" + Region + ":" + a + ":trail/" + id }},
}

// ResourceKinds returns the kinds AddResource accepts, sorted.
func ResourceKinds() []string { return sortedMapKeys(resourceKinds) }

// DestroyAction returns the IAM action that deletes a resource kind, e.g.
// "ec2:DeleteSnapshot" for "snapshot".
func DestroyAction(kind string) (string, bool) {
	k, ok := resourceKinds[kind]
	return k.action, ok
}

// ResourceARN returns the ARN of a resource as policies see it.
func ResourceARN(acct, kind, id string) (string, bool) {
	k, ok := resourceKinds[kind]
	if !ok {
		return "", false
	}
	return k.arn(acct, id), true
}

// AddResource adds a data resource (see ResourceKinds) to an account.
func (o *Org) AddResource(acct, kind, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return fmt.Errorf("add %s %q: %w", kind, id, err)
	}
	return o.addResourceLocked(a, kind, id)
}

func (o *Org) addResourceLocked(a *account, kind, id string) error {
	if _, ok := resourceKinds[kind]; !ok {
		return fmt.Errorf("add resource %q in %s: unknown kind %q (kinds: %s)", clip(id), a.id, clip(kind), strings.Join(ResourceKinds(), ", "))
	}
	if id == "" || len(id) > 255 || !utf8.ValidString(id) || hasControl(id) || strings.ContainsAny(id, " \t") {
		return fmt.Errorf("add %s %q in %s: id must be 1-255 printable characters without spaces", kind, clip(id), a.id)
	}
	if o.resources >= MaxResources {
		return fmt.Errorf("add %s %q in %s: more than %d resources", kind, clip(id), a.id, MaxResources)
	}
	m := a.resources[kind]
	if m == nil {
		m = map[string]struct{}{}
		a.resources[kind] = m
	}
	if _, dup := m[id]; dup {
		return fmt.Errorf("add %s %q in %s: already exists", kind, id, a.id)
	}
	m[id] = struct{}{}
	o.resources++
	return nil
}

// Resources returns an account's data resources sorted by kind, then id.
func (o *Org) Resources(acct string) []Resource {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return nil
	}
	return a.resourceList()
}

func (a *account) resourceList() []Resource {
	out := []Resource{}
	for kind, ids := range a.resources {
		for id := range ids {
			out = append(out, Resource{Kind: kind, ID: id})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Destroy is the intruder deleting a resource: it authorizes the delete
// action (see DestroyAction) on the resource's ARN with credential c and, if
// allowed, removes the resource. A refusal is a *Denied; a missing resource
// wraps ErrNotFound.
func (o *Org) Destroy(c Credential, kind, id string) error {
	k, ok := resourceKinds[kind]
	if !ok {
		return fmt.Errorf("destroy %s %q: unknown kind (kinds: %s)", kind, id, strings.Join(ResourceKinds(), ", "))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(c.Account)
	if err != nil {
		return fmt.Errorf("destroy %s %q: %w", kind, id, err)
	}
	if _, ok := a.resources[kind][id]; !ok {
		return fmt.Errorf("destroy %s %q in %s: %w", kind, id, a.id, ErrNotFound)
	}
	if err := o.authorizeLocked(c, k.action, k.arn(a.id, id)); err != nil {
		return err
	}
	delete(a.resources[kind], id)
	o.resources--
	return nil
}
