package repo_test

// Per-stage throughput of the write path (chunk, hash, compress, seal, and
// the reverse for verification), of reading and writing files through the
// page cache, on random and on log-like data, and save throughput end to
// end into a local repository.
//
//	go test ./repo -run XXX -bench 'Stage|SaveBlobLocal' -benchtime 3x
//
// Every benchmark processes stageInputSize bytes per iteration and reports
// MB/s of plaintext. Run one benchmark process at a time: they use all cores.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/cairnbackup/cairn/backend"
	"github.com/cairnbackup/cairn/backend/local"
	"github.com/cairnbackup/cairn/backend/mem"
	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/crypto"
	"github.com/cairnbackup/cairn/internal/kdftest"
	"github.com/cairnbackup/cairn/pack"
	"github.com/cairnbackup/cairn/repo"
)

const stageInputSize = 64 << 20

// stagePolynomial is restic's test polynomial, so that the chunk boundaries
// of the stage benchmarks are the same on every run.
const stagePolynomial = 0x3DA3358B4DC173

var (
	stageCreds = repo.Credentials{Password: []byte("stage benchmark")}
)

// stageRandom returns stageInputSize bytes of incompressible data.
var stageRandom = sync.OnceValue(func() []byte {
	b := make([]byte, stageInputSize)
	r := rand.NewChaCha8([32]byte{'c', 'a', 'i', 'r', 'n'})
	_, _ = r.Read(b)
	return b
})

// stageLogs returns stageInputSize bytes of application log lines.
var stageLogs = sync.OnceValue(func() []byte { return logLines(1, stageInputSize) })

// logLines returns n bytes of realistic, deterministic log lines: an
// access log of an HTTP service with request ids, paths, statuses and
// latencies, interleaved with debug, warning and error lines, some of them
// with stack traces. They compress about as well as real logs (4-8×), not
// as well as repeated text.
func logLines(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x1095))
	methods := []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH"}
	resources := []string{"users", "orders", "invoices", "products", "sessions", "carts", "payments", "reports"}
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"curl/8.5.0", "python-requests/2.32.3", "Go-http-client/2.0", "kube-probe/1.31",
	}
	services := []string{"api-7f9c4", "api-b21d8", "worker-03", "worker-11", "billing-5c"}
	statuses := []int{200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 404, 409, 422, 500, 502, 503}
	errs := []string{
		"context deadline exceeded",
		"pq: duplicate key value violates unique constraint \"orders_pkey\"",
		"dial tcp 10.0.4.21:5432: connect: connection refused",
		"redis: connection pool timeout",
		"json: cannot unmarshal string into Go struct field Order.total of type int64",
	}
	t := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	b := make([]byte, 0, n+4096)
	for len(b) < n {
		t = t.Add(time.Duration(r.IntN(40_000)) * time.Microsecond)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		svc := services[r.IntN(len(services))]
		reqID := r.Uint64()
		switch p := r.IntN(100); {
		case p < 72:
			method := methods[r.IntN(len(methods))]
			res := resources[r.IntN(len(resources))]
			status := statuses[r.IntN(len(statuses))]
			b = fmt.Appendf(b, " INFO  %s [req=%016x] %s /api/v2/%s/%d", svc, reqID, method, res, r.IntN(200_000))
			if r.IntN(3) == 0 {
				b = fmt.Appendf(b, "/%s?page=%d&limit=%d", resources[r.IntN(len(resources))], r.IntN(50), 25*(1+r.IntN(4)))
			}
			b = fmt.Appendf(b, " status=%d bytes=%d duration=%.3fms ip=10.%d.%d.%d ua=%q\n",
				status, r.IntN(64_000), r.ExpFloat64()*35, r.IntN(8), r.IntN(256), r.IntN(256), agents[r.IntN(len(agents))])
		case p < 87:
			b = fmt.Appendf(b, " DEBUG %s [req=%016x] cache %s key=%s:%d ttl=%ds\n",
				svc, reqID, []string{"hit", "hit", "miss"}[r.IntN(3)], resources[r.IntN(len(resources))], r.IntN(200_000), 60*(1+r.IntN(30)))
		case p < 96:
			b = fmt.Appendf(b, " WARN  %s [req=%016x] slow query took %dms: SELECT * FROM %s WHERE id = $1 AND tenant_id = $2 (rows=%d)\n",
				svc, reqID, 500+r.IntN(4500), resources[r.IntN(len(resources))], r.IntN(1000))
		default:
			b = fmt.Appendf(b, " ERROR %s [req=%016x] handler failed: %s\n", svc, reqID, errs[r.IntN(len(errs))])
			if r.IntN(2) == 0 {
				b = fmt.Appendf(b, "\tgoroutine %d [running]:\n\tmain.(*Server).handle%s(0xc%09x, {0x%x, 0xc%09x})\n\t\t/src/app/server.go:%d +0x%x\n\tnet/http.HandlerFunc.ServeHTTP(...)\n\t\t/usr/local/go/src/net/http/server.go:2220\n",
					r.IntN(100_000), resources[r.IntN(len(resources))], r.Uint32(), r.Uint32(), r.Uint32(), 100+r.IntN(900), r.IntN(4096))
			}
		}
	}
	return b[:n]
}

