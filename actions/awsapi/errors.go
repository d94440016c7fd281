package awsapi

import (
	"errors"

	"github.com/aws/smithy-go"
)

// throttleCodes are the error codes AWS services use for throttling.
var throttleCodes = map[string]bool{
	"Throttling":                             true,
	"ThrottlingException":                    true,
	"ThrottledException":                     true,
	"RequestThrottledException":              true,
	"TooManyRequestsException":               true,
	"RequestLimitExceeded":                   true,
	"TooManyRequests":                        true,
	"SlowDown":                               true,
	"PriorRequestNotComplete":                true,
	"ProvisionedThroughputExceededException": true,
}

// IsThrottle reports whether err is an AWS throttling error.
func IsThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && throttleCodes[ae.ErrorCode()]
}

// ErrorCode returns the AWS error code of err, or "" when err is not an AWS
// API error. Used for reporting, never for control flow: control flow uses
// errors.As on the typed exceptions.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
