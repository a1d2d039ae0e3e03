package s3_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairnbackup/cairn/backend/s3"
)

const startHint = `the S3 tests need a real server: from the repository root run
    eval "$(scripts/start-s3.sh)"
which builds (once) and starts versitygw on a free port of 127.0.0.1 and exports S3_ENDPOINT,
S3_ACCESS_KEY and S3_SECRET_KEY (stop it with scripts/stop-s3.sh), or set CAIRN_SKIP_S3=1 to
skip these tests`

// testConfig returns a configuration for the server named by S3_ENDPOINT,
// S3_ACCESS_KEY and S3_SECRET_KEY, without a bucket. Without them the test
// fails, unless CAIRN_SKIP_S3=1 asks to skip it.
func testConfig(t testing.TB) s3.Config {
	t.Helper()
	endpoint, access, secret := os.Getenv("S3_ENDPOINT"), os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")
	if endpoint == "" || access == "" || secret == "" {
		if os.Getenv("CAIRN_SKIP_S3") == "1" {
			t.Skip("!!! CAIRN_SKIP_S3=1: SKIPPING the S3 backend tests; the S3 backend is NOT tested in this run !!!")
		}
		t.Fatal("S3_ENDPOINT, S3_ACCESS_KEY or S3_SECRET_KEY is not set: " + startHint)
	}
	region := os.Getenv("S3_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return s3.Config{
		Endpoint:  endpoint,
		Region:    region,
		Lookup:    s3.LookupPath,
		AccessKey: access,
		SecretKey: secret,
		UseTLS:    os.Getenv("S3_USE_SSL") == "true",
	}
}

// rawClient talks to the test server directly, to prepare and inspect
// buckets behind the backend's back.
func rawClient(t testing.TB, cfg s3.Config) *minio.Client {
	t.Helper()
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newBucket makes a bucket with a unique name and removes it, with all its
// objects and unfinished uploads, when the test ends.
func newBucket(t testing.TB, cfg s3.Config) string {
	t.Helper()
	c := rawClient(t, cfg)
	var b [6]byte
	rand.Read(b[:])
	name := "cairn-test-" + hex.EncodeToString(b[:])
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, c, name) })
	return name
}

func removeBucket(t testing.TB, c *minio.Client, name string) {
	ctx := context.Background()
	for up := range c.ListIncompleteUploads(ctx, name, "", true) {
		if up.Err == nil {
			c.RemoveIncompleteUpload(ctx, name, up.Key)
		}
	}
	objs := make(chan minio.ObjectInfo)
	go func() {
		defer close(objs)
		for obj := range c.ListObjectsIter(ctx, name, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if obj.Err == nil {
				objs <- obj
			}
		}
	}()
	for res := range c.RemoveObjectsWithResult(ctx, name, objs, minio.RemoveObjectsOptions{}) {
		if res.Err != nil {
			t.Logf("cleanup: remove %s/%s: %v", name, res.ObjectName, res.Err)
		}
	}
	if err := c.RemoveBucket(ctx, name); err != nil {
		t.Logf("cleanup: remove bucket %s: %v", name, err)
	}
}
