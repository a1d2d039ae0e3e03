package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// repository is a throw-away restic repository holding one snapshot per
// entry of shots, taken in one time zone.
type repository struct {
	restic string
	dir    string            // holds repo/, cache/ and the backed-up folders
	ids    map[string]string // restic's snapshot id -> our id ("s001" for shots[0])
}

// password opens every throw-away repository.
const password = "gengolden"

// newRepository initializes a repository and takes every snapshot of shots
// with TZ set to tz (or to the shot's own zone).
func newRepository(resticPath, tz string) (*repository, error) {
	dir, err := os.MkdirTemp("", "gengolden-")
	if err != nil {
		return nil, err
	}
	r := &repository{restic: resticPath, dir: dir, ids: map[string]string{}}
	if err := r.fill(tz); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// fill creates the folders, the repository and the snapshots.
func (r *repository) fill(tz string) error {
	if err := checkPlannedTies(tz); err != nil {
		return err
	}
	for _, name := range []string{"data", "etc"} {
		if err := os.MkdirAll(filepath.Join(r.dir, name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(r.dir, name, "file"), []byte(name+"\n"), 0o644); err != nil {
			return err
		}
	}
	if _, err := r.run(tz, "init"); err != nil {
		return err
	}
	log.Printf("taking %d snapshots in %s", len(shots), tz)
	for i, s := range shots {
		id, err := r.backup(tz, s)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", s.time, err)
		}
		r.ids[id] = fmt.Sprintf("s%03d", i+1)
	}
	return nil
}

// backup takes one snapshot and returns restic's id for it.
func (r *repository) backup(tz string, s shot) (string, error) {
	if s.zone != "" {
		tz = s.zone
	}
	args := []string{"backup", "--json", "--time", s.time, "--host", s.host}
	if len(s.tags) > 0 {
		args = append(args, "--tag", strings.Join(s.tags, ","))
	}
	for _, p := range s.paths {
		args = append(args, filepath.Join(r.dir, p))
	}
	out, err := r.run(tz, args...)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var msg struct {
			Type string `json:"message_type"`
			ID   string `json:"snapshot_id"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Type == "summary" && msg.ID != "" {
			return msg.ID, nil
		}
	}
	return "", fmt.Errorf("no snapshot id in restic's output:\n%s", out)
}

// run runs restic on the repository with TZ set to tz and returns its
// standard output; a failure carries standard error.
func (r *repository) run(tz string, args ...string) ([]byte, error) {
	cmd := exec.Command(r.restic, args...)
	cmd.Env = append(os.Environ(),
		"TZ="+tz,
		"RESTIC_REPOSITORY="+filepath.Join(r.dir, "repo"),
		"RESTIC_PASSWORD="+password,
		"RESTIC_CACHE_DIR="+filepath.Join(r.dir, "cache"),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &resticError{args: args, err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return out, nil
}

// resticError is a restic run that failed.
type resticError struct {
	args   []string
	err    error
	stderr string
}

func (e *resticError) Error() string {
	return fmt.Sprintf("restic %s: %v: %s", strings.Join(e.args, " "), e.err, e.stderr)
}

// logical turns a backed-up folder's absolute path back into its name in
// shots ("/data").
func (r *repository) logical(path string) string {
	return strings.TrimPrefix(path, r.dir)
}

// close removes the repository and its folders.
func (r *repository) close() {
	if err := os.RemoveAll(r.dir); err != nil {
		log.Print(err)
	}
}

// resticVersion returns the first line of "restic version".
func resticVersion(resticPath string) (string, error) {
	out, err := exec.Command(resticPath, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", resticPath, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// checkPlannedTies runs checkTies on the times that restic will record for
// shots taken with TZ set to tz (it reads --time as Go's ParseInLocation
// does), so a bad list fails before minutes of backups.
func checkPlannedTies(tz string) error {
	var planned []snapshot
	for _, s := range shots {
		zone := tz
		if s.zone != "" {
			zone = s.zone
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return err
		}
		t, err := time.ParseInLocation(time.DateTime, s.time, loc)
		if err != nil {
			return err
		}
		planned = append(planned, snapshot{Time: t.Format(time.RFC3339), Host: s.host, Paths: s.paths, Tags: s.tags})
	}
	return checkTies(planned)
}
