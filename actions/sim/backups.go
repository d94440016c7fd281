package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// What protects data from deletion, modelled as AWS does it: Recycle Bin
// retention rules for EBS snapshots and AMIs (a deleted resource a rule
// covers goes to the Recycle Bin and can be restored, so it is not lost;
// a locked rule cannot be deleted or changed until its unlock delay after
// UnlockRule), EBS snapshot lock, AWS Backup vaults with Vault Lock and
// logically air-gapped vaults, S3 Object Lock and versioning. Resources
// (snapshot, ami, backup = a recovery point, bucket) live in a region
// (default Region).

// Recycle Bin resource types and lock states, as the rbin API spells them.
const (
	RbinSnapshot = "EBS_SNAPSHOT"
	RbinImage    = "EC2_IMAGE"

	RbinLocked        = "locked"
	RbinPendingUnlock = "pending_unlock"
	RbinUnlocked      = "unlocked"
)

// Backup vault types, as the Backup API spells them.
const (
	VaultStandard  = "BACKUP_VAULT"
	VaultAirGapped = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
)

// RecycleBinRule is a Recycle Bin retention rule.
type RecycleBinRule struct {
	ID           string // "" = generated
	Region       string // "" = Region
	ResourceType string // RbinSnapshot | RbinImage
	Description  string
	// RetentionDays: 1-365.
	RetentionDays int32
	// ResourceTags makes a tag-level rule: it covers resources carrying at
	// least one of these pairs (an empty value matches any value). None: a
	// region-level rule, covering every resource of its type in the region
	// except those carrying one of ExcludeTags.
	ResourceTags map[string]string
	ExcludeTags  map[string]string
	// Lock: RbinLocked, RbinPendingUnlock or RbinUnlocked ("" = unlocked).
	// Only region-level rules can be locked.
	Lock            string
	UnlockDelayDays int32
	LockEnd         time.Time // pending_unlock: when it becomes unlocked
	Tags            map[string]string
}

// BackupVault is an AWS Backup vault holding recovery points.
type BackupVault struct {
	Name   string
	Region string // "" = Region
	Type   string // VaultStandard ("") | VaultAirGapped (always compliance-locked)
	// Lock: "" (none), "governance" (removable by whoever may call
	// DeleteBackupVaultLockConfiguration) or "compliance" (immutable once
	// its grace time is over).
	Lock             string
	MinRetentionDays int64
	// RecoveryPoints are "backup" resource ids of the account held here
	// (added as resources when missing).
	RecoveryPoints []string
}

// BucketProtection is a bucket's Object Lock and versioning.
type BucketProtection struct {
	ObjectLock bool
	Versioning string // "" (never enabled) | "Enabled" | "Suspended"
}

type binned struct {
	rule string
	at   time.Time
	days int32
}

// backupState is one account's data protection.
type backupState struct {
	region    map[string]string            // kind/id -> region ("" = Region)
	tags      map[string]map[string]string // kind/id -> tags (snapshots, AMIs)
	snapLocks map[string]string            // snapshot id -> compliance | governance
	rules     map[string]*RecycleBinRule   // by id
	vaults    map[string]*BackupVault      // by name
	rpVault   map[string]string            // recovery point id -> vault name
	buckets   map[string]BucketProtection
	bin       map[string]binned // kind/id -> in the Recycle Bin
}

func (a *account) bk() *backupState {
	if a.backups == nil {
		a.backups = &backupState{region: map[string]string{}, tags: map[string]map[string]string{}, snapLocks: map[string]string{},
			rules: map[string]*RecycleBinRule{}, vaults: map[string]*BackupVault{}, rpVault: map[string]string{},
			buckets: map[string]BucketProtection{}, bin: map[string]binned{}}
	}
	return a.backups
}

func resKey(kind, id string) string { return kind + "/" + id }

// regionOf is the region a resource lives in.
func (a *account) regionOf(kind, id string) string {
	if a.backups != nil {
		if r := a.backups.region[resKey(kind, id)]; r != "" {
			return r
		}
	}
	return Region
}

// SetResourceRegion puts a resource (snapshot, ami, backup, bucket) in a
// region.
func (o *Org) SetResourceRegion(acct, kind, id, region string) error {
	return o.withResource(acct, kind, id, func(a *account) error {
		if !validRegion(region) {
			return fmt.Errorf("region %q is not a region name such as us-west-2", clip(region))
		}
		a.bk().region[resKey(kind, id)] = region
		return nil
	})
}

// TagResource sets a snapshot's or AMI's tags (Recycle Bin rules match them).
func (o *Org) TagResource(acct, kind, id string, tags map[string]string) error {
	return o.withResource(acct, kind, id, func(a *account) error {
		a.bk().tags[resKey(kind, id)] = copyTags(tags)
		return nil
	})
}

