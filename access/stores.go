package access

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/azure"
	"github.com/cairnbackup/cairn/backend/gcs"
	"github.com/cairnbackup/cairn/backend/s3"
	"github.com/cairnbackup/cairn/config"
)

// storeOpener opens (or, with create, prepares) one object store.
type storeOpener func(ctx context.Context, create, createBucket bool) (backend.Backend, error)

// remoteOpener returns the opener of an object-store location (s3:,
// azure: or gs:), or nil for a path.
func remoteOpener(l Location) storeOpener {
	switch {
	case strings.HasPrefix(l.Addr, "s3:"):
		return func(ctx context.Context, create, createBucket bool) (backend.Backend, error) {
			cfg, err := s3.ParseAddress(l.Addr)
			if err != nil {
				return nil, err
			}
			applyS3Options(&cfg, l.S3)
			if create {
				return nilIfErr(s3.Create(ctx, cfg, createBucket))
			}
			return nilIfErr(s3.Open(ctx, cfg))
		}
	case strings.HasPrefix(l.Addr, "azure:"):
		return func(ctx context.Context, create, createBucket bool) (backend.Backend, error) {
			cfg, err := azure.ParseAddress(l.Addr)
			if err == nil {
				err = applyAzureOptions(&cfg, l.Azure)
			}
			if err != nil {
				return nil, err
			}
			if create {
				return nilIfErr(azure.Create(ctx, cfg, createBucket))
			}
			return nilIfErr(azure.Open(ctx, cfg))
		}
	case strings.HasPrefix(l.Addr, "gs:"):
		return func(ctx context.Context, create, createBucket bool) (backend.Backend, error) {
			cfg, err := gcs.ParseAddress(l.Addr)
			if err != nil {
				return nil, err
			}
			applyGCSOptions(&cfg, l.GCS)
			if create {
				return nilIfErr(gcs.Create(ctx, cfg, createBucket))
			}
			return nilIfErr(gcs.Open(ctx, cfg))
		}
	}
	return nil
}

// nilIfErr turns a failed open's typed nil into an untyped one.
func nilIfErr[B backend.Backend](be B, err error) (backend.Backend, error) {
	if err != nil {
		return nil, err
	}
	return be, nil
}

// applyS3Options copies a configuration file's S3 options into cfg.
func applyS3Options(cfg *s3.Config, c *config.S3) {
	if c == nil {
		return
	}
	cfg.Region = c.Region
	if c.PathStyle != nil {
		cfg.Lookup = s3.LookupVirtual
		if *c.PathStyle {
			cfg.Lookup = s3.LookupPath
		}
	}
	cfg.CACertFile = c.CAFile
	cfg.AccessKey, cfg.SecretKey = c.AccessKeyID, c.SecretAccessKey
	cfg.Profile = c.Profile
}

// applyAzureOptions copies a configuration file's Azure options into cfg,
// reading the secret files it names.
func applyAzureOptions(cfg *azure.Config, c *config.Azure) error {
	if c == nil {
		return nil
	}
	cfg.Endpoint = c.Endpoint
	cfg.AccountKey, cfg.SASToken = c.AccountKey, c.SASToken
	files := []struct {
		path string
		dst  *string
	}{{c.AccountKeyFile, &cfg.AccountKey}, {c.SASTokenFile, &cfg.SASToken}, {c.ConnectionStringFile, &cfg.ConnectionString}}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("azure location %s: %w", cfg.Location(), err)
		}
		*f.dst = strings.TrimSpace(string(b))
	}
	return nil
}

// applyGCSOptions copies a configuration file's GCS options into cfg.
func applyGCSOptions(cfg *gcs.Config, c *config.GCS) {
	if c == nil {
		return
	}
	cfg.ProjectID, cfg.CredentialsFile, cfg.Endpoint = c.ProjectID, c.CredentialsFile, c.Endpoint
}
