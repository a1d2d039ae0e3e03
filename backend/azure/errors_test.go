package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cairnbackup/cairn/backend"
)

// TestMapErr checks the classification of errors as the SDK reports them
// (the live tests cover what Azurite really answers).
func TestMapErr(t *testing.T) {
	resp := func(code string, status int) error {
		req, _ := http.NewRequest(http.MethodGet, "https://acct.blob.core.windows.net/c/data/ab/x?sig=SECRET", nil)
		return &azcore.ResponseError{ErrorCode: code, StatusCode: status, RawResponse: &http.Response{StatusCode: status, Request: req}}
	}
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/c", Err: err} }
	cases := []struct {
		err  error
		want error // nil: no sentinel
	}{
		{resp("BlobNotFound", 404), backend.ErrNotFound},
		{resp("ContainerNotFound", 404), backend.ErrNotFound},
		{resp("", 404), backend.ErrNotFound},
		{resp("AuthenticationFailed", 403), backend.ErrAccessDenied},
		{resp("AuthorizationPermissionMismatch", 403), backend.ErrAccessDenied},
		{resp("AuthorizationFailure", 403), backend.ErrAccessDenied},
		{resp("NoAuthenticationInformation", 401), backend.ErrAccessDenied},
		{resp("AccountIsDisabled", 403), backend.ErrAccessDenied},
		{resp("ServerBusy", 503), backend.ErrTransient},
		{resp("", 429), backend.ErrTransient},
		{resp("OperationTimedOut", 500), backend.ErrTransient},
		{resp("InternalError", 500), backend.ErrTransient},
		{resp("", 502), backend.ErrTransient},
		{resp("RequestBodyTooLarge", 413), backend.ErrNoSpace},
		{resp("BlockCountExceedsLimit", 409), backend.ErrNoSpace},
		{resp("", 507), backend.ErrNoSpace},
		{resp("InvalidRange", 416), backend.ErrShortRead},
		{resp("InvalidHeaderValue", 400), nil},
		{resp("BlobAlreadyExists", 409), nil},
		{&azidentity.AuthenticationFailedError{}, backend.ErrAccessDenied},
		{&azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 401}}, backend.ErrAccessDenied},
		{&azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 503}}, backend.ErrTransient},
		{azidentity.NewCredentialUnavailableError("no managed identity endpoint"), backend.ErrAccessDenied},
		{urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), backend.ErrTransient},
		{urlErr(io.ErrUnexpectedEOF), backend.ErrTransient},
		{urlErr(&net.DNSError{Err: "no such host", Name: "nope", IsNotFound: true}), nil},
	}
	sentinels := []error{backend.ErrNotFound, backend.ErrAccessDenied, backend.ErrTransient, backend.ErrNoSpace, backend.ErrShortRead}
	for _, c := range cases {
		got := mapErr(c.err)
		for _, s := range sentinels {
			if errors.Is(got, s) != (s == c.want) {
				t.Errorf("%v: mapped to %q; errors.Is(%v) = %v", c.err, got, s, !(s == c.want))
			}
		}
		var re *azcore.ResponseError
		if errors.As(c.err, &re) {
			if !strings.Contains(got.Error(), fmt.Sprintf("HTTP %d", re.StatusCode)) || (re.ErrorCode != "" && !strings.Contains(got.Error(), re.ErrorCode)) {
				t.Errorf("%q lost the provider's code %s or status", got, re.ErrorCode)
			}
			if strings.Contains(got.Error(), "SECRET") || strings.Contains(got.Error(), "\n") {
				t.Errorf("%q shows the query or spans lines", got)
			}
		}
	}
	for _, err := range []error{context.Canceled, fmt.Errorf("x: %w", context.DeadlineExceeded)} {
		if got := mapErr(err); got != err {
			t.Errorf("context error %v changed to %v", err, got)
		}
	}
}
