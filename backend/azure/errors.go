package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Errors of this package; failures of the store itself map onto the
// backend package's sentinels.
var (
	// ErrBadAddress: a repository address, container or prefix is malformed.
	ErrBadAddress = errors.New("azure: bad repository address")
	// ErrBadConfig: a Config field or a credential is out of range or
	// inconsistent.
	ErrBadConfig = errors.New("azure: bad configuration")
	// ErrNotEmpty: Create found blobs under the prefix that do not belong
	// to a repository.
	ErrNotEmpty = errors.New("azure: prefix holds blobs that are not a repository")
)

// Error codes (x-ms-error-code) by the sentinel they map to; anything else
// is classified by its HTTP status.
var (
	notFoundCodes = codeSet("BlobNotFound", "ContainerNotFound", "ResourceNotFound",
		"ContainerBeingDeleted", "BlobBeingRehydrated")
	deniedCodes = codeSet("AuthenticationFailed", "AuthorizationFailure",
		"AuthorizationPermissionMismatch", "AuthorizationResourceTypeMismatch",
		"AuthorizationServiceMismatch", "AuthorizationSourceIPMismatch",
		"AuthorizationProtocolMismatch", "InsufficientAccountPermissions",
		"AccountIsDisabled", "KeyVaultAccessTokenCannotBeAcquired", "NoAuthenticationInformation")
	transientCodes = codeSet("ServerBusy", "OperationTimedOut", "InternalError",
		"TooManyRequests", "IncompleteBody", "Md5Mismatch", "Crc64Mismatch")
	noSpaceCodes = codeSet("RequestBodyTooLarge", "BlockCountExceedsLimit",
		"BlockListTooLong", "AccountLimitExceeded", "TotalSharesProvisionedCapacityExceedsAccountLimit")
	rangeCodes = codeSet("InvalidRange")
)

func codeSet(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// mapErr translates an SDK, identity or network error onto the backend's
// sentinels, keeping the provider's code. Context errors and errors it
// cannot classify are returned unchanged.
func mapErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		if s := responseSentinel(re); s != nil {
			return fmt.Errorf("%w: %s", s, describe(re))
		}
		return fmt.Errorf("azure: %s", describe(re))
	}
	var authErr *azidentity.AuthenticationFailedError
	var unavailable interface{ NonRetriable() }
	if errors.As(err, &authErr) {
		// Entra ID refused the credentials, or was itself down: only the
		// first is a refusal.
		if r := authErr.RawResponse; r != nil && objectstore.StatusSentinel(r.StatusCode) == backend.ErrTransient {
			return fmt.Errorf("%w: getting a token: %v", backend.ErrTransient, err)
		}
		return fmt.Errorf("%w: %v", backend.ErrAccessDenied, err)
	}
	if errors.As(err, &unavailable) {
		return fmt.Errorf("%w: %v", backend.ErrAccessDenied, err)
	}
	if objectstore.TransientNetErr(err) {
		return fmt.Errorf("%w: %v", backend.ErrTransient, err)
	}
	return err
}

// responseSentinel picks the sentinel for an error answer: by code first,
// then by HTTP status.
func responseSentinel(re *azcore.ResponseError) error {
	switch c := re.ErrorCode; {
	case deniedCodes[c]:
		return backend.ErrAccessDenied
	case notFoundCodes[c]:
		return backend.ErrNotFound
	case transientCodes[c]:
		return backend.ErrTransient
	case noSpaceCodes[c]:
		return backend.ErrNoSpace
	case rangeCodes[c]:
		return backend.ErrShortRead
	}
	return objectstore.StatusSentinel(re.StatusCode)
}

// describe renders an error answer in one line: "BlobNotFound (HTTP 404,
// GET /container/name)". The query, which may hold a SAS token, is left
// out.
func describe(re *azcore.ResponseError) string {
	code := re.ErrorCode
	if code == "" {
		code = http.StatusText(re.StatusCode)
	}
	s := fmt.Sprintf("%s (HTTP %d", code, re.StatusCode)
	if r := re.RawResponse; r != nil && r.Request != nil {
		s += ", " + r.Request.Method + " " + r.Request.URL.EscapedPath()
	}
	return s + ")"
}
