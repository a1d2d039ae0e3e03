package config

import (
	"fmt"
	"strings"
)

// Azure holds the options of an azure:ACCOUNT/CONTAINER[/PREFIX] location.
// At most one credential may be given; without one, cairn reads
// AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or
// AZURE_STORAGE_SAS_TOKEN, and last uses DefaultAzureCredential (managed
// identity on Azure hosts). Its String method hides the secrets, so it may
// be printed.
type Azure struct {
	// Endpoint is the blob service's URL, for Azurite and sovereign
	// clouds (default https://ACCOUNT.blob.core.windows.net).
	Endpoint string `yaml:"endpoint,omitempty"`
	// AccountKey or AccountKeyFile: the storage account's shared key.
	AccountKey     string `yaml:"account_key,omitempty"`
	AccountKeyFile string `yaml:"account_key_file,omitempty"`
	// SASToken or SASTokenFile: a shared access signature for the container.
	SASToken     string `yaml:"sas_token,omitempty"`
	SASTokenFile string `yaml:"sas_token_file,omitempty"`
	// ConnectionStringFile: a file holding a connection string.
	ConnectionStringFile string `yaml:"connection_string_file,omitempty"`
}

// String describes the options without secrets.
func (a Azure) String() string {
	creds := "from the environment"
	switch {
	case a.AccountKey != "":
		creds = "explicit account key"
	case a.SASToken != "":
		creds = "explicit SAS token"
	case a.AccountKeyFile != "":
		creds = "account key file " + a.AccountKeyFile
	case a.SASTokenFile != "":
		creds = "SAS token file " + a.SASTokenFile
	case a.ConnectionStringFile != "":
		creds = "connection string file " + a.ConnectionStringFile
	}
	return fmt.Sprintf("endpoint %q, credentials %s", a.Endpoint, creds)
}

// GoString keeps secrets out of %#v.
func (a Azure) GoString() string { return "config.Azure{" + a.String() + "}" }

// GCS holds the options of a gs:BUCKET[/PREFIX] location. It holds no
// secret: credentials come from the file it names or from Application
// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata server).
type GCS struct {
	// ProjectID is the project `init --create-bucket` makes the bucket in
	// (default GOOGLE_CLOUD_PROJECT).
	ProjectID string `yaml:"project_id,omitempty"`
	// CredentialsFile is a service account key or other JSON credentials.
	CredentialsFile string `yaml:"credentials_file,omitempty"`
	// Endpoint replaces the JSON API endpoint (regional or private).
	Endpoint string `yaml:"endpoint,omitempty"`
}

// String describes the options.
func (g GCS) String() string {
	return fmt.Sprintf("project %q, credentials_file %q, endpoint %q", g.ProjectID, g.CredentialsFile, g.Endpoint)
}

// GoString matches String.
func (g GCS) GoString() string { return "config.GCS{" + g.String() + "}" }

// IsRemote reports whether a location URL names an object store rather
// than a path.
func IsRemote(url string) bool {
	for _, scheme := range []string{"s3:", "azure:", "gs:"} {
		if strings.HasPrefix(url, scheme) {
			return true
		}
	}
	return false
}

// validateCloud checks a location's azure and gcs blocks.
func (l Location) validateCloud(at string) error {
	switch {
	case l.Azure != nil && !strings.HasPrefix(l.URL, "azure:"):
		return invalid(at+".azure", "azure options on location %q, which is not an azure: address", l.URL)
	case l.GCS != nil && !strings.HasPrefix(l.URL, "gs:"):
		return invalid(at+".gcs", "gcs options on location %q, which is not a gs: address", l.URL)
	case l.Azure != nil:
		a := l.Azure
		n := 0
		for _, s := range []string{a.AccountKey, a.AccountKeyFile, a.SASToken, a.SASTokenFile, a.ConnectionStringFile} {
			if s != "" {
				n++
			}
		}
		if n > 1 {
			return invalid(at+".azure", "location %q: give only one of account_key, account_key_file, sas_token, sas_token_file and connection_string_file", l.URL)
		}
		if a.Endpoint != "" && !strings.HasPrefix(a.Endpoint, "https://") && !strings.HasPrefix(a.Endpoint, "http://") {
			return invalid(at+".azure.endpoint", "location %q: the endpoint must be an http:// or https:// URL", l.URL)
		}
	case l.GCS != nil && l.GCS.Endpoint != "" && !strings.HasPrefix(l.GCS.Endpoint, "https://") && !strings.HasPrefix(l.GCS.Endpoint, "http://"):
		return invalid(at+".gcs.endpoint", "location %q: the endpoint must be an http:// or https:// URL", l.URL)
	}
	return nil
}

// resolveCloud makes the file names of a location's azure and gcs blocks
// relative to the configuration file's folder.
func (l *Location) resolveCloud(abs func(*string)) {
	if a := l.Azure; a != nil {
		abs(&a.AccountKeyFile)
		abs(&a.SASTokenFile)
		abs(&a.ConnectionStringFile)
	}
	if g := l.GCS; g != nil {
		abs(&g.CredentialsFile)
	}
}
