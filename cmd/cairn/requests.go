package main

import (
	"strings"

	"github.com/cairnbackup/cairn/access"
	"github.com/cairnbackup/cairn/backend/counted"
)

// requestReport is what a command sent to storage: the total, and each
// location's share when it used several. In JSON the total's fields come
// first, then "locations".
type requestReport struct {
	counted.Stats
	Locations []access.LocationRequests `json:"locations,omitempty"`
}

// requests returns the requests sent so far.
func (g *globalOptions) requests() requestReport {
	r := requestReport{Stats: g.acc.Requests()}
	if byLoc := g.acc.RequestsByLocation(); len(byLoc) > 1 {
		r.Locations = byLoc
	}
	return r
}

// String is the total, then one indented line per location:
//
//	12 PUT, 3 GET, ...
//	  /srv/backup: 6 PUT, 3 GET, ...
//	  azure:acct/backups/web1: 6 PUT, 0 GET, ...
func (r requestReport) String() string {
	var b strings.Builder
	b.WriteString(r.Stats.String())
	for _, l := range r.Locations {
		b.WriteString("\n  " + l.Location + ": " + l.Stats.String())
	}
	return b.String()
}
