// Package timers turns a configuration's job schedules into systemd
// timer and service units, or crontab lines, that run `cairn run` for
// each job and `cairn run --check` for each check block: the same jobs,
// at the same times, as `cairn daemon` runs them.
//
// Everything here is a pure function of the configuration, except
// WriteUnits and Install.
package timers

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cairnbackup/cairn/config"
)

// ErrNothingScheduled is returned when no job has a schedule or a check.
var ErrNothingScheduled = errors.New("timers: no job has a schedule or a check block")

// Options say how the units and lines run cairn.
type Options struct {
	// Binary is the absolute path of the cairn binary (os.Executable()).
	Binary string
	// ConfigFile is the absolute path of the configuration file, passed
	// as --config.
	ConfigFile string
	// User makes units for the user's service manager (systemctl --user):
	// no sandboxing that needs root, no StateDirectory=.
	User bool
}

func (o Options) check() error {
	for _, f := range []struct{ name, path string }{{"binary", o.Binary}, {"configuration file", o.ConfigFile}} {
		if !filepath.IsAbs(f.path) {
			return fmt.Errorf("the %s path %q must be absolute", f.name, f.path)
		}
	}
	return nil
}

// jobUnit is one thing a job runs on a schedule: its backup or its check.
type jobUnit struct {
	check    bool
	schedule string
}

// jobUnits returns what j runs on a schedule.
func jobUnits(j *config.Job) []jobUnit {
	var u []jobUnit
	if j.Schedule != "" {
		u = append(u, jobUnit{schedule: j.Schedule})
	}
	if j.Check != nil {
		u = append(u, jobUnit{check: true, schedule: j.Check.Schedule})
	}
	return u
}

// args are the cairn arguments after --config.
func (u jobUnit) args(job string) []string {
	if u.check {
		return []string{"run", "--check", job}
	}
	return []string{"run", job}
}

// base is the unit name without its suffix: cairn-JOB or cairn-JOB-check.
func (u jobUnit) base(job string) string {
	if u.check {
		return "cairn-" + job + "-check"
	}
	return "cairn-" + job
}

// title names the unit's work in descriptions and comments.
func (u jobUnit) title(job string) string {
	if u.check {
		return "cairn check of job " + job
	}
	return "cairn backup of job " + job
}

// what prefixes errors about the check's schedule.
func (u jobUnit) what() string {
	if u.check {
		return "check: "
	}
	return ""
}

// checkPath refuses what no unit file or crontab line can carry.
func checkPath(p string) error {
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("path %q holds a control character, which a unit file or crontab line cannot carry", p)
	}
	return nil
}
