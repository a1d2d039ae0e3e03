package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Check is a job's scheduled check: when it runs, how much of the data
// it reads back and how many restore drills it does.
type Check struct {
	// Schedule is when the check runs (the syntax of Job.Schedule).
	Schedule string `yaml:"schedule"`
	// ReadData is how much data to read back: "all", a percentage such
	// as "10%", or a part "N/M"; empty checks only the structure.
	ReadData string `yaml:"read_data,omitempty"`
	// Drills is how many snapshots a restore drill restores and verifies.
	Drills int `yaml:"drills,omitempty"`
	// AllLocations checks every location on its own, not just the first
	// that answers.
	AllLocations bool `yaml:"all_locations,omitempty"`
}

// Hooks are shell commands (run with /bin/sh -c) around a job's run.
type Hooks struct {
	// Before runs first; when it fails the job is not run and fails.
	Before string `yaml:"before,omitempty"`
	// After runs when the job succeeded (also with unreadable files).
	After string `yaml:"after,omitempty"`
	// OnFailure runs when the job or a hook failed, with the event as
	// JSON on its standard input.
	OnFailure string `yaml:"on_failure,omitempty"`
	// Timeout bounds each hook (a Go duration such as 5m; default 10m).
	Timeout string `yaml:"timeout,omitempty"`
}

// DefaultHookTimeout bounds a hook whose block names no timeout.
const DefaultHookTimeout = 10 * time.Minute

// TimeoutDuration returns the hooks' timeout.
func (h *Hooks) TimeoutDuration() time.Duration {
	if h == nil || h.Timeout == "" {
		return DefaultHookTimeout
	}
	d, _ := time.ParseDuration(h.Timeout) // validated
	return d
}

// Limits bound what a job's run takes from the machine.
type Limits struct {
	// UploadRate caps the bytes written to storage per second, such as
	// "10MiB/s", "500KB/s" or "8Mbit/s".
	UploadRate string `yaml:"upload_rate,omitempty"`
	// CPUs is how many cores hashing, compression and sealing use at most
	// (GOMAXPROCS for `cairn run`; CPUQuota for the generated units).
	CPUs int `yaml:"cpus,omitempty"`
	// IONice is the I/O class of the threads that read the sources:
	// "idle", "best-effort" or "best-effort:N" (0 highest to 7 lowest).
	IONice string `yaml:"io_nice,omitempty"`
	// Nice is the CPU niceness of the run, -20 to 19 (the generated units'
	// Nice=; `cairn run` sets it on itself).
	Nice int `yaml:"nice,omitempty"`
}

// UploadBytesPerSecond returns the upload cap, 0 for none.
func (l *Limits) UploadBytesPerSecond() int64 {
	if l == nil || l.UploadRate == "" {
		return 0
	}
	n, _ := ParseRate(l.UploadRate) // validated
	return n
}

// IOClass returns the I/O class and level of IONice: class "" when unset.
func (l *Limits) IOClass() (class string, level int) {
	if l == nil || l.IONice == "" {
		return "", 0
	}
	class, lv, ok := strings.Cut(l.IONice, ":")
	if ok {
		level, _ = strconv.Atoi(lv)
	} else if class == "best-effort" {
		level = 4
	}
	return class, level
}

// Daemon configures `cairn daemon`.
type Daemon struct {
	// Concurrency is how many jobs run at once, over all repositories
	// (default 1); a repository never runs two at once.
	Concurrency int `yaml:"concurrency,omitempty"`
	// Retry says how a failed run is tried again.
	Retry *Retry `yaml:"retry,omitempty"`
	// MetricsAddr is where Prometheus metrics are served, such as
	// "127.0.0.1:9750"; empty serves none.
	MetricsAddr string `yaml:"metrics_addr,omitempty"`
}

// Retry is the daemon's backoff: attempt n (from 2) waits
// base_delay·2^(n-2), at most max_delay, less up to half of it at random.
type Retry struct {
	Attempts  int    `yaml:"attempts,omitempty"`   // tries per scheduled run, the first included (default 3)
	BaseDelay string `yaml:"base_delay,omitempty"` // default 1m
	MaxDelay  string `yaml:"max_delay,omitempty"`  // default 1h
}

// Retry defaults.
const (
	DefaultAttempts  = 3
	DefaultBaseDelay = time.Minute
	DefaultMaxDelay  = time.Hour
)

