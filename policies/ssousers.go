package policies

import (
	"sort"
	"strings"
)

// maxSSOUsers bounds Params.ExemptSSOUsers (each costs characters in the SCP).
const maxSSOUsers = 50

// ssoUsers validates the break-glass Identity Center user names and renders
// them as aws:userid patterns "*:NAME". A name with a wildcard, a quote, a
// colon or a control character is refused: it would exempt other sessions.
func (r *renderer) ssoUsers(names []string) []string {
	if len(names) > maxSSOUsers {
		r.problem("ExemptSSOUsers: %d names, at most %d", len(names), maxSSOUsers)
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, n := range names {
		if err := CheckSSOUserName(n); err != nil {
			r.problem("ExemptSSOUsers[%d]: %v", i, err)
			continue
		}
		if v := "*:" + n; !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// CheckSSOUserName checks an IAM Identity Center user name used as an
// exemption: 1 to 64 characters (a role session name's limit) from letters,
// digits and +=,.@_-, which is what a session name may hold.
func CheckSSOUserName(n string) error {
	if n == "" || len(n) > 64 || strings.IndexFunc(n, func(r rune) bool {
		return !(r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)))
	}) >= 0 {
		return &nameError{quote(n)}
	}
	return nil
}

type nameError struct{ q string }

func (e *nameError) Error() string {
	return "Identity Center user name " + e.q + ": want 1 to 64 letters, digits and +=,.@_- (no wildcards): IAM Identity Center names each session after its user"
}
