package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnbackup/cairn/config"
)

func TestLoadCloudLocations(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/cloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cairn.yaml")
	os.WriteFile(path, data, 0o600)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	locs := c.Repository.Locations
	if len(locs) != 4 || locs[1].URL != "azure:backupsacct/cairn/web1" || locs[3].URL != "gs:cairn-backups/web1" {
		t.Fatalf("locations %+v", locs)
	}
	a := locs[1].Azure
	if a == nil || a.Endpoint != "https://backupsacct.blob.core.usgovcloudapi.net" || a.AccountKey != "very-secret-azure-key" {
		t.Errorf("azure options %#v", a)
	}
	if f := locs[2].Azure.SASTokenFile; f != filepath.Join(dir, "secrets/sas") {
		t.Errorf("sas_token_file %q not made relative to the config's folder", f)
	}
	g := locs[3].GCS
	if g == nil || g.ProjectID != "my-project" || g.CredentialsFile != filepath.Join(dir, "secrets/sa.json") {
		t.Errorf("gcs options %#v", g)
	}
	for _, out := range []string{fmt.Sprint(*a), fmt.Sprintf("%v", a), fmt.Sprintf("%#v", *a), fmt.Sprintf("%+v", *a)} {
		if strings.Contains(out, "very-secret") {
			t.Errorf("printing Azure options shows a secret: %s", out)
		}
	}
}

func TestCloudLocationErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"repository:\n  locations:\n    - url: /a\n      azure:\n        account_key: k\n", `x.yaml:5: azure options on location "/a"`},
		{"repository:\n  locations:\n    - url: azure:acct/c01\n      gcs:\n        project_id: p\n", `x.yaml:5: gcs options on location "azure:acct/c01"`},
		{"repository:\n  locations:\n    - url: azure:acct/c01\n      azure:\n        account_key: k\n        sas_token: s\n", "x.yaml:5: location \"azure:acct/c01\": give only one of"},
		{"repository:\n  locations:\n    - url: azure:acct/c01\n      azure:\n        endpoint: 127.0.0.1:10000\n", "x.yaml:5: location \"azure:acct/c01\": the endpoint must be"},
		{"repository:\n  locations:\n    - url: gs:b01\n      gcs:\n        colour: red\n", `x.yaml:5:9: unknown field "colour"`},
	} {
		_, err := config.Parse("x.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), ": k\n") || strings.Contains(err.Error(), "sas_token: s")) {
			t.Errorf("error quotes the file: %v", err)
		}
	}
	if !config.IsRemote("gs:b") || !config.IsRemote("azure:a/c") || !config.IsRemote("s3:http://h/b") || config.IsRemote("/srv/gs:b") {
		t.Error("IsRemote")
	}
}
