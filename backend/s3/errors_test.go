package s3

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/cairnbackup/cairn/backend"
)

// TestMapErr checks the classification of provider errors as minio-go
// reports them (the live tests cover what the server really answers).
func TestMapErr(t *testing.T) {
	resp := func(code string, status int) error {
		return minio.ErrorResponse{Code: code, Message: "the server's words", StatusCode: status}
	}
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/b", Err: err} }
	cases := []struct {
		err  error
		want error // nil: no sentinel
	}{
		{resp("NoSuchKey", 404), backend.ErrNotFound},
		{resp("NoSuchBucket", 404), backend.ErrNotFound},
		{resp("XAdminUserNotFound", 404), backend.ErrAccessDenied},
		{resp("InvalidAccessKeyId", 403), backend.ErrAccessDenied},
		{resp("SignatureDoesNotMatch", 403), backend.ErrAccessDenied},
		{resp("AccessDenied", 403), backend.ErrAccessDenied},
		{resp("403 Forbidden", 403), backend.ErrAccessDenied},
		{resp("SlowDown", 503), backend.ErrTransient},
		{resp("ServiceUnavailable", 503), backend.ErrTransient},
		{resp("InternalError", 500), backend.ErrTransient},
		{resp("429 Too Many Requests", 429), backend.ErrTransient},
		{resp("502 Bad Gateway", 502), backend.ErrTransient},
		{resp("RequestTimeout", 400), backend.ErrTransient},
		{resp("EntityTooLarge", 400), backend.ErrNoSpace},
		{resp("XMinioAdminBucketQuotaExceeded", 400), backend.ErrNoSpace},
		{resp("InsufficientStorage", 507), backend.ErrNoSpace},
		{resp("InvalidRange", 416), backend.ErrShortRead},
		{resp("InvalidArgument", 400), nil},
		{resp("ObjectParentIsFile", 409), nil},
		{urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), backend.ErrTransient},
		{urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), backend.ErrTransient},
		{urlErr(io.ErrUnexpectedEOF), backend.ErrTransient},
		{urlErr(timeoutErr{}), backend.ErrTransient},
		{urlErr(&net.DNSError{Err: "no such host", Name: "nope", IsNotFound: true}), nil},
		{urlErr(&net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}), backend.ErrTransient},
		{urlErr(x509.UnknownAuthorityError{}), nil},
	}
	sentinels := []error{backend.ErrNotFound, backend.ErrAccessDenied, backend.ErrTransient, backend.ErrNoSpace, backend.ErrShortRead}
	for _, c := range cases {
		got := mapErr(c.err)
		for _, s := range sentinels {
			if errors.Is(got, s) != (s == c.want) {
				t.Errorf("%v: mapped to %q; errors.Is(%v) = %v", c.err, got, s, !(s == c.want))
			}
		}
		if er, ok := c.err.(minio.ErrorResponse); ok && !strings.Contains(got.Error(), er.Code) {
			t.Errorf("%q lost the provider's code %s", got, er.Code)
		}
	}
	for _, err := range []error{context.Canceled, fmt.Errorf("x: %w", context.DeadlineExceeded)} {
		if got := mapErr(err); got != err {
			t.Errorf("context error %v changed to %v", err, got)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
