package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/objectstore"
)

// Errors of this package; failures of the store itself map onto the
// backend package's sentinels.
var (
	// ErrBadAddress: a repository address, bucket or prefix is malformed.
	ErrBadAddress = errors.New("gcs: bad repository address")
	// ErrBadConfig: a Config field or the credentials are unusable.
	ErrBadConfig = errors.New("gcs: bad configuration")
	// ErrNotEmpty: Create found objects under the prefix that do not
	// belong to a repository.
	ErrNotEmpty = errors.New("gcs: prefix holds objects that are not a repository")
)

// Error reasons (googleapi.ErrorItem.Reason) by the sentinel they map to;
// anything else is classified by its HTTP status. GCS answers some rate
// limits with 403, which the reason tells from a refusal.
var (
	transientReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true,
		"backendError": true, "internalError": true}
	noSpaceReasons = map[string]bool{"quotaExceeded": true, "storageQuotaExceeded": true}
)

// mapErr translates a client library, OAuth or network error onto the
// backend's sentinels, keeping the provider's message. Context errors and
// errors it cannot classify are returned unchanged.
func mapErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("%w: %v", backend.ErrNotFound, err)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		if s := responseSentinel(gerr); s != nil {
			return fmt.Errorf("%w: %s", s, describe(gerr))
		}
		return fmt.Errorf("gcs: %s", describe(gerr))
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) {
		return fmt.Errorf("%w: %v", backend.ErrAccessDenied, err)
	}
	if objectstore.TransientNetErr(err) {
		return fmt.Errorf("%w: %v", backend.ErrTransient, err)
	}
	return err
}

// responseSentinel picks the sentinel for an error answer: by reason
// first, then by HTTP status.
func responseSentinel(e *googleapi.Error) error {
	for _, it := range e.Errors {
		switch {
		case transientReasons[it.Reason]:
			return backend.ErrTransient
		case noSpaceReasons[it.Reason]:
			return backend.ErrNoSpace
		}
	}
	return objectstore.StatusSentinel(e.Code)
}

// describe renders an error answer in one line: "message (HTTP 403,
// reason forbidden)".
func describe(e *googleapi.Error) string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	s := fmt.Sprintf("%s (HTTP %d", msg, e.Code)
	if len(e.Errors) > 0 && e.Errors[0].Reason != "" {
		s += ", reason " + e.Errors[0].Reason
	}
	return s + ")"
}