// LockSnapshot puts a snapshot under EBS snapshot lock (mode compliance or
// governance).
func (o *Org) LockSnapshot(acct, id, mode string) error {
	return o.withResource(acct, "snapshot", id, func(a *account) error {
		if mode != "compliance" && mode != "governance" {
			return fmt.Errorf("snapshot lock mode %q: want compliance or governance", clip(mode))
		}
		a.bk().snapLocks[id] = mode
		return nil
	})
}

// SetBucketProtection sets a bucket's Object Lock and versioning.
func (o *Org) SetBucketProtection(acct, bucket string, p BucketProtection) error {
	return o.withResource(acct, "bucket", bucket, func(a *account) error {
		switch p.Versioning {
		case "", "Enabled", "Suspended":
		default:
			return fmt.Errorf("versioning %q: want Enabled or Suspended", clip(p.Versioning))
		}
		if p.ObjectLock && p.Versioning != "Enabled" {
			return fmt.Errorf("object lock needs versioning Enabled")
		}
		a.bk().buckets[bucket] = p
		return nil
	})
}

func (o *Org) withResource(acct, kind, id string, fn func(a *account) error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, id, err)
	}
	if !a.hasResource(kind, id) {
		return fmt.Errorf("%s %q in %s: %w", kind, clip(id), acct, ErrNotFound)
	}
	if err := fn(a); err != nil {
		return fmt.Errorf("%s %q in %s: %w", kind, clip(id), acct, err)
	}
	return nil
}

// AddRecycleBinRule adds a retention rule and returns its id.
func (o *Org) AddRecycleBinRule(acct string, r RecycleBinRule) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return "", fmt.Errorf("add recycle bin rule: %w", err)
	}
	return o.addRuleLocked(a, r)
}

func (o *Org) addRuleLocked(a *account, r RecycleBinRule) (string, error) {
	if r.Region == "" {
		r.Region = Region
	}
	if r.Lock == "" {
		r.Lock = RbinUnlocked
	}
	if err := checkRule(r); err != nil {
		return "", fmt.Errorf("add recycle bin rule in %s: %w", a.id, err)
	}
	if r.ID == "" {
		r.ID = o.newID("", 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	}
	if a.bk().rules[r.ID] != nil {
		return "", fmt.Errorf("add recycle bin rule %s in %s: already exists", r.ID, a.id)
	}
	r.ResourceTags, r.ExcludeTags, r.Tags = copyTags(r.ResourceTags), copyTags(r.ExcludeTags), copyTags(r.Tags)
	a.bk().rules[r.ID] = &r
	return r.ID, nil
}

func checkRule(r RecycleBinRule) error {
	switch {
	case r.ResourceType != RbinSnapshot && r.ResourceType != RbinImage:
		return fmt.Errorf("resource type %q: want %s or %s", clip(r.ResourceType), RbinSnapshot, RbinImage)
	case r.RetentionDays < 1 || r.RetentionDays > 365:
		return fmt.Errorf("retention %d days: want 1-365", r.RetentionDays)
	case !validRegion(r.Region):
		return fmt.Errorf("region %q is not a region name", clip(r.Region))
	case r.Lock != RbinUnlocked && r.Lock != RbinLocked && r.Lock != RbinPendingUnlock:
		return fmt.Errorf("lock state %q: want locked, pending_unlock or unlocked", clip(r.Lock))
	case r.Lock != RbinUnlocked && len(r.ResourceTags) > 0:
		return fmt.Errorf("only region-level rules (no resource tags) can be locked")
	case r.Lock != RbinUnlocked && (r.UnlockDelayDays < 7 || r.UnlockDelayDays > 30):
		return fmt.Errorf("unlock delay %d days: want 7-30", r.UnlockDelayDays)
	case len(r.ResourceTags) > 0 && len(r.ExcludeTags) > 0:
		return fmt.Errorf("exclusion tags apply to region-level rules only")
	}
	return nil
}

// RecycleBinRules returns an account's retention rules, sorted by id.
func (o *Org) RecycleBinRules(acct string) []RecycleBinRule {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil || a.backups == nil {
		return nil
	}
	var out []RecycleBinRule
	for _, id := range sortedMapKeys(a.backups.rules) {
		r := *a.backups.rules[id]
		out = append(out, r)
	}
	return out
}

// AddBackupVault adds a vault and the recovery points it holds.
func (o *Org) AddBackupVault(acct string, v BackupVault) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, err := o.account(acct)
	if err != nil {
		return fmt.Errorf("add backup vault %q: %w", v.Name, err)
	}
	return o.addVaultLocked(a, v)
}

