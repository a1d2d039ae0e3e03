// Package config reads cairn's YAML configuration file: where the
// repository lives (one or more locations, with how many copies to keep)
// and how to unlock it, the backup jobs that `cairn run`, the timers and
// the daemon run (with their schedules, retention, checks, hooks and
// limits), and the daemon's and the monitoring's settings.
//
//	repository:
//	  locations:
//	    - url: /srv/backup/cairn
//	      priority: 1
//	    - url: s3:https://s3.example.com/backups/web1
//	      priority: 2
//	      s3:
//	        region: eu-west-1
//	        access_key_id: AKIA...
//	        secret_access_key: ...
//	  min_copies: 1
//	  max_copies: 2
//	  password_file: /etc/cairn/password
//	jobs:
//	  - name: etc
//	    sources: [/etc]
//	    exclude: ["**/*.swp"]
//	    tags: [daily]
//	    schedule: "30 2 * * *"
//	    retention:
//	      keep_within: 90d
//	      keep_monthly: 12
//	      prune: true
//	    check:
//	      schedule: "@weekly"
//	      read_data: 10%
//	      drills: 1
//	    hooks:
//	      on_failure: /usr/local/bin/page-oncall
//	    limits:
//	      upload_rate: 20MiB/s
//	      io_nice: idle
//	daemon:
//	  concurrency: 2
//	  metrics_addr: 127.0.0.1:9750
//	monitoring:
//	  audit_log: /var/log/cairn/audit.jsonl
//
// Parsing is strict: unknown fields, wrong types and invalid values are
// errors that name the file and line. Error messages never quote the
// file's text, so a secret in it is not repeated. The package imports no
// other cairn package; schedules are parsed by robfig/cron, as the daemon
// parses them.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// MaxSize bounds a configuration file.
const MaxSize = 1 << 20

// ErrInvalid marks every parse and validation error.
var ErrInvalid = errors.New("config: invalid")

// Config is a parsed configuration file.
type Config struct {
	Repository Repository  `yaml:"repository,omitempty"`
	Jobs       []Job       `yaml:"jobs,omitempty"`
	Daemon     *Daemon     `yaml:"daemon,omitempty"`
	Monitoring *Monitoring `yaml:"monitoring,omitempty"`

	// Warnings are problems that do not stop cairn, such as a file that
	// other users can read; the caller shows them.
	Warnings []string `yaml:"-"`
}

// Repository says where the repository lives and how to unlock it.
type Repository struct {
	Locations []Location `yaml:"locations,omitempty"`
	// MinCopies is how many locations must take a write (default 1).
	MinCopies int `yaml:"min_copies,omitempty"`
	// MaxCopies is how many locations a write goes to at most (default:
	// every enabled location).
	MaxCopies int `yaml:"max_copies,omitempty"`
	// At most one of these says how to unlock the repository; relative
	// paths are relative to the configuration file's folder.
	PasswordFile    string `yaml:"password_file,omitempty"`
	PasswordCommand string `yaml:"password_command,omitempty"`
	KeyFile         string `yaml:"key_file,omitempty"`
}

// Location is one place the repository lives.
type Location struct {
	// URL is a path, an s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] address,
	// an azure:ACCOUNT/CONTAINER[/PREFIX] or a gs:BUCKET[/PREFIX] address.
	URL string `yaml:"url"`
	// Priority orders locations: lower is read and written first.
	Priority int `yaml:"priority,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled,omitempty"`
	// S3 holds options for s3: locations.
	S3 *S3 `yaml:"s3,omitempty"`
	// Azure and GCS hold options for azure: and gs: locations.
	Azure *Azure `yaml:"azure,omitempty"`
	GCS   *GCS   `yaml:"gcs,omitempty"`
}

// IsEnabled reports whether the location takes part (the default).
func (l Location) IsEnabled() bool { return l.Enabled == nil || *l.Enabled }

// S3 holds the options of an S3 location. Its String method hides the
// secrets, so it may be printed.
type S3 struct {
	Region string `yaml:"region,omitempty"`
	// PathStyle forces path-style requests (needed by most self-hosted
	// servers); false forces virtual-host style; unset chooses by endpoint.
	PathStyle *bool `yaml:"path_style,omitempty"`
	// CAFile is a PEM file of extra trusted certificate authorities.
	CAFile string `yaml:"ca_file,omitempty"`
	// AccessKeyID and SecretAccessKey are explicit credentials; without
	// them the AWS_* environment variables and shared files are used.
	AccessKeyID     string `yaml:"access_key_id,omitempty"`
	SecretAccessKey string `yaml:"secret_access_key,omitempty"`
	// Profile names a profile of the shared credentials file.
	Profile string `yaml:"profile,omitempty"`
}