// stageData is one input prepared for the stage benchmarks. Each derived
// form is computed the first time a stage needs it.
type stageData struct {
	name     string
	data     []byte
	cacheDir string // for the index cache of the repository behind "verify"

	chunks func() [][]byte
	ids    func() []crypto.ID
	sealed func() [][]byte // each chunk sealed as is, for "open"

	storeOnce sync.Once
	stored    []storedBlob     // each chunk saved through a repository, for "verify"
	repo      *repo.Repository // that repository, kept open for OpenBlob
	storeErr  error
}

type storedBlob struct {
	entry pack.Entry
	bytes []byte
}

var stageMaster = sync.OnceValue(func() *crypto.MasterKey { return crypto.NewMasterKey(stagePolynomial) })

func newStageData(name string, data []byte, cacheDir string) *stageData {
	d := &stageData{name: name, data: data, cacheDir: cacheDir}
	d.chunks = sync.OnceValue(func() [][]byte {
		var out [][]byte
		c := chunk.New(stagePolynomial)
		c.Reset(bytes.NewReader(data))
		off := 0
		for {
			b, err := c.Next()
			if err != nil {
				return out
			}
			out = append(out, data[off:off+len(b)]) // Next's slice is reused
			off += len(b)
		}
	})
	d.ids = sync.OnceValue(func() []crypto.ID {
		ids := make([]crypto.ID, len(d.chunks()))
		for i, c := range d.chunks() {
			ids[i] = stageMaster().BlobID(c)
		}
		return ids
	})
	d.sealed = sync.OnceValue(func() [][]byte {
		out := make([][]byte, len(d.chunks()))
		for i, c := range d.chunks() {
			out[i] = stageMaster().Sealer().Seal(nil, c, pack.BlobAD(pack.DataBlob, d.ids()[i]))
		}
		return out
	})
	return d
}

// storedBlobs saves the chunks into a repository in memory (default
// compression) once, and returns each blob's entry and sealed bytes as a
// reader finds them.
func (d *stageData) storedBlobs(b *testing.B) []storedBlob {
	d.storeOnce.Do(func() { d.stored, d.repo, d.storeErr = storeThroughRepository(d.chunks(), d.cacheDir) })
	if d.storeErr != nil {
		b.Fatal(d.storeErr)
	}
	return d.stored
}

func (d *stageData) close() {
	if d.repo != nil {
		d.repo.Close()
	}
}

