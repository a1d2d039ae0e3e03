package repo_test

// What each compression level costs on logs: MB/s of one core and the
// stored share of the raw bytes, with the repository's own encoder
// settings, over the chunks the repository would store.
//
//	go test ./repo -run XXX -bench CompressionLevel -cpu 1 -benchtime 3x
//
// By default the input is stageInputSize bytes of the stage benchmarks'
// log lines; CAIRN_BENCH_LOGS=DIR takes the first CAIRN_BENCH_BYTES (64
// MiB) of the files in DIR instead, in name order (bench/compression.sh
// points it at the corpus of bench/gencorpus).

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/cairnbackup/cairn/chunk"
	"github.com/cairnbackup/cairn/repo"
)

// benchLogs returns the input of BenchmarkCompressionLevel.
func benchLogs(b *testing.B) (string, []byte) {
	dir := os.Getenv("CAIRN_BENCH_LOGS")
	if dir == "" {
		return "stage-logs", stageLogs()
	}
	limit := int64(64 << 20)
	if s := os.Getenv("CAIRN_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("CAIRN_BENCH_BYTES=%q: %v", s, err)
		}
		limit = n
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	var data []byte
	for _, n := range names {
		if int64(len(data)) >= limit {
			break
		}
		f, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, f[:min(int64(len(f)), limit-int64(len(data)))]...)
	}
	if len(data) == 0 {
		b.Fatalf("CAIRN_BENCH_LOGS=%s holds no files", dir)
	}
	return filepath.Base(dir), data
}

func BenchmarkCompressionLevel(b *testing.B) {
	name, data := benchLogs(b)
	d := newStageData(name, data, b.TempDir())
	defer d.close()
	chunks := d.chunks()
	for _, level := range repo.CompressionLevels[2:] { // off costs nothing and stores 1.000
		b.Run(level, func(b *testing.B) {
			enc, err := repo.NewEncoder(level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 0, chunk.MaxSize)
			var out int
			b.ResetTimer()
			for b.Loop() {
				out = 0
				for _, c := range chunks {
					if enc == nil {
						out += len(c)
						continue
					}
					buf = enc.EncodeAll(c, buf[:0])
					out += min(len(buf), len(c)) // stored raw when compression does not pay
				}
			}
			b.ReportMetric(float64(out)/float64(len(data)), "stored/raw")
		})
	}
}