// String describes the options without secrets.
func (s S3) String() string {
	creds := "from the environment"
	switch {
	case s.AccessKeyID != "":
		creds = "explicit"
	case s.Profile != "":
		creds = "profile " + s.Profile
	}
	return fmt.Sprintf("region %q, ca_file %q, credentials %s", s.Region, s.CAFile, creds)
}

// GoString keeps secrets out of %#v.
func (s S3) GoString() string { return "config.S3{" + s.String() + "}" }

// Job is a named backup: what `cairn snapshot --job NAME` stores.
type Job struct {
	Name          string   `yaml:"name"`
	Sources       []string `yaml:"sources"`
	Exclude       []string `yaml:"exclude,omitempty"`
	Include       []string `yaml:"include,omitempty"`
	ExcludeCaches bool     `yaml:"exclude_caches,omitempty"`
	OneFileSystem bool     `yaml:"one_file_system,omitempty"`
	Tags          []string `yaml:"tags,omitempty"`
	// Compression is the zstd level of the blobs the job's snapshots add:
	// auto (the repository's own, the default), off, fastest, default,
	// better or max.
	Compression string `yaml:"compression,omitempty"`
	// ExcludeIfPresent leaves out the contents of folders holding a file
	// of one of these names (the file itself is kept).
	ExcludeIfPresent []string `yaml:"exclude_if_present,omitempty"`
	// ExcludeLargerThan leaves out files larger than this size, such as
	// 100M or 2GiB.
	ExcludeLargerThan string `yaml:"exclude_larger_than,omitempty"`
	// SkipIfUnchanged writes no snapshot when nothing changed since the
	// parent snapshot (the same root tree).
	SkipIfUnchanged bool `yaml:"skip_if_unchanged,omitempty"`
	// Retention is what `cairn forget --job NAME` keeps of the job's
	// snapshots; nil means the job has no retention policy.
	Retention *Retention `yaml:"retention,omitempty"`

	// Schedule is when the daemon and the generated timers run the job: a
	// cron line of five fields (minute hour day-of-month month weekday),
	// or @hourly, @daily, @weekly, @monthly, @yearly or @every 30m, in the
	// machine's local time. Without one the job runs only when asked.
	Schedule string `yaml:"schedule,omitempty"`
	// CatchUp runs the job once when the daemon starts if a scheduled run
	// was missed while it was down (the timers' Persistent=true).
	CatchUp bool `yaml:"catch_up,omitempty"`
	// RandomDelay delays each scheduled run by up to this long, at random
	// (a Go duration such as 10m), so that many hosts do not start at once.
	RandomDelay string `yaml:"random_delay,omitempty"`
	// Check is the job's scheduled check of the repository.
	Check *Check `yaml:"check,omitempty"`
	// Hooks are commands run around the job.
	Hooks *Hooks `yaml:"hooks,omitempty"`
	// Limits bound the machine's resources the job takes.
	Limits *Limits `yaml:"limits,omitempty"`
	// Repository, when set, is where this job's snapshots go instead of
	// the top-level repository (the daemon runs jobs of different
	// repositories at once).
	Repository *Repository `yaml:"repository,omitempty"`
}

// Key names a repository by its enabled locations (sorted), for telling
// repositories apart: two jobs with the same key write to the same
// repository. The default repository's key is "".
func (r Repository) Key() string {
	var urls []string
	for _, l := range r.Locations {
		if l.IsEnabled() {
			urls = append(urls, l.URL)
		}
	}
	slices.Sort(urls)
	return strings.Join(urls, "\n")
}

// RepositoryOf returns the repository a job writes to: its own, or the
// configuration's.
func (c *Config) RepositoryOf(j *Job) Repository {
	if j.Repository != nil {
		return *j.Repository
	}
	return c.Repository
}

