package azure_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/cairnbackup/cairn/backend/azure"
)

const startHint = `the Azure tests need Azurite, the Azure Storage emulator: from the repository root run
    eval "$(scripts/start-azurite.sh)"
which installs azurite from npm (needs node and npm) into ~/.cache/cairn-test, starts it on a free port
and exports AZURITE_CONNECTION_STRING (stop it with scripts/stop-azurite.sh),
or set CAIRN_SKIP_AZURE=1 to skip these tests`

// testConfig returns a configuration for the Azurite named by
// AZURITE_CONNECTION_STRING, without a container. Without it the test
// fails, unless CAIRN_SKIP_AZURE=1 asks to skip it.
func testConfig(t testing.TB) azure.Config {
	t.Helper()
	cs := os.Getenv("AZURITE_CONNECTION_STRING")
	if cs == "" {
		if os.Getenv("CAIRN_SKIP_AZURE") == "1" {
			t.Skip("!!! CAIRN_SKIP_AZURE=1: SKIPPING the Azure backend tests; Azure is NOT tested in this run !!!")
		}
		t.Fatal("AZURITE_CONNECTION_STRING is not set: " + startHint)
	}
	return azure.Config{Account: "devstoreaccount1", ConnectionString: cs}
}

// rawClient talks to Azurite directly, to prepare and inspect containers
// behind the backend's back.
func rawClient(t testing.TB, cfg azure.Config) *container.Client {
	t.Helper()
	c, err := container.NewClientFromConnectionString(cfg.ConnectionString, cfg.Container, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uniqueName returns a container name no other test uses.
func uniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newContainer makes a container with a unique name and removes it, with
// its blobs, when the test ends.
func newContainer(t testing.TB, cfg azure.Config) string {
	t.Helper()
	cfg.Container = uniqueName("cairn-test-")
	c := rawClient(t, cfg)
	if _, err := c.Create(context.Background(), nil); err != nil {
		t.Fatalf("create container %s: %v", cfg.Container, err)
	}
	t.Cleanup(func() { removeContainer(t, cfg) })
	return cfg.Container
}

func removeContainer(t testing.TB, cfg azure.Config) {
	if _, err := rawClient(t, cfg).Delete(context.Background(), nil); err != nil {
		t.Logf("cleanup: remove container %s: %v", cfg.Container, err)
	}
}
