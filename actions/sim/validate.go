package sim

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	reAccountID  = regexp.MustCompile(`^[0-9]{12}$`)
	reIAMName    = regexp.MustCompile(`^[\w+=,.@-]+$`)
	reIAMPath    = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	reTagKey     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	reTagValue   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	reAccessKey  = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	reSecretName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
)

func validAccountID(id string) error {
	if !reAccountID.MatchString(id) {
		return fmt.Errorf("account id %q is not 12 digits", clip(id))
	}
	return nil
}

func validAccountName(n string) error {
	if n == "" || utf8.RuneCountInString(n) > 50 || !utf8.ValidString(n) || hasControl(n) {
		return fmt.Errorf("account name %q must be 1-50 printable characters", clip(n))
	}
	return nil
}

func validOUName(n string) error {
	if n == "" || utf8.RuneCountInString(n) > 128 || !utf8.ValidString(n) || hasControl(n) || strings.TrimSpace(n) != n {
		return fmt.Errorf("OU name %q must be 1-128 printable characters", clip(n))
	}
	return nil
}

// validName checks an IAM user, role, group or policy name.
func validName(kind, n string, max int) error {
	if n == "" || len(n) > max || !reIAMName.MatchString(n) {
		return fmt.Errorf("%s name %q must be 1-%d characters of [A-Za-z0-9+=,.@_-]", kind, clip(n), max)
	}
	return nil
}

func validPath(p string) error {
	if len(p) > 512 || !reIAMPath.MatchString(p) {
		return fmt.Errorf("path %q must start and end with / and hold printable ASCII (max 512)", clip(p))
	}
	return nil
}

func validTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return fmt.Errorf("%d tags: at most %d", len(tags), maxTags)
	}
	seen := make(map[string]bool, len(tags))
	for k, v := range tags {
		if utf8.RuneCountInString(k) > 128 || !reTagKey.MatchString(k) {
			return fmt.Errorf("tag key %q is invalid", clip(k))
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fmt.Errorf("tag key %q: the aws: prefix is reserved", clip(k))
		}
		if utf8.RuneCountInString(v) > 256 || !reTagValue.MatchString(v) {
			return fmt.Errorf("tag %q: value %q is invalid", clip(k), clip(v))
		}
		lk := strings.ToLower(k)
		if seen[lk] {
			return fmt.Errorf("tag key %q is duplicated (tag keys are case-insensitive)", clip(k))
		}
		seen[lk] = true
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// clip shortens hostile input before it is echoed in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// policySize counts the characters IAM counts against its size limits:
// everything but white space.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}
