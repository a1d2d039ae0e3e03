// Command gencorpus writes the deterministic benchmark corpora: a folder of
// application logs, one large mixed binary file, and a tree of many small
// configuration-style files. The same flags always give the same bytes, so
// runs on different days compare.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	logs := flag.String("logs", "", "write logs into `DIR`")
	logSize := flag.Int64("log-size", 1<<30, "total bytes of logs")
	binary := flag.String("binary", "", "write the mixed binary `FILE`")
	binSize := flag.Int64("binary-size", 2<<30, "bytes of the binary file")
	small := flag.String("small", "", "write many small files into `DIR` (1000 per folder)")
	smallFiles := flag.Int("small-files", 1_000_000, "how many small files")
	smallVersion := flag.Int("small-version", 0, "version `N` > 0 rewrites every other file of version 0 and adds as many new ones as it rewrote")
	smallAll := flag.Bool("small-all", false, "with -small-version, rewrite every file instead, adding none: each version is small-files new blobs")
	day2 := flag.String("day2", "", "turn the logs in `DIR` into the next day's, as logrotate and a day of traffic do: service.log becomes service.log.0, a new service.log starts, and every other log grows by 5%")
	flag.Parse()
	if *day2 != "" {
		if err := nextDay(*day2); err != nil {
			log.Fatal(err)
		}
	}
	if *small != "" {
		if err := writeSmall(*small, *smallFiles, *smallVersion, *smallAll); err != nil {
			log.Fatal(err)
		}
	}
	if *logs != "" {
		if err := writeLogs(*logs, *logSize); err != nil {
			log.Fatal(err)
		}
	}
	if *binary != "" {
		if err := writeBinary(*binary, *binSize); err != nil {
			log.Fatal(err)
		}
	}
}

var (
	levels = []string{"INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR"}
	paths  = []string{"/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users/{id}", "/api/v1/cart", "/healthz",
		"/static/app.js", "/static/app.css", "/api/v1/search", "/login", "/logout"}
	agents = []string{"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "curl/8.5.0", "Go-http-client/2.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15", "kube-probe/1.31"}
	msgs = []string{"request completed", "cache miss", "upstream slow", "retrying payment provider",
		"session refreshed", "rate limited", "db pool exhausted, waiting"}
)

// writeLogs writes service logs as rotated files: service.log.N of about
// 64 MiB each, and a current service.log.
func writeLogs(dir string, total int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	const per = 64 << 20
	n := int((total + per - 1) / per)
	ts := int64(1764115200) // 2025-11-26
	for i := n - 1; i >= 0; i-- {
		name := "service.log"
		if i > 0 {
			name = fmt.Sprintf("service.log.%d", i)
		}
		size := min(int64(per), total-int64(n-1-i)*per)
		var err error
		if ts, err = writeLogFile(filepath.Join(dir, name), size, ts, r); err != nil {
			return err
		}
	}
	return nil
}

func writeLogFile(path string, size, ts int64, r *rand.Rand) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return ts, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	for written < size {
		ts += int64(r.IntN(3))
		ms := r.IntN(1000)
		line := fmt.Sprintf("%s.%03dZ %-5s pid=%d req=%016x method=GET path=%s status=%d dur_ms=%d bytes=%d ua=%q msg=%q\n",
			unixUTC(ts), ms, levels[r.IntN(len(levels))], 1000+r.IntN(8), r.Uint64(), paths[r.IntN(len(paths))],
			[]int{200, 200, 200, 201, 204, 304, 404, 500}[r.IntN(8)], r.IntN(2000), r.IntN(1<<16),
			agents[r.IntN(len(agents))], msgs[r.IntN(len(msgs))])
		if r.IntN(500) == 0 {
			line += "goroutine 1 [running]:\nmain.handler(0xc000123456)\n\t/src/app/handler.go:42 +0x1d\nnet/http.HandlerFunc.ServeHTTP(...)\n"
		}
		n, err := w.WriteString(line)
		written += int64(n)
		if err != nil {
			return ts, err
		}
	}
	if err := w.Flush(); err != nil {
		return ts, err
	}
	if err := f.Truncate(size); err != nil {
		return ts, err
	}
	return ts, f.Close()
}

