package s3_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/backend/s3"
)

func TestParseAddress(t *testing.T) {
	good := []struct {
		in   string
		want s3.Config
	}{
		{"s3:http://127.0.0.1:9000/bucket", s3.Config{Endpoint: "127.0.0.1:9000", Bucket: "bucket"}},
		{"s3:https://s3.example.com/my-bucket/some/prefix", s3.Config{Endpoint: "s3.example.com", Bucket: "my-bucket", Prefix: "some/prefix", UseTLS: true}},
		{"s3:https://s3.example.com/my-bucket/prefix/", s3.Config{Endpoint: "s3.example.com", Bucket: "my-bucket", Prefix: "prefix", UseTLS: true}},
		{"s3:https://s3.example.com/my-bucket/", s3.Config{Endpoint: "s3.example.com", Bucket: "my-bucket", UseTLS: true}},
		{"s3:http://[::1]:9000/b.u-c/x", s3.Config{Endpoint: "[::1]:9000", Bucket: "b.u-c", Prefix: "x"}},
	}
	for _, c := range good {
		got, err := s3.ParseAddress(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got.Endpoint != c.want.Endpoint || got.Bucket != c.want.Bucket || got.Prefix != c.want.Prefix || got.UseTLS != c.want.UseTLS {
			t.Errorf("%s: got %v, want %v", c.in, got, c.want)
		}
		if got.Location() != strings.TrimSuffix(c.in, "/") {
			t.Errorf("%s: location %s", c.in, got.Location())
		}
	}
	bad := map[string]string{
		"/srv/repo":                              "does not start",
		"s3://bucket/prefix":                     "s3://BUCKET",
		"s3:ftp://host/bucket":                   "http:// or https://",
		"s3:host/bucket":                         "http:// or https://",
		"s3:https:///bucket":                     "no host",
		"s3:https://host":                        "no bucket",
		"s3:https://host/":                       "no bucket",
		"s3:https://host:/bucket":                "empty port",
		"s3:https://host:99999/bucket":           "bad port",
		"s3:https://host/Bad_Bucket!":            "bucket",
		"s3:https://host/bkt/pre//fix":           "empty path segment",
		"s3:https://host/bucket/a/../b":          `".." segment`,
		"s3:https://host/bucket/p?x=1":           "query",
		"s3:https://host/bucket/p#frag":          "fragment",
		"s3:https://AKIAKEY:hunter2@host/bucket": "credentials",
		"s3:https://host/bucket/%zz":             "malformed",
	}
	for in, want := range bad {
		_, err := s3.ParseAddress(in)
		if !errors.Is(err, s3.ErrBadAddress) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrBadAddress saying %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", in, err)
		}
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg := s3.Config{Endpoint: "h:1", Bucket: "bucket", AccessKey: "AKIDEXAMPLE", SecretKey: "s3cr3t-value", SessionToken: "tok3n-value"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(format, cfg)
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "tok3n") {
			t.Errorf("%s shows a secret: %s", format, s)
		}
	}
	if loc := cfg.Location(); loc != "s3:http://h:1/bucket" {
		t.Errorf("location %q", loc)
	}
}

func TestParseBucketLookup(t *testing.T) {
	for in, want := range map[string]s3.BucketLookup{"": s3.LookupAuto, "auto": s3.LookupAuto, "Path": s3.LookupPath, "virtual": s3.LookupVirtual, "dns": s3.LookupVirtual} {
		if got, err := s3.ParseBucketLookup(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := s3.ParseBucketLookup("sideways"); !errors.Is(err, s3.ErrBadConfig) {
		t.Errorf("bad lookup: %v", err)
	}
}
