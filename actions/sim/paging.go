package sim

import (
	"encoding/base64"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

const tokenPrefix = "sim1:"

// encodeToken makes an opaque pagination token (IAM Marker or
// Organizations NextToken) naming the next key to return.
func encodeToken(key string) *string {
	return aws.String(base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + key)))
}

func decodeToken(tok *string) (string, bool) {
	if tok == nil || *tok == "" {
		return "", true
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil || !strings.HasPrefix(string(b), tokenPrefix) {
		return "", false
	}
	return strings.TrimPrefix(string(b), tokenPrefix), true
}

// iamPage decodes IAM MaxItems (default 100, 1-1000) and Marker.
func iamPage(maxItems *int32, marker *string) (start string, max int, err error) {
	max = 100
	if maxItems != nil {
		if *maxItems < 1 || *maxItems > 1000 {
			return "", 0, validationError("1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
		}
		max = int(*maxItems)
	}
	start, ok := decodeToken(marker)
	if !ok {
		return "", 0, validationError("Invalid Marker")
	}
	return start, max, nil
}

// pageSorted returns up to max keys of sorted keys, from the first key >=
// start, that keep accepts (nil = all); next is the key to resume from.
func pageSorted(keys []string, start string, max int, keep func(string) bool) (page []string, next string, truncated bool) {
	for i := sort.SearchStrings(keys, start); i < len(keys); i++ {
		k := keys[i]
		if keep != nil && !keep(k) {
			continue
		}
		if len(page) == max {
			return page, k, true
		}
		page = append(page, k)
	}
	return page, "", false
}

// pathPrefix decodes an IAM PathPrefix ("/" when absent).
func pathPrefix(p *string) (string, error) {
	s := str(p)
	if s == "" {
		return "/", nil
	}
	if !strings.HasPrefix(s, "/") || len(s) > 512 {
		return "", validationError("Invalid PathPrefix " + clip(s))
	}
	return s, nil
}

// iamPager is an IAM List call's MaxItems, Marker and PathPrefix.
type iamPager struct {
	start  string
	max    int
	prefix string
}

// newIAMPager decodes MaxItems, Marker and PathPrefix (nil: "/"), failing
// on the first invalid one in that order.
func newIAMPager(maxItems *int32, marker, prefix *string) (*iamPager, error) {
	start, max, err := iamPage(maxItems, marker)
	if err != nil {
		return nil, err
	}
	p, err := pathPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &iamPager{start: start, max: max, prefix: p}, nil
}

// under reports whether path is under the PathPrefix.
func (pg *iamPager) under(path string) bool { return strings.HasPrefix(path, pg.prefix) }

// page pages sorted keys that keep accepts (nil: all) and returns the
// output's Marker and IsTruncated with the page.
func (pg *iamPager) page(keys []string, keep func(string) bool) (page []string, marker *string, truncated bool) {
	page, next, truncated := pageSorted(keys, pg.start, pg.max, keep)
	if truncated {
		marker = encodeToken(next)
	}
	return page, marker, truncated
}

// orgPage decodes Organizations MaxResults (1-20, default 20) and NextToken.
func orgPage(maxResults *int32, nextToken *string) (start string, max int, err error) {
	max = 20
	if maxResults != nil {
		switch {
		case *maxResults < 1:
			return "", 0, &orgtypes.InvalidInputException{Message: aws.String("MaxResults must be at least 1."), Reason: orgtypes.InvalidInputExceptionReasonMinValueExceeded}
		case *maxResults > 20:
			return "", 0, &orgtypes.InvalidInputException{Message: aws.String("MaxResults must be at most 20."), Reason: orgtypes.InvalidInputExceptionReasonMaxValueExceeded}
		}
		max = int(*maxResults)
	}
	start, ok := decodeToken(nextToken)
	if !ok {
		return "", 0, badToken()
	}
	return start, max, nil
}

func badToken() error {
	return &orgtypes.InvalidInputException{Message: aws.String("The provided NextToken is not valid."), Reason: orgtypes.InvalidInputExceptionReasonInvalidPaginationToken}
}

// pageOrg pages ordered keys, honouring Organizations MaxResults and
// NextToken; next is nil on the last page.
func pageOrg(keys []string, maxResults *int32, nextToken *string) (page []string, next *string, err error) {
	start, max, err := orgPage(maxResults, nextToken)
	if err != nil {
		return nil, nil, err
	}
	page, next, ok := pageOrdered(keys, start, max)
	if !ok {
		return nil, nil, badToken()
	}
	return page, next, nil
}

// pageOrdered pages an ordered (not necessarily sorted) list of keys; start
// must be one of keys (or "").
func pageOrdered(keys []string, start string, max int) (page []string, next *string, ok bool) {
	i := 0
	if start != "" {
		i = -1
		for j, k := range keys {
			if k == start {
				i = j
				break
			}
		}
		if i < 0 {
			return nil, nil, false
		}
	}
	end := min(i+max, len(keys))
	page = keys[i:end]
	if end < len(keys) {
		next = encodeToken(keys[end])
	}
	return page, next, true
}
