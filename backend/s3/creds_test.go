package s3_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/s3"
)

// isolateAWSEnv clears every AWS credential source of the environment and
// points HOME at an empty folder.
func isolateAWSEnv(t *testing.T) string {
	home := t.TempDir()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "no-credentials"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "no-config"))
	return home
}

func TestCredentialSources(t *testing.T) {
	base := testConfig(t)
	base.Bucket = newBucket(t, base)
	key, secret := base.AccessKey, base.SecretKey
	anon := base
	anon.AccessKey, anon.SecretKey = "", ""

	t.Run("environment", func(t *testing.T) {
		isolateAWSEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", key)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
		openOK(t, anon)
	})
	t.Run("explicit beats environment", func(t *testing.T) {
		isolateAWSEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "bogus")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "bogus-secret")
		openOK(t, base)
	})
	t.Run("shared file and profile", func(t *testing.T) {
		home := isolateAWSEnv(t)
		file := filepath.Join(home, "creds")
		ini := "[default]\naws_access_key_id = bogus\naws_secret_access_key = bogus\n\n[cairn]\naws_access_key_id = " + key + "\naws_secret_access_key = " + secret + "\n"
		if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
		t.Setenv("AWS_PROFILE", "cairn")
		openOK(t, anon)
		t.Setenv("AWS_PROFILE", "")
		cfg := anon
		cfg.Profile = "cairn"
		openOK(t, cfg)
	})
	t.Run("none", func(t *testing.T) {
		isolateAWSEnv(t)
		_, err := s3.Open(context.Background(), anon)
		if !errors.Is(err, backend.ErrAccessDenied) || !strings.Contains(err.Error(), "no credentials found") {
			t.Fatalf("open without credentials: %v, want ErrAccessDenied with a hint", err)
		}
	})
}

func openOK(t *testing.T, cfg s3.Config) {
	t.Helper()
	be, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	be.Close()
}

// TestTLS puts a TLS-terminating reverse proxy with its own certificate
// authority in front of the real server.
func TestTLS(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = newBucket(t, cfg)
	target, _ := url.Parse("http://" + cfg.Endpoint)
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	proxy.StartTLS()
	defer proxy.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Endpoint = proxy.Listener.Addr().String()
	cfg.UseTLS = true

	if _, err := s3.Open(context.Background(), cfg); err == nil || errors.Is(err, backend.ErrTransient) {
		t.Fatalf("open with an unknown CA: %v, want a permanent certificate error", err)
	}
	cfg.CACertFile = caFile
	be, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open with the CA file: %v", err)
	}
	defer be.Close()
	h := backend.Handle{Type: backend.KeyFile, Name: strings.Repeat("0f", 32)}
	data := bytes.Repeat([]byte("tls"), 100000)
	if err := be.Save(context.Background(), h, backend.NewByteReader(data)); err != nil {
		t.Fatal(err)
	}
	if got, err := backend.LoadAll(context.Background(), be, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip over TLS: %v", err)
	}
	cfg.CACertFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := s3.Open(context.Background(), cfg); !errors.Is(err, s3.ErrBadConfig) {
		t.Errorf("missing CA file: %v, want ErrBadConfig", err)
	}
}
