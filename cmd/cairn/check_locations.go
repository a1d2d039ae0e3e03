package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/check"
	"github.com/cairnbackup/cairn/repo"
)

// locationCheck is the result of checking one location on its own.
type locationCheck struct {
	Location string        `json:"location"`
	Priority int           `json:"priority"`
	Error    string        `json:"error,omitempty"` // it could not be opened or checked
	Report   *check.Report `json:"report,omitempty"`
	// Requests are those of this location's check, the mirrors asked for
	// sound copies included.
	Requests requestReport `json:"requests"`
}

// sound reports whether the location was checked and found undamaged.
func (l locationCheck) sound() bool { return l.Error == "" && l.Report != nil && !l.Report.Damaged() }

// allLocationsSummary is the JSON result of check --all-locations.
type allLocationsSummary struct {
	MessageType string          `json:"message_type"`
	Locations   []locationCheck `json:"locations"`
	Requests    requestReport   `json:"requests"`
}

// runCheckAllLocations checks every enabled location in turn as a
// repository of its own (structure, and data as opts say), asking the
// other locations for sound copies of whatever is damaged, and reports
// per location.
func runCheckAllLocations(ctx context.Context, g *globalOptions, o checkOptions, opts check.Options) error {
	opened, err := g.acc.OpenEachLocation(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, lb := range opened {
			if lb.Backend != nil {
				lb.Backend.Close()
			}
		}
	}()
	creds := onceCredentials(func() (repo.Credentials, error) { return g.acc.Credentials(false) })
	var results []locationCheck
	for i, lb := range opened {
		if !g.json {
			g.printf("%slocation %d of %d: %s\n", map[bool]string{true: "\n"}[i > 0], i+1, len(opened), lb.Addr)
		}
		res, err := g.checkOneLocation(ctx, lb, mirrorsBesides(opened, i), creds, opts)
		if err != nil {
			return err // interrupted, or the password is wrong
		}
		results = append(results, res)
	}
	sum := allLocationsSummary{MessageType: "summary", Locations: results, Requests: g.requests()}
	if o.report != "" {
		if err := writeJSONFile(o.report, sum); err != nil {
			return err
		}
	}
	if g.json {
		if err := g.printJSON(sum); err != nil {
			return err
		}
	} else {
		g.printLocationsVerdict(results)
	}
	return locationsError(results)
}

// onceCredentials asks for the credentials once, for every location.
func onceCredentials(get func() (repo.Credentials, error)) func() (repo.Credentials, error) {
	var once sync.Once
	var c repo.Credentials
	var err error
	return func() (repo.Credentials, error) {
		once.Do(func() { c, err = get() })
		return c, err
	}
}

// mirrorsBesides returns every opened location but the i-th, as mirrors.
func mirrorsBesides(opened []access.LocationBackend, i int) []check.Mirror {
	var ms []check.Mirror
	for j, lb := range opened {
		if j != i && lb.Backend != nil {
			ms = append(ms, check.Mirror{Name: lb.Addr, Backend: lb.Backend})
		}
	}
	return ms
}

// checkOneLocation checks the repository at one location. A location that
// cannot be opened or checked is a result, not an error; only an
// interruption or refused credentials stop the whole check.
func (g *globalOptions) checkOneLocation(ctx context.Context, lb access.LocationBackend, mirrors []check.Mirror, creds func() (repo.Credentials, error), opts check.Options) (locationCheck, error) {
	res := locationCheck{Location: lb.Addr, Priority: lb.Priority}
	before := g.acc.Requests()
	defer func() { res.Requests = requestReport{Stats: g.acc.Requests().Sub(before)} }()
	if lb.Err != nil {
		res.Error = lb.Err.Error()
		g.warnf("location %s cannot be opened, so it is not checked: %v", lb.Addr, lb.Err)
		return res, nil
	}
	r, err := g.acc.OpenLocationRepo(ctx, lb, creds)
	if err != nil {
		if ctx.Err() != nil || isCredentialError(err) {
			return res, err
		}
		res.Error = err.Error()
		g.warnf("location %s holds no repository that opens, so it is not checked: %v", lb.Addr, err)
		return res, nil
	}
	defer r.Close()
	opts.Mirrors = mirrors
	rep, err := g.runCheckWithProgress(ctx, r, opts)
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		res.Error = err.Error()
		return res, nil
	}
	res.Report = rep
	if !g.json {
		res.Requests = requestReport{Stats: g.acc.Requests().Sub(before)}
		g.printCheckReport(rep, res.Requests)
	}
	return res, nil
}

