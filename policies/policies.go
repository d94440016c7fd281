// Package policies holds the AWS policy documents that killswitch's actions
// attach, embedded as JSON templates (documents/*.json), and renders,
// minifies and validates them.
//
// # Templates
//
// A template is an ordinary IAM policy document in which some strings carry
// placeholders. Rendering decodes the template into Go values, substitutes
// the parameters structurally and encodes the result with encoding/json, so
// no parameter value can change the structure of a document: a quote or a
// brace in a value is either refused by parameter validation or ends up
// escaped inside a JSON string.
//
//	{{ExemptPatterns}}   Params.ExemptPatterns; only as a whole string, expands to a list
//	{{ExemptARNs}}       Params.ExemptARNs; only as a whole string, expands to a list
//	{{ExemptTag}}        Params.ExemptTag (never an exemption: see Params)
//	{{RevokeBefore}}     Params.RevokeBefore as UTC RFC 3339 (required: zero is an error)
//	{{BotPrincipal}}     Params.BotPrincipal (required)
//	{{ExternalID}}       Params.ExternalID
//	{{RoleName}}         Params.RoleName, DefaultRoleName when empty
//	{{OrgID}}            Params.OrgID, the Organization's id (o-...)
//
// When an optional parameter is empty, a placeholder written {{Name?}}
// removes only what it sits in: its list element, or its condition key (and
// a condition operator or block left empty). Written {{Name}}, it removes the
// whole statement: a statement that only makes sense with the value (deny
// tagging principals with the exempt tag) is dropped rather than rendered
// without its condition, which would widen it.
//
// # Limits
//
// Sizes follow AWS: SCPs count every character including whitespace, IAM
// policies count characters excluding whitespace. Render always returns
// minified JSON.
package policies

import (
	"embed"
	"fmt"
	"sort"
	"strings"
	"time"
)

// AWS size limits, in characters.
const (
	LimitSCP        = 5120  // service control policy, whitespace included
	LimitRCP        = 5120  // resource control policy, whitespace included
	LimitManaged    = 6144  // customer managed policy, whitespace excluded
	LimitUserInline = 2048  // all inline policies of one user together, whitespace excluded
	LimitRoleInline = 10240 // all inline policies of one role together, whitespace excluded
	LimitTrust      = 2048  // role trust policy (default quota), whitespace excluded
)

// DefaultRoleName is the responder role assumed in every account when
// Params.RoleName is empty.
const DefaultRoleName = "KillSwitchResponder"

// ManagedPolicyPath is the IAM path of every managed policy killswitch
// creates (the deny-delete fallback). The bot policy only lets the bot create,
// attach and detach managed policies under this path, so it cannot attach
// someone else's (say AdministratorAccess) to anything.
const ManagedPolicyPath = "/killswitch/"

// ManagedTagKey is the tag (value "true") killswitch puts on every SCP and
// managed policy it creates. SCP ARNs carry no name, so the bot policy lets
// the bot update, delete, attach and detach only SCPs with this tag, and
// create SCPs only with it.
const ManagedTagKey = "killswitch:managed"

// SecretNamePrefix starts the name of every Secrets Manager secret
// killswitch creates (replacement access keys from rotate-keys). The bot
// policy only grants Secrets Manager access to secrets under this prefix.
const SecretNamePrefix = "killswitch/"

// Kind is where a document is attached; it decides the size limit and the
// grammar (trust policies name a Principal instead of a Resource).
type Kind string

// The kinds of policy killswitch attaches.
const (
	KindSCP        Kind = "scp"
	KindRCP        Kind = "rcp" // resource control policy: Deny only, Principal "*"
	KindManaged    Kind = "managed"
	KindUserInline Kind = "user-inline"
	KindRoleInline Kind = "role-inline"
	KindTrust      Kind = "trust"
)

var kinds = []Kind{KindSCP, KindRCP, KindManaged, KindUserInline, KindRoleInline, KindTrust}

// Kinds returns every kind.
func Kinds() []Kind { return append([]Kind(nil), kinds...) }

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown policy kind %s (want one of scp, rcp, managed, user-inline, role-inline, trust)", quote(s))
}

