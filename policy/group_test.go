package policy

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseGroupBy(t *testing.T) {
	for in, want := range map[string]GroupBy{
		"":                {},
		"host":            {Host: true},
		"hosts":           {Host: true},
		"host,paths":      {Host: true, Paths: true},
		"path,tag":        {Paths: true, Tags: true},
		"tags,host,paths": {Host: true, Paths: true, Tags: true},
		"host, paths":     {Host: true, Paths: true},
		",host,,":         {Host: true},
	} {
		got, err := ParseGroupBy(in)
		if err != nil || got != want {
			t.Errorf("ParseGroupBy(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		if back, err := ParseGroupBy(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q through %q: %+v, %v", in, got.String(), back, err)
		}
	}
	for _, in := range []string{"hostname", "host;paths", "Host", "time"} {
		if _, err := ParseGroupBy(in); err == nil || !strings.Contains(err.Error(), `"host,paths"`) {
			t.Errorf("ParseGroupBy(%q): %v", in, err)
		}
	}
	if got := DefaultGroupBy().String(); got != "host,paths" {
		t.Errorf("default is %q", got)
	}
}

func TestGroupSnapshots(t *testing.T) {
	snaps := []Snapshot{
		{ID: "1", Host: "b", Paths: []string{"/y", "/x"}, Tags: []string{"t2", "t1"}},
		{ID: "2", Host: "a", Paths: []string{"/x"}},
		{ID: "3", Host: "b", Paths: []string{"/x", "/y"}, Tags: []string{"t1", "t2"}},
		{ID: "4", Host: "a", Paths: []string{"/x"}, Tags: []string{"t1"}},
		{ID: "5", Host: "a", Paths: []string{}, Tags: []string{}},
		{ID: "6", Host: "a"},
	}
	for _, c := range []struct {
		by   GroupBy
		want string
	}{
		{GroupBy{}, "all snapshots: 1 2 3 4 5 6"},
		{GroupBy{Host: true}, "host a: 2 4 5 6; host b: 1 3"},
		{DefaultGroupBy(), "host a: 5 6; host a, paths [/x]: 2 4; host b, paths [/x /y]: 1 3"},
		{GroupBy{Tags: true}, "all snapshots: 2 5 6; tags [t1]: 4; tags [t1 t2]: 1 3"},
		{GroupBy{Host: true, Paths: true, Tags: true},
			"host a: 5 6; host a, paths [/x]: 2; host a, paths [/x], tags [t1]: 4; host b, paths [/x /y], tags [t1 t2]: 1 3"},
	} {
		var parts []string
		for _, g := range GroupSnapshots(snaps, c.by) {
			var ids []string
			for _, s := range g.Snapshots {
				ids = append(ids, s.ID)
			}
			parts = append(parts, g.Key.String()+": "+strings.Join(ids, " "))
		}
		if got := strings.Join(parts, "; "); got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.by, got, c.want)
		}
	}
	if !reflect.DeepEqual(snaps[0].Paths, []string{"/y", "/x"}) {
		t.Error("GroupSnapshots sorted its input's paths")
	}
	if GroupSnapshots(nil, DefaultGroupBy()) != nil {
		t.Error("no snapshots, some groups")
	}
}
