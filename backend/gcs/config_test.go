package gcs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	for addr, want := range map[string]Config{
		"gs:backups":          {Bucket: "backups"},
		"gs:backups/web1":     {Bucket: "backups", Prefix: "web1"},
		"gs:my_bucket-2/a/b/": {Bucket: "my_bucket-2", Prefix: "a/b"},
	} {
		got, err := ParseAddress(addr)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", addr, got, err, want)
		}
		if err == nil && strings.TrimSuffix(addr, "/") != got.Location() {
			t.Errorf("%s: Location() = %s", addr, got.Location())
		}
	}
	for _, addr := range []string{
		"backups", "gs:", "gs://backups", "gs:Backups", "gs:ab", "gs:-bad", "gs:googbucket",
		"gs:a.b.c", "gs:backups//x", "gs:backups/./x", "gs:backups?x=1", "gs:user@backups",
	} {
		if _, err := ParseAddress(addr); !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s: %v, want ErrBadAddress", addr, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Bucket: "b01", ChunkSize: 1000},
		{Bucket: "b01", Endpoint: "storage.example.com"},
		{Bucket: "b01", Endpoint: "https://user:pw@storage.example.com"},
	} {
		if err := c.validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", c, err)
		}
	}
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	if _, _, err := credentialsFile(write("sa.json", `{"type":"service_account","private_key":"SECRET"}`)); err != nil {
		t.Errorf("service account file: %v", err)
	}
	for _, p := range []string{write("bad.json", "SECRET not json"), write("odd.json", `{"type":"api_key","key":"SECRET"}`), filepath.Join(dir, "missing.json")} {
		_, _, err := credentialsFile(p)
		if !errors.Is(err, ErrBadConfig) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: %v, want ErrBadConfig without the file's content", p, err)
		}
	}
}
