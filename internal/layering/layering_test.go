// Package layering checks that packages import only what the design allows:
// arrows point down from the command line to storage, never up.
package layering

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cairnbackup/cairn/"

// forbidden maps a package (and its subpackages) to module packages it must
// not import. Checking direct imports of every package is enough: a
// forbidden path through a middle package breaks that package's own rule.
var forbidden = map[string][]string{
	"crypto":    {"chunk", "pack", "index", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"chunk":     {"crypto", "pack", "index", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"pack":      {"chunk", "index", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"index":     {"chunk", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"backend":   {"crypto", "chunk", "pack", "index", "repo", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"repo":      {"backend/local", "backend/s3", "backend/azure", "backend/gcs", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"archiver":  {"crypto", "pack", "index", "backend", "restorer", "check", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"restorer":  {"crypto", "pack", "index", "backend", "archiver", "check", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"check":     {"crypto", "pack", "index", "archiver", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"policy":    {"crypto", "pack", "index", "backend", "archiver", "restorer", "check", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"schedule":  {"crypto", "pack", "index", "backend", "cmd", "daemon"},
	"config":    {"crypto", "chunk", "pack", "index", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"copier":    {"crypto", "pack", "index", "backend", "archiver", "restorer", "check", "schedule", "config", "cmd", "access", "retention", "job", "metrics", "timers", "daemon"},
	"access":    {"crypto", "chunk", "pack", "index", "archiver", "restorer", "check", "policy", "schedule", "cmd", "copier", "retention", "job", "metrics", "timers", "daemon"},
	"walker":    {"crypto", "chunk", "pack", "index", "backend", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"retention": {"crypto", "chunk", "pack", "index", "backend", "archiver", "restorer", "check", "schedule", "cmd", "copier", "access", "job", "metrics", "timers", "daemon"},
	"job":       {"crypto", "chunk", "pack", "index", "backend", "schedule", "cmd", "metrics", "timers", "daemon"},
	"timers":    {"crypto", "chunk", "pack", "index", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "copier", "access", "retention", "job", "metrics", "cmd", "daemon"},
	"daemon":    {"crypto", "chunk", "pack", "index", "backend", "timers", "cmd"},
	"metrics":   {"crypto", "chunk", "pack", "index", "backend", "schedule", "cmd", "timers", "daemon"},
	"rewrite":   {"crypto", "chunk", "pack", "index", "backend", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
	"pattern":   {"crypto", "chunk", "pack", "index", "backend", "repo", "archiver", "restorer", "check", "policy", "schedule", "config", "cmd", "copier", "access", "retention", "job", "metrics", "timers", "daemon"},
}

type listed struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module)
		rules := rulesFor(rel)
		if rules == nil {
			continue
		}
		checked++
		for _, dep := range p.Imports {
			d, ok := strings.CutPrefix(dep, module)
			if !ok || strings.HasSuffix(d, "test") {
				continue // outside the module, or a test helper
			}
			for _, bad := range rules {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s imports %s, which the design forbids", rel, d)
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d packages checked; is the module path right?", checked)
	}
}

// rulesFor returns the forbidden list of pkg's top-level package.
func rulesFor(pkg string) []string {
	top, _, _ := strings.Cut(pkg, "/")
	if top == "backend" && strings.HasSuffix(pkg, "test") {
		return nil
	}
	return forbidden[top]
}
