package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"time"
)

// golden is one golden file. policy/golden_test.go reads the same layout.
type golden struct {
	Comment   string       `json:"comment"`
	Restic    string       `json:"restic"`
	BackupTZ  string       `json:"backup_tz"`
	ForgetTZ  string       `json:"forget_tz"`
	Now       string       `json:"now"` // when forget ran; snapshots after it are in the future
	Snapshots []snapshot   `json:"snapshots"`
	Cases     []goldenCase `json:"cases"`
}

// snapshot is one snapshot as restic lists it, under our id.
type snapshot struct {
	ID    string   `json:"id"`
	Time  string   `json:"time"` // as restic's JSON has it, with the recorded offset
	Host  string   `json:"host"`
	Paths []string `json:"paths"`
	Tags  []string `json:"tags,omitempty"`
}

// goldenCase is one forget run and what restic decided.
type goldenCase struct {
	Name    string   `json:"name"`
	Args    []string `json:"args"`
	GroupBy *string  `json:"group_by,omitempty"` // absent: restic's default
	Error   string   `json:"error,omitempty"`    // restic refused (no groups then)
	Groups  []group  `json:"groups,omitempty"`
}

// group is what restic kept and removed in one group, newest first.
type group struct {
	Host   string   `json:"host"`
	Paths  []string `json:"paths"`
	Tags   []string `json:"tags"`
	Keep   []kept   `json:"keep"`
	Remove []string `json:"remove"`
}

// kept is one kept snapshot with restic's reasons.
type kept struct {
	ID      string   `json:"id"`
	Matches []string `json:"matches"`
}

// record lists the repository's snapshots and runs every policy, with TZ
// set to the scenario's forget zone.
func record(r *repository, sc scenario, version string) (*golden, error) {
	g := &golden{
		Comment:  "written by policy/internal/gengolden from restic's forget --dry-run --json; do not edit",
		Restic:   version,
		BackupTZ: sc.backupTZ,
		ForgetTZ: sc.forgetTZ,
		Now:      time.Now().UTC().Format(time.RFC3339),
	}
	var err error
	if g.Snapshots, err = r.snapshots(sc.forgetTZ); err != nil {
		return nil, err
	}
	log.Printf("%s: running %d policies", sc.name, len(policies))
	for _, p := range policies {
		c, err := r.forget(sc.forgetTZ, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		g.Cases = append(g.Cases, *c)
	}
	return g, nil
}

// snapshots lists the repository's snapshots under our ids.
func (r *repository) snapshots(tz string) ([]snapshot, error) {
	out, err := r.run(tz, "snapshots", "--json")
	if err != nil {
		return nil, err
	}
	var listed []struct {
		ID       string   `json:"id"`
		Time     string   `json:"time"`
		Hostname string   `json:"hostname"`
		Paths    []string `json:"paths"`
		Tags     []string `json:"tags"`
	}
	if err := json.Unmarshal(out, &listed); err != nil {
		return nil, err
	}
	var snaps []snapshot
	for _, l := range listed {
		snaps = append(snaps, snapshot{ID: r.ids[l.ID], Time: l.Time, Host: l.Hostname,
			Paths: r.logicalPaths(l.Paths), Tags: l.Tags})
	}
	if len(snaps) != len(shots) {
		return nil, fmt.Errorf("restic lists %d snapshots, want %d", len(snaps), len(shots))
	}
	slices.SortFunc(snaps, func(a, b snapshot) int { return strings.Compare(a.ID, b.ID) })
	return snaps, checkTies(snaps)
}

// checkTies fails when two snapshots taken at the same instant differ in
// anything restic looks at: restic orders such snapshots as it happens to
// load them, so its decision between them would be luck.
func checkTies(snaps []snapshot) error {
	seen := map[int64]snapshot{}
	for _, s := range snaps {
		t, err := time.Parse(time.RFC3339Nano, s.Time)
		if err != nil {
			return err
		}
		prev, ok := seen[t.UnixNano()]
		tie := snapshot{Time: s.Time, Host: s.Host, Paths: s.Paths, Tags: s.Tags}
		prev.ID = ""
		if ok && fmt.Sprint(prev) != fmt.Sprint(tie) {
			return fmt.Errorf("snapshots %s and %s are taken at the same instant but differ", prev.Time, s.Time)
		}
		seen[t.UnixNano()] = tie
	}
	return nil
}

// forget runs one policy as a dry run and returns restic's decision.
func (r *repository) forget(tz string, p policy) (*goldenCase, error) {
	args := append([]string{"forget", "--dry-run", "--no-lock", "--json"}, p.args...)
	if p.groupBy != nil {
		args = append(args, "--group-by", *p.groupBy)
	}
	c := &goldenCase{Name: p.name, Args: p.args, GroupBy: p.groupBy}
	out, err := r.run(tz, args...)
	var re *resticError
	if errors.As(err, &re) && strings.Contains(re.stderr, "refusing to delete last snapshot") {
		c.Error = r.refusal(re.stderr)
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if c.Groups, err = r.groups(out); err != nil {
		return nil, err
	}
	return c, nil
}

// refusal returns the message of restic's JSON error report, with the
// repository's folder taken out of the paths it names.
func (r *repository) refusal(stderr string) string {
	var report struct {
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(stderr), &report) == nil && report.Message != "" {
		stderr = report.Message
	}
	return strings.ReplaceAll(stderr, r.dir, "")
}

// groups decodes forget's JSON into groups, sorted by host, paths and tags
// (restic prints them in map order).
func (r *repository) groups(out []byte) ([]group, error) {
	var decoded []struct {
		Host   string   `json:"host"`
		Paths  []string `json:"paths"`
		Tags   []string `json:"tags"`
		Remove []struct {
			ID string `json:"id"`
		} `json:"remove"`
		Reasons []struct {
			Snapshot struct {
				ID string `json:"id"`
			} `json:"snapshot"`
			Matches []string `json:"matches"`
		} `json:"reasons"`
	}
	if err := json.Unmarshal(out, &decoded); err != nil {
		return nil, fmt.Errorf("decoding forget's output: %w\n%s", err, out)
	}
	var groups []group
	for _, d := range decoded {
		g := group{Host: d.Host, Paths: r.logicalPaths(d.Paths), Tags: d.Tags, Keep: []kept{}, Remove: []string{}}
		for _, k := range d.Reasons {
			g.Keep = append(g.Keep, kept{ID: r.ids[k.Snapshot.ID], Matches: k.Matches})
		}
		for _, s := range d.Remove {
			g.Remove = append(g.Remove, r.ids[s.ID])
		}
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		if c := slices.Compare(a.Paths, b.Paths); c != 0 {
			return c
		}
		return slices.Compare(a.Tags, b.Tags)
	})
	return groups, nil
}

// logicalPaths maps logical over paths, keeping nil as nil.
func (r *repository) logicalPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, r.logical(p))
	}
	return out
}

// writeGolden writes g as indented JSON.
func writeGolden(path string, g *golden) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	log.Printf("writing %s", path)
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
