package gcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

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

// Error reasons (the JSON API's errors[].reason) by the sentinel they map
// to; anything else is classified by its HTTP status. GCS answers some
// rate limits with 403, which the reason tells from a refusal.
var (
	transientReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true,
		"backendError": true, "internalError": true}
	noSpaceReasons = map[string]bool{"quotaExceeded": true, "storageQuotaExceeded": true}
)

// apiError is an error answer of the JSON API.
type apiError struct {
	// Code is the HTTP status.
	Code int
	// Message is the server's message, or the start of a body that is
	// not the API's JSON error.
	Message string
	// Reasons are the errors[].reason codes, in order.
	Reasons []string
}

// Error renders the answer in one line: "message (HTTP 403, reason
// forbidden)".
func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	s := fmt.Sprintf("%s (HTTP %d", msg, e.Code)
	if len(e.Reasons) > 0 && e.Reasons[0] != "" {
		s += ", reason " + e.Reasons[0]
	}
	return s + ")"
}

// readAPIError makes an *apiError of an answer, reading (a bounded part
// of) its body: {"error": {"code": 403, "message": "...", "errors":
// [{"reason": "forbidden", ...}]}}.
func readAPIError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &apiError{Code: resp.StatusCode}
	var doc struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	msg := string(body)
	if json.Unmarshal(body, &doc) == nil && doc.Error.Message != "" {
		msg = doc.Error.Message
		for _, it := range doc.Error.Errors {
			e.Reasons = append(e.Reasons, it.Reason)
		}
	}
	e.Message = oneLine(msg, maxMessage)
	return e
}

// maxMessage bounds the server's words kept in an error.
const maxMessage = 200

// oneLine folds s onto one line of printable text (anything else shows
// as '?') and cuts it after max bytes (on a rune boundary), marking the
// cut.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// mapErr translates an error answer, an OAuth failure or a network error
// onto the backend's sentinels, keeping the provider's message. Context
// errors and errors it cannot classify are returned unchanged.
func mapErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var aerr *apiError
	if errors.As(err, &aerr) {
		if s := responseSentinel(aerr); s != nil {
			return fmt.Errorf("%w: %v", s, aerr)
		}
		return fmt.Errorf("gcs: %v", aerr)
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) {
		// The token endpoint refused the credentials, or was itself
		// down: only the first is a refusal.
		if r := rerr.Response; r != nil && objectstore.StatusSentinel(r.StatusCode) == backend.ErrTransient {
			return fmt.Errorf("%w: getting a token: %v", backend.ErrTransient, err)
		}
		return fmt.Errorf("%w: %v", backend.ErrAccessDenied, err)
	}
	if objectstore.TransientNetErr(err) {
		return fmt.Errorf("%w: %v", backend.ErrTransient, err)
	}
	return err
}

// responseSentinel picks the sentinel for an error answer: by reason
// first, then by HTTP status.
func responseSentinel(e *apiError) error {
	for _, r := range e.Reasons {
		switch {
		case transientReasons[r]:
			return backend.ErrTransient
		case noSpaceReasons[r]:
			return backend.ErrNoSpace
		}
	}
	return objectstore.StatusSentinel(e.Code)
}
