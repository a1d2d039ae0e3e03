// Command gengolden records what restic's forget keeps, so that the policy
// package's tests can check that its rules mean the same, bucket for bucket.
//
// It makes throw-away restic repositories, writes one snapshot for each entry
// of a fixed list of times (with --time, --host and --tag), then runs
// "restic forget --dry-run --json" with each policy of a fixed list and writes
// what restic kept, with restic's reasons, to golden JSON files. The tests
// need no restic; only this command does.
//
// To regenerate the goldens (a few minutes; restic 0.19.1 on PATH or named
// with -restic):
//
//	GOBIN=/tmp/restic-bin go install github.com/restic/restic/cmd/restic@v0.19.1
//	go run ./policy/internal/gengolden -restic /tmp/restic-bin/restic
//
// Each scenario fixes the time zone (TZ) that snapshots are taken in and the
// one that forget runs in, since restic records a snapshot's local offset and
// cuts buckets on the wall clock of that offset.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// scenario is one golden file: snapshots taken in backupTZ, forget run in
// forgetTZ.
type scenario struct {
	name     string
	backupTZ string
	forgetTZ string
}

// scenarios share repositories by backupTZ, so the Berlin repository is also
// read from UTC: there the snapshots' offsets no longer match the local zone
// and Go gives them fixed zones, which moves keep-within cutoffs across the
// daylight-saving change by an hour.
var scenarios = []scenario{
	{"utc", "UTC", "UTC"},
	{"berlin", "Europe/Berlin", "Europe/Berlin"},
	{"berlin-read-in-utc", "Europe/Berlin", "UTC"},
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gengolden: ")
	resticPath := flag.String("restic", "restic", "the restic binary (version 0.19.1)")
	out := flag.String("out", "policy/testdata/golden", "folder for the golden files")
	flag.Parse()
	if err := run(*resticPath, *out); err != nil {
		log.Fatal(err)
	}
}

// run writes one golden file per scenario, making one repository per zone
// that snapshots are taken in.
func run(resticPath, out string) error {
	version, err := resticVersion(resticPath)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(version, "restic 0.19.1 ") {
		log.Printf("warning: the goldens are meant to come from restic 0.19.1, not %q", version)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	repos := map[string]*repository{}
	for _, sc := range scenarios {
		repo := repos[sc.backupTZ]
		if repo == nil {
			if repo, err = newRepository(resticPath, sc.backupTZ); err != nil {
				return err
			}
			defer repo.close()
			repos[sc.backupTZ] = repo
		}
		g, err := record(repo, sc, version)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if err := writeGolden(filepath.Join(out, sc.name+".json"), g); err != nil {
			return err
		}
	}
	return nil
}
