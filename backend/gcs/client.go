package gcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/cairnbackup/cairn/backend/objectstore"
)

// envEmulator points Google's client libraries at an emulator.
const envEmulator = "STORAGE_EMULATOR_HOST"

// newClient makes the storage client. Requests go through a counting
// transport: around the authenticating transport for GCS, around a plain
// one (returned, to be closed) for an emulator.
// The client's own retries are turned off (backend/retry owns them), and
// reads use the JSON API like every other call.
func newClient(ctx context.Context, cfg Config, counts *objectstore.Counter, getenv func(string) string) (*storage.Client, *http.Transport, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	var next http.RoundTripper = base
	if getenv(envEmulator) == "" {
		opts := []option.ClientOption{option.WithScopes(storage.ScopeReadWrite)}
		if cfg.CredentialsFile != "" {
			o, err := credentialsFile(cfg.CredentialsFile)
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, o)
		}
		authed, _, err := htransport.NewClient(ctx, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: credentials: %v (set GOOGLE_APPLICATION_CREDENTIALS, run gcloud auth application-default login, or name a credentials_file)", ErrBadConfig, err)
		}
		next = authed.Transport
	}
	hc := &http.Client{Transport: &objectstore.Transport{Next: next, Counts: counts, IsList: isList}}
	opts := []option.ClientOption{option.WithHTTPClient(hc), storage.WithJSONReads()}
	if cfg.Endpoint != "" && getenv(envEmulator) == "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	return client, base, nil
}

// credentialsFile reads the "type" of a JSON credentials file, which the
// client library wants to be told.
func credentialsFile(path string) (option.ClientOption, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials file: %v", ErrBadConfig, err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: credentials file %s is not JSON", ErrBadConfig, path)
	}
	types := map[string]option.CredentialsType{
		"service_account":              option.ServiceAccount,
		"authorized_user":              option.AuthorizedUser,
		"external_account":             option.ExternalAccount,
		"impersonated_service_account": option.ImpersonatedServiceAccount,
	}
	t, ok := types[f.Type]
	if !ok {
		return nil, fmt.Errorf("%w: credentials file %s has type %q; want service_account, authorized_user, external_account or impersonated_service_account", ErrBadConfig, path, f.Type)
	}
	return option.WithAuthCredentialsJSON(t, b), nil
}

// isList reports whether a request fetches a page of a listing
// (GET .../b/BUCKET/o).
func isList(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/o")
}
