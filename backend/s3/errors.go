package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Errors of this package; failures of the store itself map onto the
// backend package's sentinels.
var (
	// ErrBadAddress: a repository address or bucket/prefix is malformed.
	ErrBadAddress = errors.New("s3: bad repository address")
	// ErrBadConfig: a Config field is out of range or inconsistent.
	ErrBadConfig = errors.New("s3: bad configuration")
	// ErrNotEmpty: Create found objects under the prefix that do not belong
	// to a repository.
	ErrNotEmpty = errors.New("s3: prefix holds objects that are not a repository")
)

// Error codes by the sentinel they map to. Codes come from AWS, MinIO and
// versitygw; anything else is classified by its HTTP status.
var (
	notFoundCodes = codeSet("NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchVersion")
	// versitygw answers an unknown access key with 404 XAdminUserNotFound:
	// bad credentials, never "not found".
	deniedCodes = codeSet("AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId",
		"XAdminUserNotFound", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
		"AllAccessDisabled", "AccountProblem", "InvalidSecurity", "InvalidClientTokenId",
		"MissingSecurityHeader", "RequestTimeTooSkewed", "UnauthorizedAccess")
	transientCodes = codeSet("SlowDown", "SlowDownRead", "SlowDownWrite", "Throttling",
		"ThrottlingException", "RequestThrottled", "TooManyRequests", "RequestLimitExceeded",
		"ServiceUnavailable", "InternalError", "RequestTimeout", "OperationAborted",
		"XMinioServerNotInitialized", "IncompleteBody", "BadDigest", "XAmzContentSHA256Mismatch")
	noSpaceCodes = codeSet("QuotaExceeded", "XMinioAdminBucketQuotaExceeded", "XMinioStorageFull",
		"InsufficientStorage", "StorageFull", "EntityTooLarge")
)

func codeSet(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// mapErr translates a minio-go or network error onto the backend's
// sentinels, keeping the provider's code and message. Context errors and
// errors it cannot classify are returned unchanged.
func mapErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0) {
		if s := responseSentinel(er); s != nil {
			return fmt.Errorf("%w: %s", s, describe(er))
		}
		return fmt.Errorf("s3: %s", describe(er))
	}
	if objectstore.TransientNetErr(err) {
		return fmt.Errorf("%w: %v", backend.ErrTransient, err)
	}
	return err
}

// responseSentinel picks the sentinel for an S3 error response: by code
// first, then by HTTP status.
func responseSentinel(er minio.ErrorResponse) error {
	switch {
	case deniedCodes[er.Code]:
		return backend.ErrAccessDenied
	case notFoundCodes[er.Code]:
		return backend.ErrNotFound
	case transientCodes[er.Code]:
		return backend.ErrTransient
	case noSpaceCodes[er.Code]:
		return backend.ErrNoSpace
	case er.Code == minio.InvalidRange:
		return backend.ErrShortRead
	}
	return objectstore.StatusSentinel(er.StatusCode)
}

// describe renders an error response as "Code: message (HTTP 404)".
func describe(er minio.ErrorResponse) string {
	msg := er.Error()
	s := msg
	if er.Code != "" && er.Code != msg {
		s = er.Code + ": " + msg
	}
	if er.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", er.StatusCode)
	}
	return s
}