// Limit returns the AWS size limit for the kind in characters, or 0 for an
// unknown kind.
func (k Kind) Limit() int {
	switch k {
	case KindSCP:
		return LimitSCP
	case KindRCP:
		return LimitRCP
	case KindManaged:
		return LimitManaged
	case KindUserInline:
		return LimitUserInline
	case KindRoleInline:
		return LimitRoleInline
	case KindTrust:
		return LimitTrust
	}
	return 0
}

// CountsWhitespace reports whether AWS counts whitespace against the kind's
// limit: it does for SCPs and RCPs, not for IAM policies.
func (k Kind) CountsWhitespace() bool { return k == KindSCP || k == KindRCP }

// Size returns the size of doc as AWS counts it for kind k.
func Size(k Kind, doc string) int {
	n := 0
	for _, r := range doc {
		if !k.CountsWhitespace() && isJSONSpace(r) {
			continue
		}
		n++
	}
	return n
}

func isJSONSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// Params are the values a document is rendered with. Every value is treated
// as hostile input and validated before use.
type Params struct {
	// ExemptPatterns are ARN patterns never restricted: the break-glass
	// patterns and the bot's own role pattern. Rendered as an ArnNotLike
	// aws:PrincipalArn condition on every deny statement (and, in
	// deny-delete, as the roles sts:AssumeRole may still enter).
	ExemptPatterns []string
	// ExemptARNs are exact principal ARNs (users, roles, or an account's
	// root; no wildcards) never restricted either: the engine passes the
	// principals of the recorded baseline that are exempt by tag, and the
	// ARNs listed in the configuration. Rendered next to ExemptPatterns.
	ExemptARNs []string
	// ExemptTag is the break-glass tag key. It exempts nobody: a principal
	// that can tag itself (or tag a session, which counts as a principal
	// tag) would exempt itself, so no document has a tag condition that
	// lifts a deny. It is only used by the statement of deny-delete that
	// denies setting the tag from inside the scope; exemption by tag is
	// decided by the engine against a recorded baseline and rendered as
	// ExemptARNs.
	ExemptTag string
	// OmitSids drops the statements with these Sids. Only drills use it,
	// to show what a part of the guardrail buys (actions.Config.Without).
	OmitSids []string
	// RevokeBefore: revoke-older-sessions denies sessions issued before this
	// instant. Rendered in UTC, RFC 3339, rounded up to a whole second so
	// no session issued before the instant survives. Required.
	RevokeBefore time.Time
	// BotPrincipal is the ARN allowed to assume the responder role
	// (responder-trust). Required there.
	BotPrincipal string
	// ExternalID is an optional sts:ExternalId condition in responder-trust.
	ExternalID string
	// RoleName is the responder role assumed in every account (bot-policy);
	// DefaultRoleName when empty.
	RoleName string
	// OrgID is the Organization's id (o-...): deny-delete-rcp denies
	// principals outside it even when their ARN matches an exempt pattern
	// (an intruder can name a role BreakGlass* in its own account). Without
	// it, that statement is dropped.
	OrgID string
	// ExemptSSOUsers are the break-glass IAM Identity Center user names
	// whose sessions revoke-sso-sessions leaves alone: IAM Identity Center
	// names every role session after the user who signed in, so
	// aws:userid is ROLEID:USERNAME (rendered as StringNotLike "*:NAME").
	// No wildcards.
	ExemptSSOUsers []string
}

// DefaultParams returns example parameters, so that every document can be
// shown and validated without configuration. RevokeBefore is a fixed sample
// time: never use DefaultParams to render a policy that is attached.
func DefaultParams() Params {
	return Params{
		ExemptPatterns: []string{
			"arn:aws:iam::*:role/BreakGlass*",
			"arn:aws:iam::*:role/" + DefaultRoleName,
		},
		ExemptTag:    "killswitch:break-glass",
		RevokeBefore: time.Date(2026, time.November, 30, 17, 41, 3, 0, time.UTC),
		BotPrincipal: "arn:aws:iam::111111111111:role/KillSwitchBot",
		RoleName:     DefaultRoleName,
		OrgID:        "o-exampleorg1",
	}
}

