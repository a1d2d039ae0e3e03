// Package prune is cairn's garbage collector: it frees the storage that no
// snapshot uses any more, without ever blocking the snapshots that other
// processes are writing meanwhile.
//
// A prune is a plan and its execution. PlanPrune marks every blob that the
// snapshots use (walking each tree once into a disk-backed set), walks the
// whole index beside that set, and decides what happens to every pack:
//
//   - packs whose unused share is above Options.MaxUnused, small packs
//     (Options.RepackSmall) and packs holding damaged blobs are repacked:
//     their used blobs are copied into new packs, and the old packs are
//     condemned;
//   - packs nothing uses, and packs in storage that no index names
//     (left by interrupted runs), are condemned;
//   - a condemned pack that a snapshot uses again (it was written by a
//     process that deduplicated against the pack before it was condemned)
//     is revived;
//   - a condemned pack is deleted once its grace period
//     (Options.KeepDelete) has passed and every session that started
//     before its condemnation has ended.
//
// Execute carries a plan out in an order that leaves a repository that
// check passes whenever it stops: new packs and their index first, then a
// compacted index (condemnations first) written before any old segment is
// removed, and packs deleted last. Writers that read the index before a
// condemnation hold a session lock that started before it (repo.Lock reads
// the index again after writing a session), which is why a condemned pack
// waits for those sessions.
package prune

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/cairnbackup/cairn/repo"
)

// Defaults of the options.
const (
	DefaultMaxUnused  = 0.05
	DefaultKeepDelete = 24 * time.Hour
	// SmallPackShare: with RepackSmall, packs below this share of the
	// repository's target pack size are repacked together.
	SmallPackShare = 0.8
)

// SessionMargin is added to a condemnation's time when deciding whether a
// session started before it: it covers the write of the condemnations
// (bounded by maxCondemnWrite) and the difference between the clocks of
// the hosts that share the repository, which must stay below the rest.
const SessionMargin = 30 * time.Minute

// maxCondemnWrite bounds how long writing the condemnations may take; a
// slower write is undone, since a writer could have started in between
// without seeing them or being counted as older than them.
const maxCondemnWrite = 10 * time.Minute

// Options tune a prune.
type Options struct {
	// KeepRecords is how many history records of each kind, job and host
	// are kept (0: repo.MaxRecords).
	KeepRecords int
	// MaxUnused is the share of a pack's bytes that may be unused (blobs
	// no snapshot uses, or second copies) before the pack is repacked.
	MaxUnused float64
	// MaxRepackBytes bounds the bytes of used blobs copied in one run
	// (0: no bound). Packs with the largest unused share go first.
	MaxRepackBytes int64
	// RepackSmall also repacks packs smaller than SmallPackShare of the
	// target pack size, when there are at least two of a kind.
	RepackSmall bool
	// KeepDelete is the grace period of a condemned pack.
	KeepDelete time.Duration
	// InstantDelete deletes what nothing uses in the same run, without a
	// grace period and without waiting for sessions: only for a repository
	// that no other process ever writes to.
	InstantDelete bool
	// Damaged reports blobs that the last check found damaged in a pack
	// (nil: none). A pack holding a damaged blob that no snapshot uses is
	// repacked, so that the damage leaves storage; another copy is kept
	// rather than a damaged one; a damaged blob that a snapshot uses and
	// has no other copy is reported in Plan.Warnings (repair snapshots
	// drops the files that need it).
	Damaged func(pack repo.ID, t repo.BlobType, id repo.ID) bool
	// CompleteView, if set, reports whether the storage the prune sees is
	// the whole repository: a repository kept in several locations, one of
	// which is unavailable, answers with an error naming it. Without the
	// whole view a snapshot only that location holds may use what looks
	// unused, so then nothing is deleted or dropped from the index (repack,
	// condemn, revive and compaction still run); --instant-delete waits too.
	CompleteView func() error
	// Progress, if set, is updated as the prune goes.
	Progress *Progress
	// Logger receives notices; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options of a plain `cairn prune`.
func DefaultOptions() Options {
	return Options{MaxUnused: DefaultMaxUnused, KeepDelete: DefaultKeepDelete}
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

// Repo is what a prune needs from a repository.
type Repo interface {
	Now() time.Time
	Config() repo.Config
	LiveSessions(ctx context.Context) ([]repo.LockInfo, error)
	Snapshots(ctx context.Context, onError func(repo.ID, error) error) ([]*repo.Snapshot, error)
	SyncIndex(ctx context.Context) error
	LoadTree(ctx context.Context, id repo.ID) (*repo.Tree, error)

	NewBlobSet(expected int) *repo.BlobSet
	IndexCounts() (packs, blobs int, err error)
	JoinBlobs(ctx context.Context, marks *repo.BlobSet, fn func(*repo.JoinedBlob) error) error
	ForEachCondemnation(ctx context.Context, fn func(repo.Condemnation) error) error
	ForEachIndexedPack(ctx context.Context, fn func(repo.IndexedPack) error) error
	ForEachIndexedPackContents(ctx context.Context, fn func(repo.IndexedPack, repo.PackContents) error) error
	IndexedPackContents(id repo.ID) (repo.PackContents, bool, error)
	CachedIndexSegments() ([]repo.ID, error)
	ListPacks(ctx context.Context, fn func(repo.StoredPack) error) error

	ReadPack(ctx context.Context, id repo.ID, offset int64, length int, fn func(io.Reader) error) error
	OpenBlobAt(loc repo.BlobLocation, bufs *repo.OpenBuffers) ([]byte, error)
	SaveSealedBlob(ctx context.Context, e repo.BlobEntry, sealedBytes []byte) error
	Flush(ctx context.Context) error
	SaveIndexSegment(ctx context.Context, seg *repo.IndexSegment) (repo.ID, error)
	RemoveIndexSegment(ctx context.Context, id repo.ID) error
	RemovePack(ctx context.Context, id repo.ID) error
	TrimHistory(ctx context.Context, keep int) (repo.HistoryTrim, error)
}

var _ Repo = (*repo.Repository)(nil)

// Run plans a prune and carries it out. The caller holds the prune lock
// and runs under its context.
func Run(ctx context.Context, r Repo, opts Options) (*Plan, Result, error) {
	plan, err := PlanPrune(ctx, r, opts)
	if err != nil {
		return nil, Result{}, err
	}
	res, err := Execute(ctx, r, plan, opts)
	return plan, res, err
}
