package config

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// validationError is a bad value at a YAML path such as
// "$.repository.locations[1].url".
type validationError struct {
	path, msg string
}

func (e *validationError) Error() string { return e.path + ": " + e.msg }

func invalid(p, format string, args ...any) error {
	return &validationError{path: p, msg: fmt.Sprintf(format, args...)}
}

// position returns ":line" for the node at a YAML path, or "" when it
// cannot be found.
func position(data []byte, p string) (pos string) {
	defer func() {
		if recover() != nil {
			pos = ""
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return ""
	}
	for ; p != "$" && p != ""; p = parent(p) {
		yp, err := yaml.PathString(p)
		if err != nil {
			continue
		}
		if n, err := yp.FilterFile(f); err == nil && n != nil && n.GetToken() != nil {
			return fmt.Sprintf(":%d", n.GetToken().Position.Line)
		}
	}
	return ""
}

// parent strips a path's last element: "$.a.b[2]" → "$.a.b" → "$.a".
func parent(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i > 0 {
		return p[:i]
	}
	return "$"
}

var jobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *Config) validate() error {
	if err := c.Repository.validate("$.repository"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, j := range c.Jobs {
		at := fmt.Sprintf("$.jobs[%d]", i)
		switch {
		case !jobName.MatchString(j.Name):
			return invalid(at+".name", "job name %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", j.Name)
		case seen[j.Name]:
			return invalid(at+".name", "job %q is defined twice", j.Name)
		case len(j.Sources) == 0:
			return invalid(at, "job %q has no sources", j.Name)
		}
		seen[j.Name] = true
		for k, s := range j.Sources {
			if !path.IsAbs(s) {
				return invalid(fmt.Sprintf("%s.sources[%d]", at, k), "job %q: source %q must be an absolute path", j.Name, s)
			}
		}
		for k, t := range j.Tags {
			if t == "" || strings.ContainsAny(t, ",\n") {
				return invalid(fmt.Sprintf("%s.tags[%d]", at, k), "job %q: tag %q must be non-empty, without commas or newlines", j.Name, t)
			}
		}
		if err := j.validateSnapshot(at); err != nil {
			return err
		}
		if j.Retention != nil {
			if err := j.Retention.validate(at+".retention", j.Name); err != nil {
				return err
			}
		}
		if err := j.validateRun(at); err != nil {
			return err
		}
		if j.Repository != nil {
			if len(j.Repository.Locations) == 0 {
				return invalid(at+".repository", "job %q: its repository block names no location", j.Name)
			}
			if err := j.Repository.validate(at + ".repository"); err != nil {
				return err
			}
		}
	}
	if c.Daemon != nil {
		return c.Daemon.validate()
	}
	return nil
}

// retentionDuration is the syntax of a keep-within duration: numbers of
// at most six digits with units y, m, d, h, each unit once, in any order
// (package policy parses it; cmd/cairn tests that both agree).
var retentionDuration = regexp.MustCompile(`^\s*([0-9]{1,6}[ymdh])+\s*$`)

func validRetentionDuration(s string) bool {
	if !retentionDuration.MatchString(s) {
		return false
	}
	for _, u := range "ymdh" {
		if strings.Count(s, string(u)) > 1 {
			return false
		}
	}
	return true
}

func (r *Retention) validate(at, job string) error {
	counts := map[string]int{"keep_last": r.KeepLast, "keep_hourly": r.KeepHourly, "keep_daily": r.KeepDaily,
		"keep_weekly": r.KeepWeekly, "keep_monthly": r.KeepMonthly, "keep_yearly": r.KeepYearly}
	rules := len(r.KeepTags)
	for _, key := range []string{"keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"} {
		switch n := counts[key]; {
		case n < -1:
			return invalid(at+"."+key, "job %q: %s %d: use a count, or -1 for unlimited", job, key, n)
		case n != 0:
			rules++
		}
	}
	durations := []struct{ key, v string }{{"keep_within", r.KeepWithin}, {"keep_within_hourly", r.KeepWithinHourly},
		{"keep_within_daily", r.KeepWithinDaily}, {"keep_within_weekly", r.KeepWithinWeekly},
		{"keep_within_monthly", r.KeepWithinMonthly}, {"keep_within_yearly", r.KeepWithinYearly}}
	for _, d := range durations {
		if d.v == "" {
			continue
		}
		if !validRetentionDuration(d.v) {
			return invalid(at+"."+d.key, "job %q: %s %q: use years, months, days and hours, such as 90d, 1y2m3d or 36h", job, d.key, d.v)
		}
		rules++
	}
	for k, t := range r.KeepTags {
		if strings.TrimSpace(t) == "" {
			return invalid(fmt.Sprintf("%s.keep_tags[%d]", at, k), "job %q: an empty tag list would keep every snapshot", job)
		}
	}
	if r.GroupBy != nil && *r.GroupBy != "" {
		for _, f := range strings.Split(*r.GroupBy, ",") {
			if f != "host" && f != "paths" && f != "tags" {
				return invalid(at+".group_by", "job %q: group_by %q: use host, paths and tags, separated by commas, or \"\" for one group", job, *r.GroupBy)
			}
		}
	}
	if rules == 0 {
		return invalid(at, "job %q: retention names no rule, which would remove every snapshot; add keep_* rules or drop the block", job)
	}
	return nil
}

func (r *Repository) validate(base string) error {
	enabled := 0
	urls := map[string]bool{}
	for i, l := range r.Locations {
		at := fmt.Sprintf("%s.locations[%d]", base, i)
		switch {
		case strings.TrimSpace(l.URL) == "":
			return invalid(at, "location has no url")
		case urls[l.URL]:
			return invalid(at+".url", "location %q is listed twice", l.URL)
		case l.Priority < 0:
			return invalid(at+".priority", "priority %d: want 0 or more (lower is tried first)", l.Priority)
		case l.S3 != nil && !strings.HasPrefix(l.URL, "s3:"):
			return invalid(at+".s3", "s3 options on location %q, which is not an s3: address", l.URL)
		case l.S3 != nil && (l.S3.AccessKeyID == "") != (l.S3.SecretAccessKey == ""):
			return invalid(at+".s3", "location %q: access_key_id and secret_access_key go together", l.URL)
		}
		if err := l.validateCloud(at); err != nil {
			return err
		}
		urls[l.URL] = true
		if l.IsEnabled() {
			enabled++
		}
	}
	if len(r.Locations) > 0 && enabled == 0 {
		return invalid(base+".locations", "every location is disabled")
	}
	if err := r.validateCopies(base, enabled); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{r.PasswordFile, r.PasswordCommand, r.KeyFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return invalid(base, "give only one of password_file, password_command and key_file")
	}
	return nil
}

func (r *Repository) validateCopies(base string, enabled int) error {
	switch {
	case r.MinCopies < 0:
		return invalid(base+".min_copies", "min_copies %d: want at least 1", r.MinCopies)
	case r.MaxCopies < 0:
		return invalid(base+".max_copies", "max_copies %d: want at least 1", r.MaxCopies)
	case r.MaxCopies != 0 && r.MinCopies > r.MaxCopies:
		return invalid(base+".min_copies", "min_copies %d is more than max_copies %d", r.MinCopies, r.MaxCopies)
	case len(r.Locations) == 0:
		return nil
	case r.MinCopies > enabled:
		return invalid(base+".min_copies", "min_copies %d is more than the %d enabled location(s)", r.MinCopies, enabled)
	case r.MaxCopies > enabled:
		return invalid(base+".max_copies", "max_copies %d is more than the %d enabled location(s)", r.MaxCopies, enabled)
	}
	return nil
}
