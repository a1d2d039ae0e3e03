package timers

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cairnbackup/cairn/config"
)

// Unit is a systemd unit file.
type Unit struct {
	Name string // such as "cairn-etc.service"
	Text string
}

// documentation is the units' Documentation= address.
const documentation = "https://github.com/cairnbackup/cairn"

// unitName is what a job name may be to become part of a unit name
// (config allows exactly this).
var unitName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Systemd returns, for every job with a schedule, cairn-JOB.service
// (running `cairn --config FILE run JOB`) and cairn-JOB.timer, and for
// every job with a check block, cairn-JOB-check.service (`run --check
// JOB`) and cairn-JOB-check.timer.
//
// Services are Type=oneshot with Nice= from limits.nice (default 10),
// IOSchedulingClass= from limits.io_nice (default idle), CPUQuota= from
// limits.cpus, CacheDirectory=cairn (cairn uses $CACHE_DIRECTORY) and,
// for system units, StateDirectory=cairn (/var/lib/cairn, where the
// default repository lives for root without a home). No Environment= is
// written: secrets stay in the configuration and password files.
//
// System services are sandboxed: the file system is read-only except the
// local repository locations, the monitoring files' folders and the
// cache and state folders; the backup may read any file
// (CAP_DAC_READ_SEARCH) and open it without touching its access time
// (CAP_FOWNER) and nothing more. A repository folder that root does not
// own needs CAP_DAC_OVERRIDE added with `systemctl edit`. A check with
// restore drills keeps root's capabilities and may create setuid files,
// since a drill restores them. A job with hooks gets no sandbox at all:
// its hooks run in the service and may need anything. User units
// (Options.User) get no sandbox either.
//
// Timers use OnCalendar= (see OnCalendar; an @every interval that no
// calendar expresses uses OnBootSec= and OnUnitActiveSec= instead),
// RandomizedDelaySec= from random_delay, AccuracySec=1m, and
// Persistent=true (a run missed while the machine was off happens at
// boot) only for jobs with catch_up, which is false by default, as in
// the daemon. A check follows its job's catch_up and random_delay.
func Systemd(c *config.Config, o Options) ([]Unit, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	var units []Unit
	owner := map[string]string{} // unit base name → job
	for i := range c.Jobs {
		j := &c.Jobs[i]
		if !unitName.MatchString(j.Name) {
			return nil, fmt.Errorf("job %q: the name cannot be part of a unit name; use letters, digits, '.', '_' and '-'", j.Name)
		}
		for _, u := range jobUnits(j) {
			base := u.base(j.Name)
			if other, ok := owner[base]; ok {
				return nil, fmt.Errorf("jobs %q and %q would both have units named %s; rename one", other, j.Name, base)
			}
			owner[base] = j.Name
			svc, err := service(c, j, u, o)
			if err != nil {
				return nil, fmt.Errorf("job %q: %w", j.Name, err)
			}
			tm, err := timer(j, u, o)
			if err != nil {
				return nil, fmt.Errorf("job %q: %s%w", j.Name, u.what(), err)
			}
			units = append(units, Unit{base + ".service", svc}, Unit{base + ".timer", tm})
		}
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNothingScheduled, o.ConfigFile)
	}
	return units, nil
}

// unitWriter builds a unit file.
type unitWriter struct{ b strings.Builder }

func (w *unitWriter) header(o Options, name string) {
	fmt.Fprintf(&w.b, "# Written by \"cairn schedule systemd\" from %s.\n", o.ConfigFile)
	fmt.Fprintf(&w.b, "# Write it again rather than edit it; \"systemctl%s edit %s\" adds settings that stay.\n",
		map[bool]string{true: " --user"}[o.User], name)
}

func (w *unitWriter) section(name string) {
	fmt.Fprintf(&w.b, "\n[%s]\n", name)
}

func (w *unitWriter) set(key, value string) {
	fmt.Fprintf(&w.b, "%s=%s\n", key, value)
}

func (w *unitWriter) comment(text string) {
	fmt.Fprintf(&w.b, "# %s\n", text)
}