func storeThroughRepository(chunks [][]byte, cacheDir string) ([]storedBlob, *repo.Repository, error) {
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Init(ctx, be, stageCreds, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: cacheDir, NoVerify: true})
	if err != nil {
		return nil, nil, err
	}
	ids := make([]crypto.ID, len(chunks))
	for i, c := range chunks {
		if ids[i], _, err = r.SaveBlob(ctx, repo.DataBlob, c); err != nil {
			r.Close()
			return nil, nil, err
		}
	}
	if err := r.Flush(ctx); err != nil {
		r.Close()
		return nil, nil, err
	}
	out := make([]storedBlob, len(chunks))
	for i, id := range ids {
		loc, err := r.LookupBlob(repo.DataBlob, id)
		if err != nil {
			r.Close()
			return nil, nil, err
		}
		h := backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}
		b, err := backend.LoadRange(ctx, be, h, int(loc.Length), int64(loc.Offset))
		if err != nil {
			r.Close()
			return nil, nil, err
		}
		out[i] = storedBlob{entry: loc.Entry, bytes: b}
	}
	return out, r, nil
}

// stageEncoder returns a zstd encoder configured as the repository's blob
// codec configures it in newBlobCodec (repo/blob.go): keep the two in step.
func stageEncoder(b *testing.B, level zstd.EncoderLevel) *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false), zstd.WithWindowSize(2<<20))
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