// Values returns the retry settings with defaults filled in.
func (r *Retry) Values() (attempts int, base, maxDelay time.Duration) {
	attempts, base, maxDelay = DefaultAttempts, DefaultBaseDelay, DefaultMaxDelay
	if r == nil {
		return
	}
	if r.Attempts > 0 {
		attempts = r.Attempts
	}
	if d, err := time.ParseDuration(r.BaseDelay); err == nil && r.BaseDelay != "" {
		base = d
	}
	if d, err := time.ParseDuration(r.MaxDelay); err == nil && r.MaxDelay != "" {
		maxDelay = d
	}
	return
}

// Monitoring says where runs leave their traces.
type Monitoring struct {
	// AuditLog is a file that every run appends a JSON line to.
	AuditLog string `yaml:"audit_log,omitempty"`
	// MetricsFile is a node_exporter textfile that `cairn run` rewrites
	// after each run (the daemon serves metrics_addr instead).
	MetricsFile string `yaml:"metrics_file,omitempty"`
}

// cronParser reads the schedules: five fields or a descriptor
// (@hourly, @daily, @weekly, @monthly, @yearly, @every DURATION), as
// robfig/cron's standard parser does; package schedule uses the same.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a schedule line.
func ParseSchedule(s string) (cron.Schedule, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "TZ=") || strings.HasPrefix(strings.TrimSpace(s), "CRON_TZ=") {
		return nil, fmt.Errorf("schedule %q: time zones are not supported; the machine's local time is used", s)
	}
	if d, ok := strings.CutPrefix(strings.TrimSpace(s), "@every "); ok {
		// robfig/cron rounds an interval up to a second; say so instead.
		if v, err := time.ParseDuration(strings.TrimSpace(d)); err == nil && (v < time.Second || v%time.Second != 0) {
			return nil, fmt.Errorf("schedule %q: @every needs whole seconds, at least 1s", s)
		}
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v; use five fields (minute hour day month weekday), @hourly, @daily, @weekly, @monthly or @every 30m", s, err)
	}
	return sched, nil
}

