package azure

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	for addr, want := range map[string]Config{
		"azure:acct/backups":            {Account: "acct", Container: "backups"},
		"azure:acct/backups/web1":       {Account: "acct", Container: "backups", Prefix: "web1"},
		"azure:acct/backups/a/b/":       {Account: "acct", Container: "backups", Prefix: "a/b"},
		"azure:devstoreaccount1/c-1-23": {Account: "devstoreaccount1", Container: "c-1-23"},
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
		"acct/backups", "azure:acct", "azure:Acct/backups", "azure:ac/backups", "azure:acct/Backups",
		"azure:acct/b", "azure:acct/bad--name", "azure:acct/-bad", "azure:acct/backups//x",
		"azure:acct/backups/../x", "azure:https://acct.blob.core.windows.net/c", "azure:acct/c?sig=x",
		"azure:acct/backups;AccountKey=x",
	} {
		if _, err := ParseAddress(addr); !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s: %v, want ErrBadAddress", addr, err)
		}
	}
}

func TestStringHidesSecrets(t *testing.T) {
	cfg := Config{Account: "acct", Container: "c01", AccountKey: "KEY-SECRET", SASToken: "SAS-SECRET", ConnectionString: "CS-SECRET"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("printed a secret: %s", s)
		}
	}
}

func TestResolveCredentials(t *testing.T) {
	const key = "a2V5"
	cfg := Config{Account: "acct", Container: "c01"}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name     string
		cfg      Config
		env      map[string]string
		endpoint string
		source   string
		bad      bool
	}{
		{"managed identity", cfg, nil, "https://acct.blob.core.windows.net", "DefaultAzureCredential", false},
		{"key from env", cfg, map[string]string{envKey: key}, "https://acct.blob.core.windows.net", envKey, false},
		{"key for another account", cfg, map[string]string{envAccount: "other", envKey: key}, "", "", true},
		{"sas from env", cfg, map[string]string{envAccount: "acct", envSASToken: "sv=1&sig=x"}, "https://acct.blob.core.windows.net", envSASToken, false},
		{"azurite connection string", cfg, map[string]string{envConnectionString: "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:10000/acct;"},
			"http://127.0.0.1:10000/acct", envConnectionString, false},
		{"sovereign suffix", cfg, map[string]string{envConnectionString: "AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.chinacloudapi.cn"},
			"https://acct.blob.core.chinacloudapi.cn", envConnectionString, false},
		{"connection string of another account", cfg, map[string]string{envConnectionString: "AccountName=other;AccountKey=" + key}, "", "", true},
		{"connection string without a key", cfg, map[string]string{envConnectionString: "AccountName=acct"}, "", "", true},
		{"explicit key wins", Config{Account: "acct", Container: "c01", AccountKey: key, Endpoint: "https://e.example/acct"},
			map[string]string{envConnectionString: "AccountName=other;AccountKey=x"}, "https://e.example/acct", "the account key", false},
	}
	for _, c := range cases {
		got, err := resolveCredentials(c.cfg, env(c.env))
		if c.bad {
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("%s: %v, want ErrBadConfig", c.name, err)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("%s: error shows the key: %v", c.name, err)
			}
			continue
		}
		if err != nil || got.endpoint != c.endpoint || got.source != c.source {
			t.Errorf("%s: %+v, %v; want endpoint %s from %s", c.name, got.endpoint, err, c.endpoint, c.source)
		}
	}
}

func TestValidateSizes(t *testing.T) {
	for _, c := range []Config{
		{Account: "acct", Container: "c01", SingleMax: -1},
		{Account: "acct", Container: "c01", SingleMax: 5001 << 20},
		{Account: "acct", Container: "c01", BlockSize: 1000},
		{Account: "acct", Container: "c01", Concurrency: 65},
	} {
		if err := c.validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", c, err)
		}
	}
	if err := (Config{Account: "acct", Container: "c01", SingleMax: 5000 << 20}).validate(); err != nil {
		t.Errorf("Azure's own limit refused: %v", err)
	}
}
