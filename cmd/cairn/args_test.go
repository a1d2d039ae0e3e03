package main

import (
	"slices"
	"testing"
)

func TestPermuteArgs(t *testing.T) {
	app := newApp(&globalOptions{})
	cases := []struct{ in, want []string }{
		{[]string{"cairn", "-r", "/x", "restore", "latest", "--target", "out", "--verify"},
			[]string{"cairn", "-r", "/x", "restore", "--target", "out", "--verify", "--", "latest"}},
		{[]string{"cairn", "snapshot", "/etc", "-e", "*.tmp", "/var/log"},
			[]string{"cairn", "snapshot", "-e", "*.tmp", "--", "/etc", "/var/log"}},
		{[]string{"cairn", "key", "remove", "abcd", "--force"},
			[]string{"cairn", "key", "remove", "--force", "--", "abcd"}},
		{[]string{"cairn", "dump", "latest", "--", "-weird-name"},
			[]string{"cairn", "dump", "--", "latest", "-weird-name"}},
		{[]string{"cairn", "--json", "key", "list"}, []string{"cairn", "--json", "key", "list"}},
		{[]string{"cairn", "snapshots", "--json", "-r", "/repo", "--host", "h"},
			[]string{"cairn", "--json", "-r", "/repo", "snapshots", "--host", "h"}},
		{[]string{"cairn", "restore", "latest", "-t", "out", "--password-file", "pw"},
			[]string{"cairn", "--password-file", "pw", "restore", "-t", "out", "--", "latest"}},
	}
	for _, c := range cases {
		if got := permuteArgs(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("permuteArgs(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
