package pattern

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*.log", "/var/log/app/service.log", true},
		{"*.log", "/var/log/app/service.log.1", false},
		{"*.log", "/var/log/app.log/inner", true}, // a matching parent folder
		{"/var/log", "/var/log/app/x", true},
		{"/var/log", "/srv/var/log", false},
		{"var/log", "/srv/var/log/x", true},
		{"/var/**/app", "/var/app", true},
		{"/var/**/app", "/var/log/deep/app", true},
		{"/var/**/app", "/var/log/deep/application", false},
		{"/etc/**/*.conf", "/etc/nginx/sites/x.conf", true},
		{"/etc/*.conf", "/etc/nginx/x.conf", false},
		{"**", "/anything/at/all", true},
		{"/tmp/?.txt", "/tmp/a.txt", true},
		{"/tmp/?.txt", "/tmp/ab.txt", false},
		{"/tmp/[ab].txt", "/tmp/b.txt", true},
		{"cache", "/home/u/.cache", false},
		{".cache", "/home/u/.cache/x", true},
	}
	for _, c := range cases {
		p, err := Parse(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(c.name); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestMatchExact(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*.log", "/var/log/app/service.log", true},
		{"*.log", "/var/log/app.log/inner", false}, // only the folder matches
		{"*.log", "/var/log/app.log", true},
		{"/var/log", "/var/log", true},
		{"/var/log", "/var/log/app/x", false},
		{"/var/log/**", "/var/log/app/x", true},
		{"/var/log/**", "/var/log", true},
		{"log/*", "/var/log/x", true},
		{"log/*", "/var/log/x/y", false},
		{"**", "/", true},
	}
	for _, c := range cases {
		p, err := Parse(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.MatchExact(c.name); got != c.want {
			t.Errorf("%q matches %q exactly: %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestMayMatchBelow(t *testing.T) {
	cases := []struct {
		pattern, dir string
		want         bool
	}{
		{"/var/log/app/*.log", "/var", true},
		{"/var/log/app/*.log", "/var/log/app", true},
		{"/var/log/app/*.log", "/var/lib", false},
		{"/var/log/app/*.log", "/etc", false},
		{"*.log", "/etc", true},
		{"/var/log", "/var/log/app/sub", true},
	}
	for _, c := range cases {
		p, _ := Parse(c.pattern)
		if got := p.MayMatchBelow(c.dir); got != c.want {
			t.Errorf("%q may match below %q: %v, want %v", c.pattern, c.dir, got, c.want)
		}
	}
}

func TestFilter(t *testing.T) {
	inc, _ := ParseList([]string{"/var/log/app/*.log"})
	exc, _ := ParseList([]string{"debug.log"})
	f := Filter{Include: inc, Exclude: exc}
	if !f.Selected("/var/log/app/service.log") || f.Selected("/var/log/app/debug.log") || f.Selected("/var/log/app/x.txt") {
		t.Fatal("filter selects the wrong files")
	}
	if !f.Descend("/var/log") || f.Descend("/etc") {
		t.Fatal("filter descends into the wrong folders")
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"", "  ", "/a/[b"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestReadList(t *testing.T) {
	l, err := ReadList(strings.NewReader("# comment\n\n*.tmp\n/var/cache\n"), "excludes")
	if err != nil || len(l) != 2 {
		t.Fatalf("got %d patterns, err %v", len(l), err)
	}
	if _, err := ReadList(strings.NewReader("ok\n[bad\n"), "excludes"); err == nil || !strings.Contains(err.Error(), "excludes line 2") {
		t.Fatalf("error does not name the line: %v", err)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("/var/**/*.log", "/var/log/a.log")
	f.Fuzz(func(t *testing.T, pat, name string) {
		p, err := Parse(pat)
		if err != nil {
			return
		}
		if p.Match(name) && !p.MayMatchBelow(name) {
			// Whatever matches a path could match below it.
			t.Fatalf("%q matches %q but MayMatchBelow says no", pat, name)
		}
	})
}
