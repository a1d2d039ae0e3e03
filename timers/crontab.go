package timers

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/cairnbackup/cairn/config"
)

// Crontab returns crontab lines running every job with a schedule and
// every check block: the schedule's cron line as it is where cron reads
// it the same way, and otherwise rewritten to numbers with the same
// meaning (names such as "sun", "?", and day fields like */2 whose star
// robfig/cron and cron read differently). An "@every D" becomes the cron
// line for D when D divides an hour or a day evenly; other intervals are
// an error naming the job and suggesting a cron line.
//
// Cron has no random delay and no catch-up: a comment says so for each
// job that sets them (systemd timers and the daemon have both).
func Crontab(c *config.Config, o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# cairn's jobs, written by \"cairn schedule cron\" from %s.\n", o.ConfigFile)
	b.WriteString("# \"cairn schedule cron | crontab -\" replaces your crontab with these lines;\n")
	b.WriteString("# \"(crontab -l; cairn schedule cron) | crontab -\" adds them to it.\n")
	b.WriteString("# Times are the machine's local time.\n")
	lines := 0
	for _, j := range c.Jobs {
		for _, u := range jobUnits(&j) {
			sched, err := cronLine(u.schedule)
			if err != nil {
				return "", fmt.Errorf("job %q: %s%w", j.Name, u.what(), err)
			}
			if notes := cronNotes(&j); notes != "" {
				fmt.Fprintf(&b, "# %s: %s\n", u.title(j.Name), notes)
			}
			cmd, err := shellCommand(o, u.args(j.Name))
			if err != nil {
				return "", fmt.Errorf("job %q: %w", j.Name, err)
			}
			fmt.Fprintf(&b, "%s %s\n", sched, cmd)
			lines++
		}
	}
	if lines == 0 {
		return "", fmt.Errorf("%w in %s", ErrNothingScheduled, o.ConfigFile)
	}
	return b.String(), nil
}

// cronNotes says what of a job's settings cron cannot do.
func cronNotes(j *config.Job) string {
	var n []string
	if j.CatchUp {
		n = append(n, "catch_up")
	}
	if j.RandomDelay != "" && j.RandomDelayDuration() > 0 {
		n = append(n, "random_delay "+j.RandomDelay)
	}
	if len(n) == 0 {
		return ""
	}
	return strings.Join(n, " and ") + " need systemd timers or cairn daemon; cron ignores them"
}

// cronDescriptors are the descriptors that cron (Vixie, cronie, busybox)
// reads as robfig/cron does.
var cronDescriptors = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true,
	"@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}

var plainField = regexp.MustCompile(`^[0-9*,/-]+$`)

// cronLine returns a schedule line that cron reads as robfig/cron does.
func cronLine(line string) (string, error) {
	sched, err := config.ParseSchedule(line)
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	switch s := sched.(type) {
	case cron.ConstantDelaySchedule:
		if c, ok := everyCron(s.Delay); ok {
			return c, nil
		}
		near := nearestEvery(s.Delay)
		c, _ := everyCron(near)
		return "", fmt.Errorf("schedule %q: cron cannot run every %s, which does not divide an hour or a day evenly; use a cron line such as %q (every %s), or the systemd timers, which can",
			line, short(s.Delay), c, short(near))
	case *cron.SpecSchedule:
		if cronDescriptors[line] || plainCron(line) {
			return line, nil
		}
		return strings.Join([]string{
			cronField(s.Minute, 0, 59, true), cronField(s.Hour, 0, 23, true),
			cronField(s.Dom, 1, 31, s.Dom&starBit != 0), cronField(s.Month, 1, 12, true),
			cronField(s.Dow, 0, 6, s.Dow&starBit != 0),
		}, " "), nil
	default:
		return "", fmt.Errorf("schedule %q: unexpected schedule type %T", line, sched)
	}
}

// plainCron reports whether every cron reads line as robfig/cron does:
// numbers only, and a day field with a star is just "*" (cron treats
// "*/2" as a star when it weighs day of month against weekday, robfig as
// a list).
func plainCron(line string) bool {
	f := strings.Fields(line)
	if len(f) != 5 {
		return false
	}
	for i, v := range f {
		if !plainField.MatchString(v) {
			return false
		}
		if (i == 2 || i == 4) && v != "*" && strings.Contains(v, "*") {
			return false
		}
	}
	return true
}

// cronField renders a cron field from its bits; star allows "*" and
// "*/N" (for the day fields only when robfig saw a star, so that cron
// weighs them the same).
func cronField(bits uint64, lo, hi int, star bool) string {
	v := values(bits, lo, hi)
	full := len(v) == hi-lo+1
	switch d := step(v, hi); {
	case full && star:
		return "*"
	case full:
		return fmt.Sprintf("%d-%d", lo, hi)
	case d > 0 && star && v[0] == lo:
		return fmt.Sprintf("*/%d", d)
	case d > 0:
		return fmt.Sprintf("%d-%d/%d", v[0], hi, d)
	}
	return runs(v, func(n int) string { return fmt.Sprint(n) }, "-")
}

// shellSafe is what a shell word may hold unquoted.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@+=,-]+$`)

// shellCommand renders the command for /bin/sh, with cron's % escaped.
func shellCommand(o Options, args []string) (string, error) {
	words := append([]string{o.Binary, "--config", o.ConfigFile}, args...)
	for i, w := range words {
		if err := checkPath(w); err != nil {
			return "", err
		}
		if !shellSafe.MatchString(w) {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		// cron turns an unescaped % into a newline.
		words[i] = strings.ReplaceAll(w, "%", `\%`)
	}
	return strings.Join(words, " "), nil
}
