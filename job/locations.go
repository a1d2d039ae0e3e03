package job

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

// LocationCheck is the result of checking one location on its own.
type LocationCheck struct {
	Location string        `json:"location"`
	Priority int           `json:"priority"`
	Error    string        `json:"error,omitempty"` // it could not be opened or checked
	Report   *check.Report `json:"report,omitempty"`
	// Requests are those of this location's check, the mirrors asked for
	// sound copies included.
	Requests access.RequestStats `json:"requests"`
}

// Sound reports whether the location was checked and found undamaged.
func (l LocationCheck) Sound() bool { return l.Error == "" && l.Report != nil && !l.Report.Damaged() }

// LocationsOptions tune CheckLocations.
type LocationsOptions struct {
	// Before is told which location is checked next (for a heading).
	Before func(i, n int, addr string)
	// After is told each location's result.
	After func(LocationCheck)
	// Run runs one check (nil: check.Run), to show its progress.
	Run func(ctx context.Context, r *repo.Repository, opts check.Options) (*check.Report, error)
	// Warn is told about locations that cannot be checked.
	Warn func(msg string)
}

// CheckLocations checks every enabled location of o's repository in
// turn, as a repository of its own (with a cache of its own), asking the
// other locations for sound copies of whatever is damaged. A location
// that cannot be opened or checked is a result, not an error; only an
// interruption or refused credentials stop it.
func CheckLocations(ctx context.Context, o *access.Opener, opts check.Options, lo LocationsOptions) ([]LocationCheck, error) {
	if lo.Run == nil {
		lo.Run = func(ctx context.Context, r *repo.Repository, opts check.Options) (*check.Report, error) {
			return check.Run(ctx, r, opts)
		}
	}
	if lo.Warn == nil {
		lo.Warn = func(string) {}
	}
	opened, err := o.OpenEachLocation(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, lb := range opened {
			if lb.Backend != nil {
				lb.Backend.Close()
			}
		}
	}()
	creds := onceCredentials(func() (repo.Credentials, error) { return o.Credentials(false) })
	var results []LocationCheck
	for i, lb := range opened {
		if lo.Before != nil {
			lo.Before(i, len(opened), lb.Addr)
		}
		res, err := checkLocation(ctx, o, lb, mirrorsBesides(opened, i), creds, opts, lo)
		if err != nil {
			return results, err
		}
		if lo.After != nil {
			lo.After(res)
		}
		results = append(results, res)
	}
	return results, nil
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

// isCredentialError reports a wrong or missing password or key, which
// every location would refuse the same way.
func isCredentialError(err error) bool {
	return errors.Is(err, repo.ErrWrongPassword) || errors.Is(err, access.ErrNoCredentials)
}

func checkLocation(ctx context.Context, o *access.Opener, lb access.LocationBackend, mirrors []check.Mirror, creds func() (repo.Credentials, error), opts check.Options, lo LocationsOptions) (LocationCheck, error) {
	res := LocationCheck{Location: lb.Addr, Priority: lb.Priority}
	before := o.Requests()
	defer func() { res.Requests = o.Requests().Sub(before) }()
	if lb.Err != nil {
		res.Error = lb.Err.Error()
		lo.Warn(fmt.Sprintf("location %s cannot be opened, so it is not checked: %v", lb.Addr, lb.Err))
		return res, nil
	}
	r, err := o.OpenLocationRepo(ctx, lb, creds)
	if err != nil {
		if ctx.Err() != nil || isCredentialError(err) {
			return res, err
		}
		res.Error = err.Error()
		lo.Warn(fmt.Sprintf("location %s holds no repository that opens, so it is not checked: %v", lb.Addr, err))
		return res, nil
	}
	defer r.Close()
	opts.Mirrors = mirrors
	rep, err := lo.Run(ctx, r, opts)
	if err != nil {
		if ctx.Err() != nil {
			return res, err
		}
		res.Error = err.Error()
		return res, nil
	}
	res.Report = rep
	res.Requests = o.Requests().Sub(before)
	return res, nil
}

// objectKinds are the problems of one stored object, which another
// location may hold a sound copy of; the others (a tree or blobs that
// cannot be read, a drill) follow from those.
var objectKinds = map[check.Kind]bool{
	check.KindKeyFile: true, check.KindIndexSegment: true, check.KindPackMissing: true,
	check.KindPackSize: true, check.KindPackDamaged: true, check.KindIndexMismatch: true, check.KindSnapshot: true,
}

// SoundCopies says where sound copies of a location's damaged objects
// are ("" when the report names none).
func SoundCopies(rep *check.Report) string {
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

// LocationsError is the error of checking every location: damage, or a
// location that could not be checked.
func LocationsError(results []LocationCheck) error {
	var bad []string
	for _, l := range results {
		switch {
		case l.Error != "":
			bad = append(bad, l.Location+" could not be checked")
		case !l.Sound():
			fix := "see the problems listed above"
			if s := SoundCopies(l.Report); s != "" && !strings.Contains(s, "no sound copy") {
				fix = "each damaged object has a sound copy in another location: copy it from there (each problem's fix names it)"
			}
			bad = append(bad, fmt.Sprintf("%s is damaged (%d problem(s); %s)", l.Location, len(l.Report.Problems), fix))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("check of every location failed: %s", strings.Join(bad, "; "))
}