// stages are the steps of the write path (and of verification), each run
// over a whole input per iteration.
var stages = []struct {
	name string
	run  func(b *testing.B, d *stageData)
}{
	{"chunk", func(b *testing.B, d *stageData) {
		c := chunk.New(stagePolynomial)
		n := 0
		for b.Loop() {
			c.Reset(bytes.NewReader(d.data))
			for n = 0; ; n++ {
				if _, err := c.Next(); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n), "chunks")
	}},
	{"blobid", func(b *testing.B, d *stageData) {
		m, chunks := stageMaster(), d.chunks()
		b.ResetTimer()
		for b.Loop() {
			for _, c := range chunks {
				m.BlobID(c)
			}
		}
	}},
	{"contenthash", func(b *testing.B, d *stageData) {
		chunks := d.chunks()
		b.ResetTimer()
		for b.Loop() {
			h := crypto.NewHasher()
			for _, c := range chunks {
				h.Write(c)
			}
			crypto.IDFromHasher(h)
		}
	}},
	{"compress-fastest", func(b *testing.B, d *stageData) { benchCompress(b, d, zstd.SpeedFastest) }},
	{"compress-default", func(b *testing.B, d *stageData) { benchCompress(b, d, zstd.SpeedDefault) }},
	{"seal", func(b *testing.B, d *stageData) {
		k, chunks, ids := stageMaster().Sealer(), d.chunks(), d.ids()
		buf := make([]byte, 0, chunk.MaxSize+crypto.Overhead)
		b.ResetTimer()
		for b.Loop() {
			for i, c := range chunks {
				buf = k.Seal(buf[:0], c, pack.BlobAD(pack.DataBlob, ids[i]))
			}
		}
	}},
	{"open", func(b *testing.B, d *stageData) {
		k, sealed, ids := stageMaster().Sealer(), d.sealed(), d.ids()
		buf := make([]byte, 0, chunk.MaxSize)
		b.ResetTimer()
		for b.Loop() {
			for i, s := range sealed {
				var err error
				if buf, err = k.Open(buf[:0], s, pack.BlobAD(pack.DataBlob, ids[i])); err != nil {
					b.Fatal(err)
				}
			}
		}
	}},
	{"verify", func(b *testing.B, d *stageData) {
		// What SaveBlob does after sealing, and LoadBlob after reading:
		// authenticate, decompress, check the length and the blob id.
		stored := d.storedBlobs(b)
		var sealedLen int64
		for _, s := range stored {
			sealedLen += int64(len(s.bytes))
		}
		buf := make([]byte, 0, chunk.MaxSize)
		b.ResetTimer()
		for b.Loop() {
			for _, s := range stored {
				var err error
				if buf, err = d.repo.OpenBlob(s.entry, s.bytes, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(sealedLen)/float64(len(d.data)), "stored/raw")
	}},
	{"read", func(b *testing.B, d *stageData) {
		// What a snapshot pays the kernel to read a file from the page
		// cache, in the archiver's 1 MiB reads.
		path := filepath.Join(b.TempDir(), "data")
		if err := os.WriteFile(path, d.data, 0o600); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		b.ResetTimer()
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := f.Read(buf); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		}
	}},
	{"write", func(b *testing.B, d *stageData) {
		// What a restore pays the kernel to write a new file into the
		// page cache, a chunk at a time at its offset (the last file is
		// removed outside the timing).
		path, chunks := filepath.Join(b.TempDir(), "data"), d.chunks()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				b.Fatal(err)
			}
			b.StartTimer()
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			var off int64
			for _, c := range chunks {
				if _, err := f.WriteAt(c, off); err != nil {
					b.Fatal(err)
				}
				off += int64(len(c))
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}},
}

func benchCompress(b *testing.B, d *stageData, level zstd.EncoderLevel) {
	enc := stageEncoder(b, level)
	defer enc.Close()
	chunks := d.chunks()
	buf := make([]byte, 0, chunk.MaxSize)
	var out int
	b.ResetTimer()
	for b.Loop() {
		out = 0
		for _, c := range chunks {
			buf = enc.EncodeAll(c, buf[:0])
			out += min(len(buf), len(c)) // stored raw when compression does not pay
		}
	}
	b.ReportMetric(float64(out)/float64(len(d.data)), "stored/raw")
}

// BenchmarkStage measures each stage of the write path on its own.
func BenchmarkStage(b *testing.B) {
	sets := []*stageData{
		newStageData("random", stageRandom(), b.TempDir()),
		newStageData("logs", stageLogs(), b.TempDir()),
	}
	defer func() {
		for _, d := range sets {
			d.close()
		}
	}()
	for _, st := range stages {
		b.Run(st.name, func(b *testing.B) {
			for _, d := range sets {
				b.Run(d.name, func(b *testing.B) {
					b.SetBytes(int64(len(d.data)))
					st.run(b, d)
				})
			}
		})
	}
}

// BenchmarkSaveBlobLocal chunks the input with the repository's polynomial
// and saves every chunk into a new local repository (default compression,
// verification on), then flushes: the write path end to end, on one stream.
func BenchmarkSaveBlobLocal(b *testing.B) {
	for _, in := range []struct {
		name string
		data func() []byte
	}{{"random", stageRandom}, {"logs", stageLogs}} {
		b.Run(in.name, func(b *testing.B) {
			data := in.data()
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			var stored int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				be, err := local.Create(filepath.Join(b.TempDir(), "repo"))
				if err != nil {
					b.Fatal(err)
				}
				r, err := repo.Init(ctx, be, stageCreds, repo.InitOptions{KDF: kdftest.Cheap}, repo.Options{CacheDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				c := chunk.New(r.Config().Polynomial)
				b.StartTimer()

				stored = 0
				c.Reset(bytes.NewReader(data))
				for {
					blob, err := c.Next()
					if errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						b.Fatal(err)
					}
					_, n, err := r.SaveBlob(ctx, repo.DataBlob, blob)
					if err != nil {
						b.Fatal(err)
					}
					stored += n
				}
				if err := r.Flush(ctx); err != nil {
					b.Fatal(err)
				}

				b.StopTimer()
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(stored)/float64(len(data)), "stored/raw")
		})
	}
}

func TestLogLinesDeterministic(t *testing.T) {
	a, b := logLines(7, 1<<16), logLines(7, 1<<16)
	if !bytes.Equal(a, b) || len(a) != 1<<16 {
		t.Fatal("logLines is not deterministic")
	}
	if bytes.Equal(a, logLines(8, 1<<16)) {
		t.Fatal("logLines ignores its seed")
	}
	if n := bytes.Count(a, []byte("\n")); n < 200 {
		t.Fatalf("only %d lines in 64 KiB", n)
	}
}
