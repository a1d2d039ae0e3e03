package gcs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/cairnbackup/cairn/backend/gcs"
)

const startHint = `the GCS tests need fake-gcs-server, a Google Cloud Storage emulator: from the repository root run
    eval "$(scripts/start-fake-gcs.sh)"
which builds github.com/fsouza/fake-gcs-server (pinned) through the Go module proxy into ~/.cache/cairn-test,
starts it on a free port and exports STORAGE_EMULATOR_HOST (stop it with scripts/stop-fake-gcs.sh),
or set CAIRN_SKIP_GCS=1 to skip these tests`

// testConfig returns a configuration without a bucket for the emulator
// named by STORAGE_EMULATOR_HOST. Without it the test fails, unless
// CAIRN_SKIP_GCS=1 asks to skip it.
func testConfig(t testing.TB) gcs.Config {
	t.Helper()
	if os.Getenv("STORAGE_EMULATOR_HOST") == "" {
		if os.Getenv("CAIRN_SKIP_GCS") == "1" {
			t.Skip("!!! CAIRN_SKIP_GCS=1: SKIPPING the GCS backend tests; GCS is NOT tested in this run !!!")
		}
		t.Fatal("STORAGE_EMULATOR_HOST is not set: " + startHint)
	}
	return gcs.Config{ProjectID: "cairn-test"}
}

// rawClient talks to the emulator directly, to prepare and inspect buckets
// behind the backend's back.
func rawClient(t testing.TB) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func uniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newBucket makes a bucket with a unique name and removes it, with its
// objects, when the test ends.
func newBucket(t testing.TB) string {
	t.Helper()
	name := uniqueName("cairn-test-")
	c := rawClient(t)
	if err := c.Bucket(name).Create(context.Background(), "cairn-test", nil); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, c, name) })
	return name
}

func removeBucket(t testing.TB, c *storage.Client, name string) {
	ctx := context.Background()
	it := c.Bucket(name).Objects(ctx, nil)
	for {
		attrs, err := it.Next()
		if err != nil {
			if err != iterator.Done {
				t.Logf("cleanup: list %s: %v", name, err)
			}
			break
		}
		c.Bucket(name).Object(attrs.Name).Delete(ctx)
	}
	if err := c.Bucket(name).Delete(ctx); err != nil {
		t.Logf("cleanup: remove bucket %s: %v", name, err)
	}
}
