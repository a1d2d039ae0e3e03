// Package policy decides which snapshots a retention policy keeps.
//
// It is a pure function: snapshot facts and rules in, kept and removed
// snapshots out, each kept snapshot with the rules that kept it. Nothing here
// reads a clock or a repository; the one instant that matters besides the
// snapshots (the present, which tells which snapshots lie in the future) is a
// parameter of [Apply].
//
// The rules mean what restic 0.19's forget rules mean, bucket for bucket:
//
//   - Snapshots are considered newest first. Each counted rule (last, hourly,
//     daily, weekly, monthly, yearly) keeps the newest snapshot of each new
//     bucket it meets until its count is used up; -1 never runs out.
//   - Buckets are calendar periods of the snapshot's own wall clock: the hour,
//     day, ISO 8601 week (Monday to Sunday, numbered in its ISO year), month
//     or year that Snapshot.Time shows in Snapshot.Time.Location(). A snapshot
//     taken at 00:30 +02:00 belongs to that day even where it is still the
//     previous day in UTC. Callers must therefore keep the offset a snapshot
//     was recorded with; see [Snapshot].
//   - A counted or within-* rule that still has room when it reaches the
//     oldest snapshot of the group keeps it too, even when its bucket is
//     already taken (restic: "oldest daily snapshot"); the [Reason] says so.
//   - Durations (keep-within and keep-within-*) count back from the newest
//     snapshot of the group that is not in the future, never from the present.
//     Snapshots strictly after that cutoff are within.
//   - A snapshot may be kept by several rules; every one is listed.
//
// Grouping ([GroupSnapshots]) splits snapshots by host, paths and tags, as
// restic's --group-by does; rules apply to each group on its own.
package policy