// Document describes one embedded policy document.
type Document struct {
	Name    string // e.g. "deny-delete"
	Kinds   []Kind // where it is attached; validated against the limit of each
	Summary string // one line
	// DenyOnly marks a deny document: it must contain no Allow statement and
	// deny no read-only call, so that a containment never blinds the
	// responders.
	DenyOnly bool
	// Split marks a document attached as one or more parts (RenderParts):
	// each part must fit the kinds' limits, the whole need not.
	Split bool
	// Cost is one line saying what the document costs the account while it
	// is in place (shown in the plan, the card and the runbook); "" when it
	// costs nothing worth saying.
	Cost string
	// DenyAll marks a deny document that denies every call by design:
	// revoke-older-sessions denies "*" to sessions issued before the cut-off,
	// reads included, because a stolen session must lose everything and the
	// legitimate user simply signs in again. Validation still forbids Allow
	// statements in it, but skips the read-only rule.
	DenyAll bool
}

//go:embed documents/*.json
var documentFS embed.FS

// The bot policy allows no more than the containment needs. What AWS lets it
// scope, and what not (Service Authorization Reference, AWS Organizations and
// IAM):
//   - IAM managed policies: by ARN, so only /killswitch/KillSwitch* may be
//     created, tagged or deleted, and attached or detached (iam:PolicyARN).
//   - SCPs carry no name in their ARN. organizations:CreatePolicy supports
//     aws:RequestTag and organizations:PolicyType, so the bot may create only
//     SCPs tagged killswitch:managed=true; UpdatePolicy, DeletePolicy,
//     AttachPolicy and DetachPolicy support aws:ResourceTag on the policy
//     resource, so the bot may change only SCPs carrying that tag (attach and
//     detach also name the target account, allowed separately).
//   - Not scoped: creating with tags needs organizations:TagResource, which
//     cannot be limited to the policy being created. It is limited to SCP
//     ARNs and to the one tag key, but a stolen bot credential could tag a
//     customer's SCP killswitch:managed and then change it; CloudTrail shows
//     such a TagResource, and the guardrail (which exempts the bot) does not
//     stop it.
//   - Break-glass principals (the exempt patterns and ARNs) get an explicit
//     Deny on every IAM write the bot has, so no later Allow can reach them.
//   - iam:CreateAccessKey is allowed on users but denied on the exempt
//     patterns; which users are rotate-keys' targets is decided at run time,
//     so the policy cannot name them: any other user can get a key from a
//     stolen bot credential (at most two per user, and the key is visible in
//     CloudTrail).
//   - Inline policies may be put on any non-exempt user or role: that is
//     how revoke-sessions works; their content cannot be constrained by IAM.
//   - IAM Identity Center: reads are scoped to Identity Center and identity
//     store ARNs (sso:ListInstances supports only "*").
//     sso:CreateAccountAssignment (undo of contain-identity-center) cannot be
//     limited to the assignments killswitch removed: IAM has no condition
//     key for the principal or permission set of an assignment, so a stolen
//     bot credential could assign any permission set in any account
//     (CloudTrail shows it). Break-glass Identity Center users are exempt by
//     the engine, not by this policy.
var registry = []Document{
	{
		Name:     "bot-policy",
		Kinds:    []Kind{KindRoleInline},
		Summary:  "the bot's own least-privilege permissions: exactly the AWS calls killswitch makes, and assuming the responder role",
		DenyOnly: false,
	},
	{
		Name:  "deny-delete",
		Kinds: []Kind{KindSCP, KindManaged},
		Summary: "the guardrail: deny destroying, blinding and exfiltrating data in the data services, and freeze IAM, " +
			"session minting (sts:AssumeRole except into exempt roles, GetSessionToken, GetFederationToken) and Organizations policies, " +
			"for every principal but break-glass, the bot and the recorded exempt ARNs; AWS service principals are not bound by SCPs, " +
			"so instance profiles and Lambda execution roles keep getting credentials",
		Cost: "until undo: no IAM change, no new role session (code assuming another role with its own credentials fails; " +
			"instance profiles and service roles keep working), no deletion of snapshots, backups, buckets, objects, tables, " +
			"log groups or alarms, and no RDS instance or cluster modification, except by break-glass",
		DenyOnly: true,
		Split:    true,
	},
	{
		Name:  "deny-delete-rcp",
		Kinds: []Kind{KindRCP},
		Summary: "the guardrail's resource control policy, beside the deny-delete SCP where the Organization allows RCPs: deny destroying data and " +
			"changing the resource policies that could lock responders out (S3, KMS, Secrets Manager, DynamoDB, ECR, CloudWatch Logs) for every " +
			"principal, those outside the Organization included, but break-glass, the bot and the recorded exempt ARNs of the Organization; " +
			"AWS service principals are not denied (aws:PrincipalIsAWSService); RCPs never apply to the management account",
		Cost: "until undo: nobody but break-glass deletes buckets, objects, tables, backups, secrets, repositories or log groups, schedules KMS key " +
			"deletion or changes bucket, key, table, secret or repository policies in the member accounts, from inside or outside the Organization",
		DenyOnly: true,
		Split:    true,
	},
	{
		Name:     "quarantine",
		Kinds:    []Kind{KindUserInline, KindRoleInline},
		Summary:  "deny privilege escalation, identity pivots and persistence to one compromised principal; exempts break-glass and the bot",
		DenyOnly: true,
	},
	{
		Name:     "responder-trust",
		Kinds:    []Kind{KindTrust},
		Summary:  "trust policy of the responder role: only the bot's principal may assume it, optionally with an external id",
		DenyOnly: false,
	},
	{
		Name:  "revoke-sso-sessions",
		Kinds: []Kind{KindSCP},
		Summary: "SCP denying everything to IAM Identity Center sessions (roles under /aws-reserved/sso.amazonaws.com/) issued before the revocation time, " +
			"except the break-glass Identity Center users' sessions; binds member accounts only",
		Cost:     "every IAM Identity Center session in the account issued before the cut-off ends: users sign in again through the access portal",
		DenyOnly: true,
		DenyAll:  true,
	},
	{
		Name:     "revoke-older-sessions",
		Kinds:    []Kind{KindUserInline, KindRoleInline},
		Summary:  "deny everything to sessions issued before the revocation time (aws:TokenIssueTime)",
		Cost:     "every session issued before the cut-off ends, workloads' role sessions included: they must fetch new credentials",
		DenyOnly: true,
		DenyAll:  true,
	},
}

