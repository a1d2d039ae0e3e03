package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// SIGINT exits 130 and SIGTERM 143 (128 plus the signal's number, as a
// shell reports them), each saying what stopped the run; the job's history
// records the run as interrupted either way.
func TestSignalExitCodes(t *testing.T) {
	e := newDaemonEnv(t, "repo", `jobs:
  - name: slow
    sources: [SRC]
    hooks:
      before: touch started; exec sleep 60
`)
	e.mustCairn("init")
	for _, c := range []struct {
		sig  syscall.Signal
		code int
		say  string
	}{
		{syscall.SIGINT, 130, "cairn: interrupted; nothing half-written"},
		{syscall.SIGTERM, 143, "cairn: stopped by SIGTERM; nothing half-written"},
	} {
		started := filepath.Join(e.dir, "started")
		os.Remove(started)
		p := e.start("run", "slow")
		waitFor(t, "the before hook", func() bool { _, err := os.Stat(started); return err == nil })
		p.cmd.Process.Signal(c.sig)
		if code := p.exit(t); code != c.code {
			t.Errorf("%v: exit %d, want %d:\n%s", c.sig, code, c.code, p.stderr())
		}
		if !strings.Contains(p.stderr(), c.say) {
			t.Errorf("%v: stderr does not say %q:\n%s", c.sig, c.say, p.stderr())
		}
	}
	if out := e.mustCairn("status", "--json"); strings.Count(out, `"outcome":"interrupted"`) < 1 {
		t.Errorf("status does not show the interrupted runs:\n%s", out)
	}
}