func (o *Org) addVaultLocked(a *account, v BackupVault) error {
	if v.Region == "" {
		v.Region = Region
	}
	if v.Type == "" {
		v.Type = VaultStandard
	}
	if v.Type == VaultAirGapped {
		v.Lock = "compliance"
	}
	switch {
	case v.Name == "" || len(v.Name) > 50 || strings.ContainsAny(v.Name, " /:"):
		return fmt.Errorf("add backup vault %q in %s: a vault name has 1-50 letters, digits, - and _", clip(v.Name), a.id)
	case v.Type != VaultStandard && v.Type != VaultAirGapped:
		return fmt.Errorf("add backup vault %q in %s: type %q: want %s or %s", v.Name, a.id, clip(v.Type), VaultStandard, VaultAirGapped)
	case v.Lock != "" && v.Lock != "governance" && v.Lock != "compliance":
		return fmt.Errorf("add backup vault %q in %s: lock %q: want governance or compliance", v.Name, a.id, clip(v.Lock))
	case !validRegion(v.Region):
		return fmt.Errorf("add backup vault %q in %s: region %q is not a region name", v.Name, a.id, clip(v.Region))
	case a.bk().vaults[v.Name] != nil:
		return fmt.Errorf("add backup vault %q in %s: already exists", v.Name, a.id)
	}
	for _, rp := range v.RecoveryPoints {
		if !a.hasResource("backup", rp) {
			if err := o.addResourceLocked(a, "backup", rp); err != nil {
				return err
			}
		}
		a.bk().rpVault[rp] = v.Name
		a.bk().region[resKey("backup", rp)] = v.Region
	}
	v.RecoveryPoints = nil
	a.bk().vaults[v.Name] = &v
	return nil
}

// defaultVault is where a recovery point without a vault is: AWS Backup's
// "Default" vault, unlocked, in the recovery point's region.
const defaultVault = "Default"

// vaultOf returns the vault holding a recovery point (nil: the Default
// vault, unlocked).
func (a *account) vaultOf(rp string) (string, *BackupVault) {
	if a.backups != nil {
		if name, ok := a.backups.rpVault[rp]; ok {
			return name, a.backups.vaults[name]
		}
	}
	return defaultVault, nil
}

// retainedBy returns the rule that sends a deleted snapshot or AMI to the
// Recycle Bin, preferring the longest retention ("" = none).
func (a *account) retainedBy(kind, id string) (string, int32) {
	typ := map[string]string{"snapshot": RbinSnapshot, "ami": RbinImage}[kind]
	if typ == "" || a.backups == nil {
		return "", 0
	}
	region, tags := a.regionOf(kind, id), a.backups.tags[resKey(kind, id)]
	best, days := "", int32(0)
	for _, rid := range sortedMapKeys(a.backups.rules) {
		r := a.backups.rules[rid]
		if r.ResourceType == typ && r.Region == region && ruleCovers(r, tags) && r.RetentionDays > days {
			best, days = rid, r.RetentionDays
		}
	}
	return best, days
}

// ruleCovers reports whether a rule matches a resource with tags.
func ruleCovers(r *RecycleBinRule, tags map[string]string) bool {
	match := func(m map[string]string) bool {
		for k, v := range m {
			if tv, ok := tags[k]; ok && (v == "" || v == tv) {
				return true
			}
		}
		return false
	}
	if len(r.ResourceTags) > 0 {
		return match(r.ResourceTags)
	}
	return !match(r.ExcludeTags)
}

// toRecycleBin is deleteResourceLocked's path for a snapshot or AMI a
// rule covers: it leaves the account's resources but is not lost.
func (o *Org) toRecycleBin(a *account, kind, id string) bool {
	rule, days := a.retainedBy(kind, id)
	if rule == "" {
		return false
	}
	a.bk().bin[resKey(kind, id)] = binned{rule: rule, at: o.now(), days: days}
	return true
}

// InRecycleBin lists the deleted snapshots and AMIs an account's Recycle
// Bin holds ("kind/id"), sorted.
func (o *Org) InRecycleBin(acct string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.accounts[acct]
	if a == nil || a.backups == nil {
		return nil
	}
	return sortedMapKeys(a.backups.bin)
}

// binnedStates are the resources in the Recycle Bin, intact.
func (a *account) binnedStates() []ResourceState {
	if a.backups == nil {
		return nil
	}
	var out []ResourceState
	for _, k := range sortedMapKeys(a.backups.bin) {
		kind, id, _ := strings.Cut(k, "/")
		b := a.backups.bin[k]
		out = append(out, ResourceState{Kind: kind, ID: id, How: fmt.Sprintf("deleted, in the Recycle Bin for %d days (retention rule %s): restorable", b.days, b.rule)})
	}
	return out
}

// accountRegions is Region and every region the account has data or
// rules in, sorted: the sim's enabled regions.
func (a *account) accountRegions() []string {
	set := map[string]bool{Region: true}
	if a.backups != nil {
		for _, r := range a.backups.region {
			set[r] = true
		}
		for _, r := range a.backups.rules {
			set[r.Region] = true
		}
		for _, v := range a.backups.vaults {
			set[v.Region] = true
		}
	}
	out := sortedMapKeys(set)
	sort.Strings(out)
	return out
}

func validRegion(r string) bool {
	parts := strings.Split(r, "-")
	if len(parts) < 3 || len(r) > 32 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

func copyTags(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
