package access

import (
	"context"
	"fmt"

	"github.com/cairnbackup/cairn/backend"
)

// LocationReport is the state of one location of a repository kept in
// several locations.
type LocationReport struct {
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

// LocationsStatus lists every location of the repository opened and
// compares it with the union of all of them. It returns nil for a
// repository with a single location.
func (o *Opener) LocationsStatus(ctx context.Context) ([]LocationReport, error) {
	m := o.Multi()
	if m == nil {
		return nil, nil
	}
	locs := m.Locations()
	health := m.Health()
	reps := make([]LocationReport, len(locs))
	holders := map[string]uint64{} // object path → bit set of locations holding it
	for i, l := range locs {
		reps[i] = LocationReport{Name: l.Name, Priority: l.Priority, Enabled: l.Enabled, Healthy: health[i].Healthy}
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
	if err := o.countPendingRemovals(reps); err != nil {
		o.warn("%v", err)
	}
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
func countObjects(ctx context.Context, be backend.Backend, i int, holders map[string]uint64, rep *LocationReport) error {
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

// countPendingRemovals fills in the removals each location missed.
func (o *Opener) countPendingRemovals(reps []LocationReport) error {
	j, err := o.Journal()
	if err != nil || j == nil {
		return err
	}
	list, err := j.Pending()
	if err != nil {
		return err
	}
	for _, p := range list {
		for i := range reps {
			if reps[i].Name == p.Location {
				reps[i].Unremoved++
			}
		}
	}
	return nil
}