// rateSyntax is a number with a unit of bytes or bits per second.
var rateSyntax = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B|[kKMGT]bit|bit)/s\s*$`)

// ParseRate reads a rate such as "10MiB/s", "500KB/s" or "8Mbit/s" as
// bytes per second.
func ParseRate(s string) (int64, error) {
	m := rateSyntax.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("rate %q: use a number and a unit per second, such as 10MiB/s, 500KB/s or 8Mbit/s", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %v", s, err)
	}
	unit := m[2]
	mult := 1.0
	if strings.HasSuffix(unit, "bit") {
		mult = 1.0 / 8
		// Bit rates use decimal prefixes: kbit, Mbit, … are KB, MB, … / 8.
		unit = strings.ToUpper(strings.TrimSuffix(unit, "bit")) + "B"
	}
	prefixes := map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
	n := v * mult * prefixes[unit]
	if n < 1024 {
		return 0, fmt.Errorf("rate %q: below 1 KiB/s, which no backup finishes at", s)
	}
	return int64(n), nil
}

var readDataSyntax = regexp.MustCompile(`^(all|[0-9]+(\.[0-9]+)?%|[1-9][0-9]*/[1-9][0-9]*)$`)

func (c *Check) validate(at, job string) error {
	if _, err := ParseSchedule(c.Schedule); err != nil {
		return invalid(at+".schedule", "job %q: check %v", job, err)
	}
	if c.ReadData != "" && !readDataSyntax.MatchString(c.ReadData) {
		return invalid(at+".read_data", "job %q: read_data %q: use all, a percentage such as 10%%, or a part N/M such as 1/7", job, c.ReadData)
	}
	if n, m, ok := strings.Cut(c.ReadData, "/"); ok {
		a, _ := strconv.Atoi(n)
		b, _ := strconv.Atoi(m)
		if a > b {
			return invalid(at+".read_data", "job %q: read_data %q: part %d of %d does not exist", job, c.ReadData, a, b)
		}
	}
	if p, ok := strings.CutSuffix(c.ReadData, "%"); ok {
		if v, _ := strconv.ParseFloat(p, 64); v <= 0 || v > 100 {
			return invalid(at+".read_data", "job %q: read_data %q: want more than 0%% and at most 100%%", job, c.ReadData)
		}
	}
	if c.Drills < 0 {
		return invalid(at+".drills", "job %q: drills %d: want 0 or more", job, c.Drills)
	}
	return nil
}

func (h *Hooks) validate(at, job string) error {
	if h.Timeout != "" {
		if d, err := time.ParseDuration(h.Timeout); err != nil || d <= 0 {
			return invalid(at+".timeout", "job %q: hook timeout %q: use a duration such as 30s or 10m", job, h.Timeout)
		}
	}
	if h.Before == "" && h.After == "" && h.OnFailure == "" {
		return invalid(at, "job %q: the hooks block names no command", job)
	}
	return nil
}

func (l *Limits) validate(at, job string) error {
	if l.UploadRate != "" {
		if _, err := ParseRate(l.UploadRate); err != nil {
			return invalid(at+".upload_rate", "job %q: %v", job, err)
		}
	}
	if l.CPUs < 0 {
		return invalid(at+".cpus", "job %q: cpus %d: want 1 or more", job, l.CPUs)
	}
	if l.Nice < -20 || l.Nice > 19 {
		return invalid(at+".nice", "job %q: nice %d: want -20 to 19", job, l.Nice)
	}
	if l.IONice != "" {
		class, level, hasLevel := strings.Cut(l.IONice, ":")
		ok := class == "idle" && !hasLevel || class == "best-effort"
		if ok && hasLevel {
			n, err := strconv.Atoi(level)
			ok = err == nil && n >= 0 && n <= 7
		}
		if !ok {
			return invalid(at+".io_nice", "job %q: io_nice %q: use idle, best-effort or best-effort:N with N from 0 (highest) to 7 (lowest)", job, l.IONice)
		}
	}
	return nil
}

func (d *Daemon) validate() error {
	const at = "$.daemon"
	if d.Concurrency < 0 {
		return invalid(at+".concurrency", "concurrency %d: want 1 or more", d.Concurrency)
	}
	if r := d.Retry; r != nil {
		if r.Attempts < 0 {
			return invalid(at+".retry.attempts", "attempts %d: want 1 or more", r.Attempts)
		}
		for _, f := range []struct{ key, v string }{{"base_delay", r.BaseDelay}, {"max_delay", r.MaxDelay}} {
			if f.v == "" {
				continue
			}
			if v, err := time.ParseDuration(f.v); err != nil || v <= 0 {
				return invalid(at+".retry."+f.key, "%s %q: use a duration such as 30s or 5m", f.key, f.v)
			}
		}
	}
	if a := d.MetricsAddr; a != "" {
		if i := strings.LastIndexByte(a, ':'); i < 0 {
			return invalid(at+".metrics_addr", "metrics_addr %q: use HOST:PORT, such as 127.0.0.1:9750", a)
		} else if p, err := strconv.Atoi(a[i+1:]); err != nil || p < 0 || p > 65535 {
			return invalid(at+".metrics_addr", "metrics_addr %q: the port must be a number up to 65535", a)
		}
	}
	return nil
}

// validateRun checks the fields that say how and when a job runs.
func (j *Job) validateRun(at string) error {
	if j.Schedule != "" {
		if _, err := ParseSchedule(j.Schedule); err != nil {
			return invalid(at+".schedule", "job %q: %v", j.Name, err)
		}
	}
	if j.RandomDelay != "" {
		if d, err := time.ParseDuration(j.RandomDelay); err != nil || d < 0 {
			return invalid(at+".random_delay", "job %q: random_delay %q: use a duration such as 10m", j.Name, j.RandomDelay)
		}
	}
	if j.CatchUp && j.Schedule == "" {
		return invalid(at+".catch_up", "job %q: catch_up needs a schedule", j.Name)
	}
	if j.Check != nil {
		if err := j.Check.validate(at+".check", j.Name); err != nil {
			return err
		}
	}
	if j.Hooks != nil {
		if err := j.Hooks.validate(at+".hooks", j.Name); err != nil {
			return err
		}
	}
	if j.Limits != nil {
		if err := j.Limits.validate(at+".limits", j.Name); err != nil {
			return err
		}
	}
	return nil
}

// RandomDelayDuration returns how long scheduled runs may be delayed at
// random (0 when unset).
func (j *Job) RandomDelayDuration() time.Duration {
	d, _ := time.ParseDuration(j.RandomDelay) // validated
	return d
}
