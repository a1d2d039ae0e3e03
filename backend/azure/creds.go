package azure

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// The environment variables Azure's tools read.
const (
	envConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	envAccount          = "AZURE_STORAGE_ACCOUNT"
	envKey              = "AZURE_STORAGE_KEY"
	envSASToken         = "AZURE_STORAGE_SAS_TOKEN"
)

// credentials is what newClient connects with: the blob service URL and
// one of a shared key, a SAS token or a token credential (nil for all
// three means DefaultAzureCredential).
type credentials struct {
	endpoint string
	key      string
	sas      string
	source   string // for messages: "connection string", "AZURE_STORAGE_KEY", ...
}

// resolveCredentials picks the credentials as Azure's tools do: the
// explicit ones of cfg first, then AZURE_STORAGE_CONNECTION_STRING, then
// AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN (when AZURE_STORAGE_ACCOUNT
// is unset or names the same account), and last DefaultAzureCredential.
func resolveCredentials(cfg Config, getenv func(string) string) (credentials, error) {
	c := credentials{endpoint: cfg.Endpoint}
	switch {
	case cfg.ConnectionString != "":
		return fromConnectionString(cfg, cfg.ConnectionString, "the connection string")
	case cfg.AccountKey != "":
		c.key, c.source = cfg.AccountKey, "the account key"
	case cfg.SASToken != "":
		c.sas, c.source = cfg.SASToken, "the SAS token"
	case getenv(envConnectionString) != "":
		return fromConnectionString(cfg, getenv(envConnectionString), envConnectionString)
	case getenv(envAccount) != "" && getenv(envAccount) != cfg.Account && (getenv(envKey) != "" || getenv(envSASToken) != ""):
		return c, fmt.Errorf("%w: %s names account %q, the address %q; unset it or fix the address", ErrBadConfig, envAccount, getenv(envAccount), cfg.Account)
	case getenv(envKey) != "":
		c.key, c.source = getenv(envKey), envKey
	case getenv(envSASToken) != "":
		c.sas, c.source = getenv(envSASToken), envSASToken
	default:
		c.source = "DefaultAzureCredential"
	}
	if c.endpoint == "" {
		c.endpoint = "https://" + cfg.Account + ".blob.core.windows.net"
	}
	return c, nil
}

// fromConnectionString reads AccountName, AccountKey or
// SharedAccessSignature, and BlobEndpoint (or DefaultEndpointsProtocol and
// EndpointSuffix) from a connection string. Errors never quote it.
func fromConnectionString(cfg Config, s, source string) (credentials, error) {
	fields := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			fields[strings.ToLower(k)] = v
		}
	}
	if strings.EqualFold(fields["usedevelopmentstorage"], "true") {
		return credentials{}, fmt.Errorf("%w: %s: UseDevelopmentStorage=true is not supported; give Azurite's BlobEndpoint, AccountName and AccountKey", ErrBadConfig, source)
	}
	if name := fields["accountname"]; name != "" && name != cfg.Account {
		return credentials{}, fmt.Errorf("%w: %s names account %q, the address %q", ErrBadConfig, source, name, cfg.Account)
	}
	c := credentials{endpoint: cfg.Endpoint, key: fields["accountkey"], sas: fields["sharedaccesssignature"], source: source}
	if c.key == "" && c.sas == "" {
		return credentials{}, fmt.Errorf("%w: %s has neither AccountKey nor SharedAccessSignature", ErrBadConfig, source)
	}
	if c.endpoint == "" {
		c.endpoint = fields["blobendpoint"]
	}
	if c.endpoint == "" {
		proto, suffix := fields["defaultendpointsprotocol"], fields["endpointsuffix"]
		if proto == "" {
			proto = "https"
		}
		if suffix == "" {
			suffix = "core.windows.net"
		}
		c.endpoint = proto + "://" + cfg.Account + ".blob." + suffix
	}
	if err := checkEndpoint(c.endpoint); err != nil {
		return credentials{}, fmt.Errorf("%s: %w", source, err)
	}
	return c, nil
}

// containerURL is the container's URL below the endpoint.
func (c credentials) containerURL(container string) string {
	return strings.TrimSuffix(c.endpoint, "/") + "/" + url.PathEscape(container)
}

// newContainerClient makes the SDK's client for the container with the
// credentials.
func newContainerClient(cfg Config, c credentials, opts *container.ClientOptions) (*container.Client, error) {
	u := c.containerURL(cfg.Container)
	switch {
	case c.key != "":
		cred, err := container.NewSharedKeyCredential(cfg.Account, c.key)
		if err != nil {
			return nil, fmt.Errorf("%w: the account key from %s is not valid base64", ErrBadConfig, c.source)
		}
		return container.NewClientWithSharedKeyCredential(u, cred, opts)
	case c.sas != "":
		return container.NewClientWithNoCredential(u+"?"+strings.TrimPrefix(c.sas, "?"), opts)
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts.ClientOptions})
	if err != nil {
		return nil, fmt.Errorf("%w: DefaultAzureCredential: %v", ErrBadConfig, err)
	}
	return container.NewClient(u, cred, opts)
}
