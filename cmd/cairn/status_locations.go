package main

// The locations part of `cairn status`: the command (cmd_status.go) calls
// locationsStatus after opening the repository and prints the result with
// printLocations, or adds it to its JSON report under "locations".

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/backend"
)

// locationReport is the state of one location of a multi-location
// repository.
type locationReport struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Enabled  bool   `json:"enabled"`
	Healthy  bool   `json:"healthy"`
	Error    string `json:"error,omitempty"` // why it is unhealthy or could not be listed
	Objects  int    `json:"objects"`         // objects it holds (locks not counted)
	// Missing is its lag: objects that another location holds and it lacks.
	Missing int `json:"missing"`
	// Unremoved counts removals it missed, which sync and prune apply.
	Unremoved int `json:"unremoved,omitempty"`
}

// lagTypes are the object kinds compared; locks belong to each location.
var lagTypes = []backend.FileType{backend.ConfigFile, backend.KeyFile, backend.IndexFile, backend.SnapshotFile, backend.PackFile}

// locationsStatus lists every location of the repository and compares it
// with the union of all of them. It returns nil when the repository has a
// single location (call it after opening the repository).
func (g *globalOptions) locationsStatus(ctx context.Context) ([]locationReport, error) {
	if g.multi == nil {
		return nil, nil
	}
	locs := g.multi.Locations()
	health := g.multi.Health()
	reps := make([]locationReport, len(locs))
	holders := map[string]uint64{} // object path → bit set of locations holding it
	for i, l := range locs {
		reps[i] = locationReport{Name: l.Name, Priority: l.Priority, Enabled: l.Enabled, Healthy: health[i].Healthy}
		if !l.Enabled {
			continue
		}
		if !health[i].Healthy {
			reps[i].Error = fmt.Sprint(health[i].LastErr)
			continue
		}
		if err := countObjects(ctx, l.Backend, i, holders, &reps[i]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			reps[i].Healthy, reps[i].Error = false, err.Error()
		}
	}
	g.countPendingRemovals(reps)
	for i := range reps {
		if !reps[i].Enabled || reps[i].Error != "" {
			continue
		}
		for _, mask := range holders {
			if mask&(1<<i) == 0 {
				reps[i].Missing++
			}
		}
	}
	return reps, nil
}

// countObjects lists one location into holders under bit i.
func countObjects(ctx context.Context, be backend.Backend, i int, holders map[string]uint64, rep *locationReport) error {
	if i >= 64 {
		return fmt.Errorf("more than 64 locations")
	}
	for _, t := range lagTypes {
		err := be.List(ctx, t, func(fi backend.FileInfo) error {
			holders[backend.Path(backend.Handle{Type: t, Name: fi.Name})] |= 1 << i
			rep.Objects++
			return nil
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", t, err)
		}
	}
	return nil
}

// printLocations writes the locations section of the status report.
func (g *globalOptions) printLocations(reps []locationReport) {
	if len(reps) == 0 {
		return
	}
	g.printf("locations:\n")
	for _, r := range reps {
		state := "healthy"
		switch {
		case !r.Enabled:
			state = "disabled"
		case !r.Healthy:
			state = "UNHEALTHY: " + r.Error
			if r.Unremoved > 0 {
				state += fmt.Sprintf("; %d removal(s) missed wait for it (sync or prune applies them when it is back)", r.Unremoved)
			}
		case r.Missing > 0 || r.Unremoved > 0:
			state = fmt.Sprintf("LAGGING: %d object(s) missing, %d removal(s) missed; run `cairn sync`", r.Missing, r.Unremoved)
		}
		g.printf("  %d  %-50s %6d objects  %s\n", r.Priority, r.Name, r.Objects, state)
	}
}

// countPendingRemovals fills in the removals each location missed.
func (g *globalOptions) countPendingRemovals(reps []locationReport) {
	j, err := g.removalJournal(g.repoID)
	if err != nil {
		return
	}
	list, err := j.Pending()
	if err != nil {
		g.warnf("%v", err)
		return
	}
	for _, p := range list {
		for i := range reps {
			if reps[i].Name == p.Location {
				reps[i].Unremoved++
			}
		}
	}
}