// service returns the text of a job's service unit.
func service(c *config.Config, j *config.Job, u jobUnit, o Options) (string, error) {
	var w unitWriter
	w.header(o, u.base(j.Name)+".service")
	w.section("Unit")
	w.set("Description", u.title(j.Name))
	w.set("Documentation", documentation)
	if !o.User { // the user manager has no network-online.target
		w.set("Wants", "network-online.target")
		w.set("After", "network-online.target")
	}
	w.section("Service")
	w.set("Type", "oneshot")
	exec, err := execLine(o, u.args(j.Name))
	if err != nil {
		return "", err
	}
	w.set("ExecStart", exec)
	if err := limits(&w, j.Limits, o); err != nil {
		return "", err
	}
	w.set("CacheDirectory", "cairn")
	if o.User {
		return w.b.String(), nil
	}
	w.set("StateDirectory", "cairn")
	if j.Hooks != nil {
		w.comment("The job has hooks, which run in this service and may need anything: no sandbox.")
		return w.b.String(), nil
	}
	if err := sandbox(&w, c, j, u); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// limits writes the job's CPU and I/O limits.
func limits(w *unitWriter, l *config.Limits, o Options) error {
	nice := 10
	if l != nil && l.Nice != 0 {
		nice = l.Nice
	}
	if o.User && nice < 0 {
		return fmt.Errorf("limits.nice %d raises the priority, which a user unit may not; use 0 to 19", nice)
	}
	w.set("Nice", fmt.Sprint(nice))
	switch class, level := l.IOClass(); class {
	case "", "idle":
		w.set("IOSchedulingClass", "idle")
	default:
		w.set("IOSchedulingClass", class)
		w.set("IOSchedulingPriority", fmt.Sprint(level))
	}
	if l != nil && l.CPUs > 0 {
		w.set("CPUQuota", fmt.Sprintf("%d%%", l.CPUs*100))
	}
	return nil
}

// sandbox writes a system service's hardening.
func sandbox(w *unitWriter, c *config.Config, j *config.Job, u jobUnit) error {
	drills := u.check && j.Check.Drills > 0
	w.set("ProtectSystem", "strict")
	w.set("ProtectHome", "read-only")
	if underTmp(j.Sources) && !u.check {
		w.comment("A source is under /tmp or /var/tmp, which PrivateTmp= would hide.")
	} else {
		w.set("PrivateTmp", "true")
	}
	w.set("NoNewPrivileges", "true")
	w.set("ProtectKernelTunables", "true")
	w.set("ProtectKernelModules", "true")
	w.set("ProtectControlGroups", "true")
	if !drills {
		w.set("RestrictSUIDSGID", "true")
	}
	w.set("LockPersonality", "true")
	w.set("MemoryDenyWriteExecute", "true")
	switch {
	case drills:
		w.comment("Restore drills set owners, modes and attributes as the snapshot has them: root's capabilities stay.")
	case u.check:
		w.set("CapabilityBoundingSet", "CAP_DAC_READ_SEARCH")
	default:
		w.set("CapabilityBoundingSet", "CAP_DAC_READ_SEARCH CAP_FOWNER")
	}
	if !u.check {
		ro, err := pathList(j.Sources)
		if err != nil {
			return err
		}
		w.set("ReadOnlyPaths", ro)
	}
	rw, err := pathList(writablePaths(c))
	if err != nil {
		return err
	}
	if rw != "" {
		w.set("ReadWritePaths", rw)
	}
	return nil
}

// underTmp reports whether a source is in a folder PrivateTmp= replaces.
func underTmp(sources []string) bool {
	for _, s := range sources {
		p := path.Clean(s)
		for _, t := range []string{"/tmp", "/var/tmp"} {
			if p == "/" || p == t || strings.HasPrefix(p, t+"/") || strings.HasPrefix(t, p+"/") {
				return true
			}
		}
	}
	return false
}

// writablePaths are the folders cairn writes besides its cache and state
// folders: local repository locations and the monitoring files' folders.
func writablePaths(c *config.Config) []string {
	var p []string
	repos := []config.Repository{c.Repository}
	for _, j := range c.Jobs {
		if j.Repository != nil {
			repos = append(repos, *j.Repository)
		}
	}
	for _, r := range repos {
		for _, l := range r.Locations {
			if strings.HasPrefix(l.URL, "/") && !slices.Contains(p, l.URL) {
				p = append(p, l.URL)
			}
		}
	}
	if m := c.Monitoring; m != nil {
		for _, f := range []string{m.AuditLog, m.MetricsFile} {
			if f != "" {
				p = append(p, path.Dir(f))
			}
		}
	}
	return p
}

// pathList renders paths for ReadOnlyPaths= and ReadWritePaths=: each
// with "-" (a missing one does not stop the unit), quoted when it holds
// a space, with % doubled (systemd expands specifiers there).
func pathList(paths []string) (string, error) {
	var words []string
	seen := map[string]bool{}
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return "", err
		}
		switch {
		case !path.IsAbs(p):
			return "", fmt.Errorf("path %q is not absolute (load the configuration with config.Load, which resolves it)", p)
		case strings.ContainsAny(p, `"\`):
			return "", fmt.Errorf("path %q holds a quote or a backslash, which cairn does not write into unit files", p)
		case seen[p]:
			continue
		}
		seen[p] = true
		w := "-" + strings.ReplaceAll(p, "%", "%%")
		if strings.ContainsAny(w, " \t'") {
			w = `"` + w + `"`
		}
		words = append(words, w)
	}
	return strings.Join(words, " "), nil
}

// execLine renders the ExecStart= command line.
func execLine(o Options, args []string) (string, error) {
	words := append([]string{o.Binary, "--config", o.ConfigFile}, args...)
	for i, w := range words {
		if err := checkPath(w); err != nil {
			return "", err
		}
		words[i] = execWord(w)
	}
	return strings.Join(words, " "), nil
}

// execWord quotes a word of a command line as systemd reads it: % starts
// a specifier and $ a variable, so both are doubled; a word with a space,
// quote, backslash or semicolon is put in double quotes, with C escapes.
func execWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s == "" || strings.ContainsAny(s, " \t\"'\\;") {
		s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// timer returns the text of a job's timer unit.
func timer(j *config.Job, u jobUnit, o Options) (string, error) {
	var w unitWriter
	w.header(o, u.base(j.Name)+".timer")
	w.section("Unit")
	w.set("Description", "Timer of the "+u.title(j.Name)+" ("+u.schedule+")")
	w.set("Documentation", documentation)
	w.section("Timer")
	accuracy := time.Minute
	cal, err := OnCalendar(u.schedule)
	switch {
	case err == nil:
		if d := every(u.schedule); d > 0 {
			w.comment("@every " + short(d) + " runs at fixed times of day here, counted from midnight.")
		}
		for _, e := range cal {
			w.set("OnCalendar", e)
		}
		if j.CatchUp {
			w.set("Persistent", "true")
		}
	case errors.Is(err, ErrNotCalendar):
		d := every(u.schedule)
		w.comment("@every " + short(d) + " does not divide an hour or a day: runs count from the last one (and from boot).")
		w.set("OnBootSec", span(d))
		w.set("OnUnitActiveSec", span(d))
		if d < 10*time.Minute {
			accuracy = time.Second
		}
	default:
		return "", err
	}
	if d := j.RandomDelayDuration(); d > 0 {
		w.set("RandomizedDelaySec", span(d))
	}
	w.set("AccuracySec", span(accuracy))
	w.section("Install")
	w.set("WantedBy", "timers.target")
	return w.b.String(), nil
}

// every returns the interval of an "@every" line, 0 for other lines.
func every(line string) time.Duration {
	s, _ := config.ParseSchedule(line)
	d, _ := s.(cron.ConstantDelaySchedule)
	return d.Delay
}

// span renders a duration as a systemd time span, such as "1h 30min".
func span(d time.Duration) string {
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "min"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.d
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, " ")
}