// Retention holds the forget rules of a job, as the forget flags name
// them: counts (-1 for unlimited) and calendar durations such as 90d,
// 1y2m3d or 36h.
type Retention struct {
	KeepLast          int      `yaml:"keep_last,omitempty"`
	KeepHourly        int      `yaml:"keep_hourly,omitempty"`
	KeepDaily         int      `yaml:"keep_daily,omitempty"`
	KeepWeekly        int      `yaml:"keep_weekly,omitempty"`
	KeepMonthly       int      `yaml:"keep_monthly,omitempty"`
	KeepYearly        int      `yaml:"keep_yearly,omitempty"`
	KeepWithin        string   `yaml:"keep_within,omitempty"`
	KeepWithinHourly  string   `yaml:"keep_within_hourly,omitempty"`
	KeepWithinDaily   string   `yaml:"keep_within_daily,omitempty"`
	KeepWithinWeekly  string   `yaml:"keep_within_weekly,omitempty"`
	KeepWithinMonthly string   `yaml:"keep_within_monthly,omitempty"`
	KeepWithinYearly  string   `yaml:"keep_within_yearly,omitempty"`
	KeepTags          []string `yaml:"keep_tags,omitempty"` // each a tag list: "a,b" keeps snapshots with both
	// GroupBy is how snapshots are grouped before the rules apply:
	// "host,paths" when unset, "" for one group.
	GroupBy *string `yaml:"group_by,omitempty"`
	// Prune runs a prune after forget.
	Prune bool `yaml:"prune,omitempty"`
}

// Job returns the job called name.
func (c *Config) Job(name string) (*Job, error) {
	var names []string
	for i := range c.Jobs {
		if c.Jobs[i].Name == name {
			return &c.Jobs[i], nil
		}
		names = append(names, c.Jobs[i].Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no job %q: the configuration defines no jobs", name)
	}
	return nil, fmt.Errorf("no job %q in the configuration (it has: %s)", name, strings.Join(names, ", "))
}

// Load reads and validates the file at path. Relative file names in it
// (local locations too) are made relative to the file's folder. A file
// that group or other users can read gets a warning, since it may hold
// secrets.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrInvalid, path, fi.Size(), MaxSize)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", path, err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	c.resolve(filepath.Dir(path))
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("configuration file %s can be read by other users (mode %#o) and may hold secrets; run chmod 600 %s", path, perm, path))
	}
	return c, nil
}

// resolve makes relative file names relative to dir.
func (c *Config) resolve(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	c.Repository.resolve(abs)
	for i := range c.Jobs {
		if r := c.Jobs[i].Repository; r != nil {
			r.resolve(abs)
		}
	}
	if m := c.Monitoring; m != nil {
		abs(&m.AuditLog)
		abs(&m.MetricsFile)
	}
}

// resolve makes the repository's relative file names absolute with abs.
func (r *Repository) resolve(abs func(*string)) {
	abs(&r.PasswordFile)
	abs(&r.KeyFile)
	for i := range r.Locations {
		l := &r.Locations[i]
		if !IsRemote(l.URL) {
			abs(&l.URL)
		}
		if l.S3 != nil {
			abs(&l.S3.CAFile)
		}
		l.resolveCloud(abs)
	}
}

// Parse decodes and validates a configuration; name is used in messages.
func Parse(name string, data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrInvalid, name, len(data), MaxSize)
	}
	var c Config
	if err := unmarshal(data, &c); err != nil {
		return nil, yamlError(name, data, err)
	}
	if err := c.validate(); err != nil {
		var ve *validationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: %s%s: %s", ErrInvalid, name, position(data, ve.path), ve.msg)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	return &c, nil
}

// unmarshal decodes strictly. go-yaml v1.19.2 panics on some malformed
// input (a tag on an empty sequence, found by FuzzParse); that is turned
// into an error, since a configuration is untrusted bytes.
func unmarshal(data []byte, c *Config) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the YAML parser failed on this file (%v); check its syntax", p)
		}
	}()
	return yaml.UnmarshalWithOptions(data, c, yaml.Strict())
}

// Marshal encodes c as YAML (used by tests and to show the effective
// configuration; it includes secrets, so write it only where the original
// could be read).
func Marshal(c *Config) ([]byte, error) {
	return yaml.MarshalWithOptions(c, yaml.IndentSequence(true))
}

// DefaultPath returns where the configuration file is looked for when
// none is named: /etc/cairn/cairn.yaml for root, and
// $XDG_CONFIG_HOME/cairn/cairn.yaml (~/.config/cairn/cairn.yaml) for
// other users. It is "" when there is no such folder.
func DefaultPath(getenv func(string) string, euid int) string {
	if euid == 0 {
		return "/etc/cairn/cairn.yaml"
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".config")
		}
	}
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "cairn", "cairn.yaml")
}
