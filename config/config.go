// Package config reads cairn's YAML configuration file: where the
// repository lives (one or more locations, with how many copies to keep)
// and how to unlock it, and the backup jobs that `cairn snapshot --job`
// and timers run.
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
//	    retention:
//	      keep_within: 90d
//	      keep_monthly: 12
//	      prune: true
//
// Parsing is strict: unknown fields, wrong types and invalid values are
// errors that name the file and line. Error messages never quote the
// file's text, so a secret in it is not repeated. The package imports no
// other cairn package.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// MaxSize bounds a configuration file.
const MaxSize = 1 << 20

// ErrInvalid marks every parse and validation error.
var ErrInvalid = errors.New("config: invalid")

// Config is a parsed configuration file.
type Config struct {
	Repository Repository `yaml:"repository,omitempty"`
	Jobs       []Job      `yaml:"jobs,omitempty"`

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
	// Retention is what `cairn forget --job NAME` keeps of the job's
	// snapshots; nil means the job has no retention policy.
	Retention *Retention `yaml:"retention,omitempty"`
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
	abs(&c.Repository.PasswordFile)
	abs(&c.Repository.KeyFile)
	for i := range c.Repository.Locations {
		l := &c.Repository.Locations[i]
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
		return nil, yamlError(name, err)
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

// yamlPos matches the "[line:column] message" that go-yaml's errors
// start with.
var yamlPos = regexp.MustCompile(`^\[(\d+):(\d+)\] (.*)$`)

// yamlError turns a go-yaml error into "name:line:column: message",
// dropping the source excerpt it carries (which could show a secret).
func yamlError(name string, err error) error {
	first, _, _ := strings.Cut(err.Error(), "\n")
	if m := yamlPos.FindStringSubmatch(first); m != nil {
		return fmt.Errorf("%w: %s:%s:%s: %s", ErrInvalid, name, m[1], m[2], m[3])
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, name, first)
}

// Marshal encodes c as YAML (used by tests and to show the effective
// configuration; it includes secrets, so write it only where the original
// could be read).
func Marshal(c *Config) ([]byte, error) {
	return yaml.MarshalWithOptions(c, yaml.IndentSequence(true))
}