// isCredentialError reports a wrong or missing password or key, which
// every location would refuse the same way.
func isCredentialError(err error) bool {
	return errors.Is(err, repo.ErrWrongPassword) || errors.Is(err, access.ErrNoCredentials)
}

// runCheckWithProgress runs one check with the progress display.
func (g *globalOptions) runCheckWithProgress(ctx context.Context, r *repo.Repository, opts check.Options) (*check.Report, error) {
	prog := &check.Progress{}
	opts.Progress = prog
	opts.Logf = func(format string, args ...any) { g.logger.Info(fmt.Sprintf(format, args...)) }
	p := g.startProgress(func() progressState {
		return progressState{Files: uint64(prog.Done.Load()), TotalFiles: uint64(prog.Total.Load()),
			Bytes: uint64(prog.Bytes.Load()), TotalBytes: uint64(prog.BytesAll.Load()),
			Errors: uint64(prog.Errors.Load()), Current: prog.Phase()}
	})
	defer p.stop()
	return check.Run(ctx, r, opts)
}

// printLocationsVerdict ends the text report: one line per location, and
// for a damaged one, where sound copies are.
func (g *globalOptions) printLocationsVerdict(results []locationCheck) {
	g.printf("\nlocations:\n")
	for _, l := range results {
		switch {
		case l.Error != "":
			g.printf("  %-50s NOT CHECKED: %s\n", l.Location, l.Error)
		case l.sound():
			g.printf("  %-50s sound\n", l.Location)
		default:
			g.printf("  %-50s DAMAGED: %d problem(s)%s\n", l.Location, len(l.Report.Problems), soundCopies(l.Report))
		}
	}
}

// objectKinds are the problems of one stored object, which another
// location may hold a sound copy of; the others (a tree or blobs that
// cannot be read, a drill) follow from those.
var objectKinds = map[check.Kind]bool{
	check.KindKeyFile: true, check.KindIndexSegment: true, check.KindPackMissing: true,
	check.KindPackSize: true, check.KindPackDamaged: true, check.KindIndexMismatch: true, check.KindSnapshot: true,
}

// soundCopies says where sound copies of a location's damaged objects are.
func soundCopies(rep *check.Report) string {
	at := map[string]int{}
	var names []string
	none := 0
	for _, p := range rep.Problems {
		switch {
		case !objectKinds[p.Kind]:
		case p.GoodCopy != "":
			if at[p.GoodCopy] == 0 {
				names = append(names, p.GoodCopy)
			}
			at[p.GoodCopy]++
		default:
			none++
		}
	}
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%d damaged object(s) sound at %s", at[n], n))
	}
	if none > 0 {
		parts = append(parts, fmt.Sprintf("%d damaged object(s) with no sound copy elsewhere", none))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// locationsError is the error of check --all-locations: damage or a
// location that could not be checked is a failure.
func locationsError(results []locationCheck) error {
	var bad []string
	for _, l := range results {
		switch {
		case l.Error != "":
			bad = append(bad, l.Location+" could not be checked")
		case !l.sound():
			fix := "see the problems listed above"
			if s := soundCopies(l.Report); s != "" && !strings.Contains(s, "no sound copy") {
				fix = "each damaged object has a sound copy in another location: copy it from there (each problem's fix names it)"
			}
			bad = append(bad, fmt.Sprintf("%s is damaged (%d problem(s); %s)", l.Location, len(l.Report.Problems), fix))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("check of every location failed: %s", strings.Join(bad, "; "))}
}
