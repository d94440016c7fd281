package awsint

import (
	"net/url"
	"regexp"
)

// restRoutes name the REST operations the bot makes (S3, AWS Backup,
// Recycle Bin) by signing name, method and path, so the shim counts them
// like the query and JSON ones; any other REST request counts as
// "METHOD path-shape", which no bot-policy action matches.
var restRoutes = []struct {
	service, method string
	path            *regexp.Regexp
	query           string // a query key the request carries ("" = none needed)
	op              string
}{
	{"s3", "GET", regexp.MustCompile(`^/$`), "", "ListBuckets"},
	{"s3", "GET", regexp.MustCompile(`^/[^/]+/?$`), "object-lock", "GetObjectLockConfiguration"},
	{"s3", "GET", regexp.MustCompile(`^/[^/]+/?$`), "versioning", "GetBucketVersioning"},
	{"backup", "GET", regexp.MustCompile(`^/backup-vaults/?$`), "", "ListBackupVaults"},
	{"backup", "GET", regexp.MustCompile(`^/backup-vaults/[^/]+/recovery-points/?$`), "", "ListRecoveryPointsByBackupVault"},
	{"rbin", "POST", regexp.MustCompile(`^/list-rules$`), "", "ListRules"},
	{"rbin", "GET", regexp.MustCompile(`^/rules/[^/]+$`), "", "GetRule"},
	{"rbin", "POST", regexp.MustCompile(`^/rules$`), "", "CreateRule"},
}

func restOperation(service, method string, u *url.URL) string {
	q := u.Query()
	for _, r := range restRoutes {
		if r.service == service && r.method == method && r.path.MatchString(u.Path) {
			if _, ok := q[r.query]; r.query == "" || ok {
				return r.op
			}
		}
	}
	return method + " " + u.Path
}
