package main

import (
	"fmt"
	"strconv"

	"github.com/cairnbackup/cairn/check"
)

// printCheckReport writes a check's result for people: what was looked
// at, then every problem with the files it affects and what to do.
func (g *globalOptions) printCheckReport(rep *check.Report, req requestReport) {
	st := rep.Structure
	g.printf("repository %s at %s\n", rep.RepositoryID.Short(), rep.Repository)
	headers := fmt.Sprintf("%d pack header(s) compared with the index", st.HeadersChecked)
	if rep.ReadData != nil && rep.ReadData.Subset == "all" {
		headers = "pack headers compared by read-data"
	}
	g.printf("structure: %d key file(s), %d index segment(s), %d pack(s) (%s), %d snapshot(s), %d tree(s), %d data blob reference(s); %s\n",
		st.KeyFiles, st.IndexSegments, st.Packs, formatBytes(uint64(st.PackBytes)), st.Snapshots, st.Trees, st.DataBlobRefs, headers)
	if rd := rep.ReadData; rd != nil {
		rate := 0.0
		if rd.Seconds > 0 {
			rate = float64(rd.Bytes) / 1e6 / rd.Seconds
		}
		g.printf("read-data (%s): %d of %d pack(s) read, %s in %s (%.1f MB/s), %d blob(s) verified, %d pack(s) damaged\n",
			rd.Subset, rd.Packs, rd.Eligible, formatBytes(uint64(rd.Bytes)), formatSeconds(rd.Seconds), rate, rd.Blobs, rd.Damaged)
	}
	for _, d := range rep.Drills {
		g.printDrill(d)
	}
	if gb := rep.Garbage; gb.Packs > 0 {
		g.printf("garbage: %d pack(s) (%s) that no index names: not damage (left by interrupted runs); prune removes them\n",
			gb.Packs, formatBytes(uint64(gb.Bytes)))
	}
	for _, n := range rep.Notes {
		g.printf("note: %s\n", n)
	}
	g.printf("storage: %s\n", req)
	for _, p := range rep.Problems {
		g.printProblem(p)
	}
	if rep.Damaged() {
		g.printf("\n%d problem(s) found\n", len(rep.Problems))
	} else {
		g.printf("no damage found\n")
	}
}

func (g *globalOptions) printDrill(d check.DrillResult) {
	what := "restored and verified"
	switch {
	case d.TimedOut:
		what = "restored before the timeout (drill incomplete)"
	case len(d.Failures) > 0:
		what = "restored; SOME DIFFER from the snapshot"
	}
	sample := ""
	if d.Sample > 0 && d.Sample < 100 {
		sample = " (a " + formatPercent(d.Sample) + " sample)"
	}
	g.printf("drill: snapshot %s of %s%s: %d file(s), %s %s in %s\n", d.Snapshot.Short(),
		d.Time.Local().Format(timeLayout), sample, d.Files, formatBytes(d.Bytes), what, formatSeconds(d.Seconds))
	if len(d.Warnings) > 0 {
		g.printf("  %d entry(ies) lack metadata this user may not set (e.g. %s: %s)\n", len(d.Warnings), d.Warnings[0].Path, d.Warnings[0].Fault)
	}
}

// maxAffectedShown bounds the affected files printed per problem.
const maxAffectedShown = 20

func (g *globalOptions) printProblem(p *check.Problem) {
	g.printf("\nDAMAGE %s %s\n", p.Kind, p.Object)
	for _, f := range p.Faults {
		g.printf("  %s\n", f)
	}
	if p.AffectedTotal > 0 {
		g.printf("  affects %d file(s) or folder(s):\n", p.AffectedTotal)
		for i, a := range p.Affected {
			if i == maxAffectedShown {
				g.printf("    … and %d more (see --json or --report)\n", p.AffectedTotal-i)
				break
			}
			path := a.Path
			if a.Folder {
				path += " (folder contents)"
			}
			g.printf("    snapshot %s of %s: %s\n", a.Snapshot.Short(), a.Time.Local().Format(timeLayout), path)
		}
	} else if p.BlobsTotal > 0 {
		g.printf("  %d blob(s) damaged; no snapshot uses them\n", p.BlobsTotal)
	}
	if p.GoodCopy != "" {
		g.printf("  a sound copy is at %s\n", p.GoodCopy)
	}
	g.printf("  fix: %s\n", p.Fix)
}

// formatSeconds prints a short duration: milliseconds below a second
// (so a quick drill does not read "0.0s"), else seconds with a tenth.
func formatSeconds(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(s*1000, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + "s"
}

func formatPercent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}