func unixUTC(ts int64) string {
	days, rem := ts/86400, ts%86400
	// civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
		y++
	}
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, rem/3600, rem/60%60, rem%60)
}

// nextDay rotates service.log to service.log.0 (renamed, unchanged), starts
// a new service.log of 5% of its size, and appends 5% to every other log.
func nextDay(dir string) error {
	cur := filepath.Join(dir, "service.log")
	fi, err := os.Stat(cur)
	if err != nil {
		return err
	}
	if err := os.Rename(cur, filepath.Join(dir, "service.log.0")); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(5, 6))
	ts := int64(1764201600) // 2025-11-27
	if ts, err = writeLogFile(cur, fi.Size()/20, ts, r); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "service.log" || e.Name() == "service.log.0" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil {
			return err
		}
		tmp := p + ".day2"
		if ts, err = writeLogFile(tmp, info.Size()/20, ts, r); err != nil {
			return err
		}
		if err := appendFile(p, tmp); err != nil {
			return err
		}
	}
	return nil
}

// appendFile appends the file from to the file to, and removes from.
func appendFile(to, from string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Remove(from)
}

// writeBinary writes 1 MiB blocks of mixed kinds: random (incompressible),
// zeros, repeated text, structured records, and copies of earlier blocks.
func writeBinary(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	r := rand.New(rand.NewPCG(3, 4))
	block := make([]byte, 1<<20)
	var history [][]byte
	for written := int64(0); written < size; written += int64(len(block)) {
		switch k := r.IntN(100); {
		case k < 40:
			fillRandom(r, block)
		case k < 50:
			clear(block)
		case k < 65:
			fillText(r, block)
		case k < 85:
			fillRecords(r, block)
		default:
			if len(history) > 0 {
				copy(block, history[r.IntN(len(history))])
			} else {
				fillRandom(r, block)
			}
		}
		if len(history) < 64 && r.IntN(8) == 0 {
			history = append(history, append([]byte(nil), block...))
		}
		if _, err := w.Write(block[:min(int64(len(block)), size-written)]); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func fillRandom(r *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

func fillText(r *rand.Rand, b []byte) {
	words := []string{"lorem ", "ipsum ", "dolor ", "sit ", "amet ", "backup ", "cairn ", "snapshot\n"}
	for i := 0; i < len(b); {
		i += copy(b[i:], words[r.IntN(len(words))])
	}
}

func fillRecords(r *rand.Rand, b []byte) {
	for i := 0; i+32 <= len(b); i += 32 {
		id := uint64(i) + r.Uint64()%16
		for j := range 8 {
			b[i+j] = byte(id >> (8 * j))
		}
		copy(b[i+8:], "RECORD00")
		b[i+16] = byte(r.IntN(4))
		clear(b[i+17 : i+32])
	}
}

// writeSmall writes n files of about 200 bytes, 1000 per folder, each with
// content of its own. Version v > 0 gives every odd-numbered file new
// content and adds n/2 files (so a snapshot of version 1 after one of
// version 0 adds n new blobs, and leaves half of the first snapshot's
// blobs unused once it is forgotten). With all, version v > 0 gives every
// file new content and adds none: n new blobs a version, for building a
// repository of many blobs from a tree that fits on the disk.
func writeSmall(dir string, n, version int, all bool) error {
	total := n
	if version > 0 && !all {
		total = n + n/2
	}
	for i := 0; i < total; i++ {
		gen := 0
		if version > 0 && (all || i%2 == 1 || i >= n) {
			gen = version
		}
		d := filepath.Join(dir, fmt.Sprintf("d%04d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		r := rand.New(rand.NewPCG(uint64(i), uint64(gen)))
		body := fmt.Sprintf("# file %d, version %d\nname = %q\nport = %d\nkey = %016x%016x\nhosts = [%q, %q]\ntimeout = %dms\nretries = %d\n",
			i, gen, paths[r.IntN(len(paths))], 1024+r.IntN(60000), r.Uint64(), r.Uint64(),
			agents[r.IntN(len(agents))], msgs[r.IntN(len(msgs))], r.IntN(10000), r.IntN(9))
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%07d.conf", i)), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}