func init() {
	sort.Slice(registry, func(i, j int) bool { return registry[i].Name < registry[j].Name })
}

// List returns every document, sorted by name.
func List() []Document {
	out := make([]Document, len(registry))
	for i, d := range registry {
		out[i] = d.clone()
	}
	return out
}

// Lookup returns the document called name.
func Lookup(name string) (Document, bool) {
	for _, d := range registry {
		if d.Name == name {
			return d.clone(), true
		}
	}
	return Document{}, false
}

func (d Document) clone() Document {
	d.Kinds = append([]Kind(nil), d.Kinds...)
	return d
}

// template returns the embedded template text of the document called name.
func template(name string) ([]byte, error) {
	return documentFS.ReadFile("documents/" + name + ".json")
}

// quote quotes a (possibly hostile) value for an error message, shortened
// so that a huge value cannot flood a log or a Slack message.
func quote(s string) string {
	const max = 100
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q... (%d bytes)", s[:cut], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ValidationError reports every problem found in one document.
type ValidationError struct {
	Document string
	Problems []string
}

func (e *ValidationError) Error() string {
	name := e.Document
	if name == "" {
		name = "(unnamed)"
	}
	switch len(e.Problems) {
	case 0:
		return fmt.Sprintf("policy %s: invalid", name)
	case 1:
		return fmt.Sprintf("policy %s: %s", name, e.Problems[0])
	}
	return fmt.Sprintf("policy %s: %d problems: %s", name, len(e.Problems), strings.Join(e.Problems, "; "))
}
