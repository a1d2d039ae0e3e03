// Package index holds the repository's index: the immutable index segments
// stored under index/ (encoded and decoded here, sealed by the caller) and
// the local lookup cache, a disposable bbolt file per repository that maps
// blob ids to their locations in packs.
//
// # Segments
//
// A Segment lists packs with their blobs, and condemnations (packs a prune
// found dead). Its byte layout is documented on Segment. Segments overlap:
// during prune's rewrite window and after "repair index" two segments may
// name the same pack, and concurrent writers may store the same blob in
// two packs.
//
// # The cache
//
// Cache.Sync makes the cache hold exactly the segments the repository
// lists; Cache.Add ingests one the caller has just written. A pack is
// known while some ingested segment names it, and condemned while some
// ingested segment condemns it; Lookup treats a blob that lives only in
// condemned packs as absent, so writers store it again.
//
// The cache is built to keep a process's memory flat however large the
// repository grows, and to stay correct whatever happens to the process:
//
//   - Ingest is split into bounded transactions. Blob rows are written in
//     key order through an external radix sort (sorter.go), so a leaf page
//     is rewritten once per Sync rather than once per row.
//   - Rows of packs being ingested are hidden until the ingest completes,
//     and rows of forgotten packs are hidden before they are removed, so
//     every committed transaction leaves the cache answering truthfully;
//     the next Sync or Add finishes interrupted work (see layout.go).
//   - Writes skip fsync; a marker file tells a system crash during
//     unsynced writes (rebuild) from a killed process (carry on).
//   - Lookups read leaf pages with pread instead of through bbolt's memory
//     map (direct.go), and other reads drop the mapped pages they touched
//     once the process holds more than CacheOptions.MaxMapped of them
//     (pager.go), so mapped pages of a cache file many times larger than
//     memory do not pile up in the resident set.
//
// Go's garbage collector lets the heap grow to twice what is live; a
// process that must stay within a hard limit should also set a memory
// limit (GOMEMLIMIT or debug.SetMemoryLimit).
package index
