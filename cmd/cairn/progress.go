package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressSource reports live numbers for the progress line.
type progressSource func() progressState

// progressState is one observation of a running command.
type progressState struct {
	Files, TotalFiles uint64
	Bytes, TotalBytes uint64
	Errors            uint64
	Current           string
	// Chunked and HashedOnly split a snapshot's bytes read: cut into
	// chunks, or only hashed (grown, renamed and copied files).
	Chunked, HashedOnly uint64
}

// progress draws a live status line on a terminal (or JSON status lines
// with --json) until stop is called. On a pipe without --json it is silent.
type progress struct {
	g      *globalOptions
	source progressSource
	start  time.Time
	done   chan struct{}
	wg     sync.WaitGroup
	width  int
	shown  bool // a status line or JSON status is being printed
}

// active reports whether anybody sees the progress.
func (p *progress) active() bool { return p.shown }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = 80
	}
	return width, true
}

// startProgress begins reporting, or returns a no-op when nobody watches.
func (g *globalOptions) startProgress(source progressSource) *progress {
	p := &progress{g: g, source: source, start: time.Now(), done: make(chan struct{})}
	width, tty := isTerminal(g.stdout)
	switch {
	case g.json:
		p.shown = true
		p.wg.Go(func() { p.loop(time.Second, p.printJSON) })
	case tty && !g.quiet:
		p.width, p.shown = width, true
		p.wg.Go(func() { p.loop(250*time.Millisecond, p.printLine) })
	}
	return p
}

func (p *progress) loop(every time.Duration, print func(final bool)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			print(true)
			return
		case <-t.C:
			print(false)
		}
	}
}

// stop ends reporting and clears the status line.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

func (p *progress) printLine(final bool) {
	if final {
		fmt.Fprintf(p.g.stdout, "\r%s\r", strings.Repeat(" ", p.width-1))
		return
	}
	s := p.source()
	el := time.Since(p.start)
	rate := float64(s.Bytes) / max(el.Seconds(), 0.001)
	line := fmt.Sprintf("[%s] %d", formatDuration(el), s.Files)
	if s.TotalFiles > 0 {
		line += fmt.Sprintf("/%d", s.TotalFiles)
	}
	line += fmt.Sprintf(" files, %s", formatBytes(s.Bytes))
	if s.TotalBytes > 0 {
		line += "/" + formatBytes(s.TotalBytes)
	}
	line += fmt.Sprintf(", %s/s", formatBytes(uint64(rate)))
	if s.TotalBytes > s.Bytes && rate > 0 {
		line += ", ETA " + formatDuration(time.Duration(float64(s.TotalBytes-s.Bytes)/rate*float64(time.Second)))
	}
	if s.HashedOnly > 0 {
		line += fmt.Sprintf(" (%s chunked, %s hashed only)", formatBytes(s.Chunked), formatBytes(s.HashedOnly))
	}
	if s.Errors > 0 {
		line += fmt.Sprintf(", %d errors", s.Errors)
	}
	if s.Current != "" {
		line += "  " + s.Current
	}
	if len(line) > p.width-1 {
		line = line[:p.width-1]
	}
	fmt.Fprintf(p.g.stdout, "\r%-*s", p.width-1, line)
}

func (p *progress) printJSON(final bool) {
	if final {
		return
	}
	s := p.source()
	el := time.Since(p.start)
	status := map[string]any{
		"message_type": "status", "seconds_elapsed": int(el.Seconds()),
		"files_done": s.Files, "total_files": s.TotalFiles, "bytes_done": s.Bytes, "total_bytes": s.TotalBytes,
		"errors": s.Errors, "bytes_chunked": s.Chunked, "bytes_hashed_only": s.HashedOnly,
	}
	if s.TotalBytes > 0 {
		status["percent_done"] = float64(s.Bytes) / float64(s.TotalBytes)
	}
	p.g.printJSON(status)
}

// formatBytes prints a byte count with a binary unit.
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatDuration prints h:mm:ss or m:ss.
func formatDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
