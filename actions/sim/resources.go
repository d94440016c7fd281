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

func regional(service, typ, sep string) func(acct, id string) string {
	return func(a, id string) string { return "arn:aws:" + service + ":" + Region + ":" + a + ":" + typ + sep + id }
}

// resourceKinds is every kind of data resource, with the action that
// deletes one and its ARN as policies see it. The YAML loader's resources:
// map takes the same kinds.
var resourceKinds = map[string]resourceKind{
	"snapshot": {"ec2:DeleteSnapshot", func(_, id string) string { return "arn:aws:ec2:" + Region + "::snapshot/" + id }},
	"ami":      {"ec2:DeregisterImage", func(_, id string) string { return "arn:aws:ec2:" + Region + "::image/" + id }},
	"volume":   {"ec2:DeleteVolume", regional("ec2", "volume", "/")},
	"instance": {"ec2:TerminateInstances", regional("ec2", "instance", "/")},
	"bucket":   {"s3:DeleteBucket", func(_, id string) string { return "arn:aws:s3:::" + id }},
	"object":   {"s3:DeleteObject", func(_, id string) string { return "arn:aws:s3:::" + id }},
	"object-version": {"s3:DeleteObjectVersion", func(_, id string) string {
		// BUCKET/KEY#VERSION: the version is not part of the ARN.
		if i := strings.LastIndexByte(id, '#'); i >= 0 {
			id = id[:i]
		}
		return "arn:aws:s3:::" + id
	}},
	"backup":       {"backup:DeleteRecoveryPoint", regional("backup", "recovery-point", ":")},
	"backup-vault": {"backup:DeleteBackupVault", regional("backup", "backup-vault", ":")},
	"db-instance":  {"rds:DeleteDBInstance", regional("rds", "db", ":")},
	"db-snapshot":  {"rds:DeleteDBSnapshot", regional("rds", "snapshot", ":")},
	"table":        {"dynamodb:DeleteTable", regional("dynamodb", "table", "/")},
	"table-backup": {"dynamodb:DeleteBackup", func(a, id string) string {
		// TABLE/BACKUP_ID, like the ARN's table/TABLE/backup/BACKUP_ID.
		table, backup, _ := strings.Cut(id, "/")
		return "arn:aws:dynamodb:" + Region + ":" + a + ":table/" + table + "/backup/" + backup
	}},
	"kms-key":            {"kms:ScheduleKeyDeletion", regional("kms", "key", "/")},
	"dlm-policy":         {"dlm:DeleteLifecyclePolicy", regional("dlm", "policy", "/")},
	"rbin-rule":          {"rbin:DeleteRule", regional("rbin", "rule", "/")},
	"log-group":          {"logs:DeleteLogGroup", regional("logs", "log-group", ":")},
	"trail":              {"cloudtrail:DeleteTrail", regional("cloudtrail", "trail", "/")},
	"guardduty-detector": {"guardduty:DeleteDetector", regional("guardduty", "detector", "/")},
	"config-recorder":    {"config:DeleteConfigurationRecorder", regional("config", "configuration-recorder", "/")},
}

// ResourceKinds returns the kinds AddResource accepts, sorted. Ids are the
// resource's own id or name, except: object is BUCKET/KEY, object-version
// BUCKET/KEY#VERSION and table-backup TABLE/BACKUP_ID (ARNs as AWS's).
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
	delete(a.lost[kind], id)
	o.resources++
	return nil
}

// Resources returns an account's intact data resources (not destroyed,
// made unrecoverable, blinded or exposed; see ResourceStates) sorted by
// kind, then id.
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
			if _, lost := a.lost[kind][id]; !lost {
				out = append(out, Resource{Kind: kind, ID: id})
			}
		}
	}
	sortResources(out)
	return out
}

func sortResources(out []Resource) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
}

// ResourceState is a data resource and what happened to it.
type ResourceState struct {
	Kind, ID string
	// Lost is true once the resource was destroyed, made unrecoverable,
	// blinded or exposed; a deleted resource stays listed.
	Lost bool
	// How it was lost, e.g. "deleted by s3:DeleteBucket", "backup retention
	// set to 0", "shared with 999988887777"; several causes are joined
	// with "; ". "" while intact.
	How string
}

// ResourceStates returns every data resource an account has or had, lost
// ones included, sorted by kind, then id.
func (o *Org) ResourceStates(acct string) []ResourceState {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil {
		return nil
	}
	var rs []Resource
	for kind, ids := range a.resources {
		for id := range ids {
			if _, lost := a.lost[kind][id]; !lost {
				rs = append(rs, Resource{Kind: kind, ID: id})
			}
		}
	}
	for kind, ids := range a.lost {
		for id := range ids {
			rs = append(rs, Resource{Kind: kind, ID: id})
		}
	}
	sortResources(rs)
	out := make([]ResourceState, 0, len(rs))
	for _, r := range rs {
		how, lost := a.lost[r.Kind][r.ID]
		out = append(out, ResourceState{Kind: r.Kind, ID: r.ID, Lost: lost, How: how})
	}
	out = append(out, a.binnedStates()...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// hasResource reports whether a resource still exists (lost or not).
func (a *account) hasResource(kind, id string) bool {
	_, ok := a.resources[kind][id]
	return ok
}

// resourceIDs returns the ids of a kind that still exist, sorted.
func (a *account) resourceIDs(kind string) []string { return sortedMapKeys(a.resources[kind]) }

// markLost records how a resource was lost; it stays in place (blinded,
// exposed, unrecoverable) unless deleteResourceLocked removes it.
func (a *account) markLost(kind, id, how string) {
	if a.lost == nil {
		a.lost = map[string]map[string]string{}
	}
	m := a.lost[kind]
	if m == nil {
		m = map[string]string{}
		a.lost[kind] = m
	}
	if prev, ok := m[id]; ok && prev != "" && prev != how {
		how = prev + "; " + how
	}
	m[id] = how
}

// deleteResourceLocked removes a resource, recording it as deleted by
// action; it reports whether the resource is lost: a snapshot or AMI that
// a Recycle Bin rule covers goes to the Recycle Bin instead (backups.go).
// Caller holds o.mu.
func (o *Org) deleteResourceLocked(a *account, kind, id, action string) (lost bool) {
	delete(a.resources[kind], id)
	o.resources--
	if o.toRecycleBin(a, kind, id) {
		return false
	}
	a.markLost(kind, id, "deleted by "+action)
	return true
}

// Destroy is the intruder deleting a resource: it authorizes the delete
// action (see DestroyAction) on the resource's ARN with credential c and, if
// allowed, removes the resource (ResourceStates keeps it, lost). A refusal
// is a *Denied; a missing resource wraps ErrNotFound.
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
	o.deleteResourceLocked(a, kind, id, k.action)
	return nil
}
