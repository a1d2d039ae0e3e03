package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/cairnbackup/cairn/archiver"
	"github.com/cairnbackup/cairn/config"
	"github.com/cairnbackup/cairn/pattern"
	"github.com/cairnbackup/cairn/repo"
)

// Spec says what one snapshot stores: the snapshot command's flags, a
// job of the configuration, or both.
type Spec struct {
	Paths                            []string
	Excludes, Includes, ExcludeFiles []string
	ExcludeCaches, OneFileSystem     bool
	Tags                             []string
	// Host is recorded instead of this machine's name when set.
	Host string
	// Parent names the snapshot to compare with (an id prefix); empty
	// takes the latest of the same host and paths.
	Parent string
	// Force reads every file, ignoring the parent.
	Force bool
	// Stdin, when set, is stored as the one file StdinName.
	Stdin     io.Reader
	StdinName string
	// Time is recorded instead of now when set.
	Time time.Time
	// Job names the job in the snapshot.
	Job string

	// FilesFrom names files listing more sources, one a line (see
	// ReadFilesFrom).
	FilesFrom []string
	// ExcludeIfPresent, ExcludeLargerThan, Compression, DryRun and
	// SkipIfUnchanged are archiver.Options'.
	ExcludeIfPresent  []string
	ExcludeLargerThan int64
	Compression       string
	DryRun            bool
	SkipIfUnchanged   bool
}

// AddJob adds a job's sources, patterns, flags and tags to the spec. The
// job names the sources, so a spec with paths or standard input is
// refused.
func (s *Spec) AddJob(j *config.Job) error {
	if len(s.Paths) > 0 || s.Stdin != nil || len(s.FilesFrom) > 0 {
		return fmt.Errorf("give paths or job %s, not both: the job names its sources", j.Name)
	}
	s.Paths = slices.Clone(j.Sources)
	s.Excludes = append(s.Excludes, j.Exclude...)
	s.Includes = append(s.Includes, j.Include...)
	s.ExcludeCaches = s.ExcludeCaches || j.ExcludeCaches
	s.OneFileSystem = s.OneFileSystem || j.OneFileSystem
	s.Tags = append(s.Tags, j.Tags...)
	s.Job = j.Name
	s.ExcludeIfPresent = append(s.ExcludeIfPresent, j.ExcludeIfPresent...)
	if n := j.ExcludeLargerThanBytes(); n > 0 && (s.ExcludeLargerThan == 0 || n < s.ExcludeLargerThan) {
		s.ExcludeLargerThan = n
	}
	if s.Compression == "" {
		s.Compression = j.Compression // a flag wins over the job
	}
	s.SkipIfUnchanged = s.SkipIfUnchanged || j.SkipIfUnchanged
	return nil
}

// Options turns the spec into archiver options, before the repository is
// opened: patterns are parsed and sources checked, so that a mistake
// fails before anything is written. Sources that do not exist go to
// Missing (the archiver warns about each, and the run is partial); only
// when none exists does it fail. The parent is found later, by
// FindParent.
func (s Spec) Options() (archiver.Options, error) {
	var opts archiver.Options
	if s.Stdin != nil && len(s.Paths) > 0 {
		return opts, errors.New("--stdin takes no paths")
	}
	if s.Stdin != nil && len(s.FilesFrom) > 0 {
		return opts, errors.New("--stdin takes no --files-from")
	}
	filter, err := s.filter()
	if err != nil {
		return opts, err
	}
	if s.Compression != "" {
		if err := repo.CheckCompression(s.Compression); err != nil {
			return opts, err
		}
	}
	sources := s.Paths
	for _, name := range s.FilesFrom {
		more, err := readFilesFromFile(name)
		if err != nil {
			return opts, err
		}
		sources = append(slices.Clip(sources), more...)
	}
	paths, missing, err := archiver.CleanSources(sources, s.Stdin != nil, s.StdinName)
	if err != nil {
		return opts, err
	}
	host := s.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	opts = archiver.Options{
		Paths: paths, Filter: filter, ExcludeCaches: s.ExcludeCaches, OneFileSystem: s.OneFileSystem,
		Host: host, Job: s.Job, Tags: s.Tags, Time: s.Time, Missing: missing, ReadAll: s.Force,
		ExcludeIfPresent: s.ExcludeIfPresent, ExcludeLargerThan: s.ExcludeLargerThan,
		Compression: s.Compression, DryRun: s.DryRun, SkipIfUnchanged: s.SkipIfUnchanged,
	}
	if s.Stdin != nil {
		opts.Stdin, opts.StdinName = s.Stdin, s.StdinName
	}
	return opts, nil
}

func (s Spec) filter() (pattern.Filter, error) {
	var f pattern.Filter
	var err error
	if f.Exclude, err = pattern.ParseList(s.Excludes); err != nil {
		return f, err
	}
	if f.Include, err = pattern.ParseList(s.Includes); err != nil {
		return f, err
	}
	for _, name := range s.ExcludeFiles {
		file, err := os.Open(name)
		if err != nil {
			return f, fmt.Errorf("exclude file: %w", err)
		}
		l, err := pattern.ReadList(file, name)
		file.Close()
		if err != nil {
			return f, err
		}
		f.Exclude = append(f.Exclude, l...)
	}
	return f, nil
}

// SnapshotLister lists snapshots; *repo.Repository is one.
type SnapshotLister interface {
	Snapshots(ctx context.Context, onError func(repo.ID, error) error) ([]*repo.Snapshot, error)
}

// FindParent picks the snapshot to compare with: the spec's Parent, or
// the latest of the same host and paths (none with Force or standard
// input).
func (s Spec) FindParent(ctx context.Context, r SnapshotLister, opts archiver.Options) (*repo.Snapshot, error) {
	if s.Force || s.Stdin != nil {
		return nil, nil
	}
	snaps, err := r.Snapshots(ctx, func(repo.ID, error) error { return nil })
	if err != nil {
		return nil, err
	}
	if s.Parent != "" {
		return repo.FindSnapshot(snaps, s.Parent)
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if sn := snaps[i]; sn.Hostname == opts.Host && slices.Equal(sn.Paths, opts.Paths) {
			return sn, nil
		}
	}
	return nil, nil
}
