package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

const (
	azureHint = `the Azure end-to-end scripts need Azurite: from the repository root run
    eval "$(scripts/start-azurite.sh)"
which installs azurite from npm into ~/.cache/cairn-test, starts it on a free port and exports
AZURITE_CONNECTION_STRING (stop it with scripts/stop-azurite.sh), or set CAIRN_SKIP_AZURE=1 to skip these tests`
	gcsHint = `the GCS end-to-end scripts need fake-gcs-server: from the repository root run
    eval "$(scripts/start-fake-gcs.sh)"
which builds it through the Go module proxy into ~/.cache/cairn-test, starts it on a free port and exports
STORAGE_EMULATOR_HOST (stop it with scripts/stop-fake-gcs.sh), or set CAIRN_SKIP_GCS=1 to skip these tests`
)

// cloudEnv says how a script reaches one server: the variables to pass
// on, or why the test cannot run.
type cloudEnv struct {
	name, skipVar, hint string
	required            []string          // variables that must be set
	set                 map[string]string // script variable → value
}

// azureEnv points scripts at Azurite through Azure's own variable,
// AZURE_STORAGE_CONNECTION_STRING, with a container name in $CONTAINER.
func azureEnv() cloudEnv {
	return cloudEnv{name: "Azure", skipVar: "CAIRN_SKIP_AZURE", hint: azureHint,
		required: []string{"AZURITE_CONNECTION_STRING"},
		set: map[string]string{
			"AZURE_STORAGE_CONNECTION_STRING": os.Getenv("AZURITE_CONNECTION_STRING"),
			"ACCOUNT":                         "devstoreaccount1",
			"AZURITE_KEY":                     os.Getenv("AZURITE_KEY"),
			"AZURITE_HOSTPORT":                hostPort(os.Getenv("AZURITE_BLOB_ENDPOINT")),
		}}
}

// hostPort returns the HOST:PORT of a URL, or "".
func hostPort(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return ""
}

// gcsEnv points scripts at fake-gcs-server through STORAGE_EMULATOR_HOST,
// with a bucket name in $BUCKET and a project for new buckets.
func gcsEnv() cloudEnv {
	return cloudEnv{name: "GCS", skipVar: "CAIRN_SKIP_GCS", hint: gcsHint,
		required: []string{"STORAGE_EMULATOR_HOST"},
		set: map[string]string{
			"STORAGE_EMULATOR_HOST": os.Getenv("STORAGE_EMULATOR_HOST"),
			"GOOGLE_CLOUD_PROJECT":  "cairn-test",
		}}
}

// s3Env points scripts at the S3 server, as TestS3Scripts does.
func s3Env() cloudEnv {
	return cloudEnv{name: "S3", skipVar: "CAIRN_SKIP_S3", hint: s3Hint,
		required: []string{"S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"},
		set: map[string]string{
			"S3_ENDPOINT":           os.Getenv("S3_ENDPOINT"),
			"AWS_ACCESS_KEY_ID":     os.Getenv("S3_ACCESS_KEY"),
			"AWS_SECRET_ACCESS_KEY": os.Getenv("S3_SECRET_KEY"),
			"AWS_REGION":            "us-east-1",
		}}
}

// require fails the test when a server's variables are missing, or skips
// it loudly when its CAIRN_SKIP_ variable asks to.
func (e cloudEnv) require(t *testing.T) {
	t.Helper()
	for _, v := range e.required {
		if os.Getenv(v) != "" {
			continue
		}
		if os.Getenv(e.skipVar) == "1" {
			t.Skipf("!!! %s=1: SKIPPING end-to-end scripts that need %s; %s is NOT tested in this run !!!", e.skipVar, e.name, e.name)
		}
		t.Fatalf("%s is not set: %s", v, e.hint)
	}
}

// runCloudScripts runs the scripts of dir with the servers' variables, a
// fresh $BUCKET and $CONTAINER name for each script (which the script
// creates with init --create-bucket).
func runCloudScripts(t *testing.T, dir string, envs ...cloudEnv) {
	for _, e := range envs {
		e.require(t)
	}
	p := scriptParams(dir)
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := setup(env); err != nil {
			return err
		}
		var b [6]byte
		rand.Read(b[:])
		env.Setenv("BUCKET", "cairn-e2e-"+hex.EncodeToString(b[:]))
		env.Setenv("CONTAINER", "cairn-e2e-"+hex.EncodeToString(b[:]))
		for _, e := range envs {
			for k, v := range e.set {
				env.Setenv(k, v)
			}
		}
		return nil
	}
	testscript.Run(t, p)
}

// TestAzureScripts runs the scripts of testdata/azure against Azurite.
func TestAzureScripts(t *testing.T) { runCloudScripts(t, "testdata/azure", azureEnv()) }

// TestGCSScripts runs the scripts of testdata/gcs against fake-gcs-server.
func TestGCSScripts(t *testing.T) { runCloudScripts(t, "testdata/gcs", gcsEnv()) }

// TestCloudScripts runs the scripts of testdata/cloud, whose repositories
// span a local folder, S3, Azure and GCS at once.
func TestCloudScripts(t *testing.T) {
	runCloudScripts(t, "testdata/cloud", s3Env(), azureEnv(), gcsEnv())
}
