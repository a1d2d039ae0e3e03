package main

import (
	"testing"

	"github.com/cairnbackup/cairn/repo"
	"github.com/cairnbackup/cairn/walker"
)

func TestModeString(t *testing.T) {
	cases := []struct {
		typ  repo.NodeType
		mode uint32
		want string
	}{
		{repo.NodeFile, 0o644, "-rw-r--r--"},
		{repo.NodeDir, 0o755, "drwxr-xr-x"},
		{repo.NodeSymlink, 0o777, "lrwxrwxrwx"},
		{repo.NodeFile, 0o4755, "-rwsr-xr-x"},
		{repo.NodeFile, 0o2644, "-rw-r-Sr--"},
		{repo.NodeDir, 0o1777, "drwxrwxrwt"},
		{repo.NodeDir, 0o1770, "drwxrwx--T"},
		{repo.NodeFifo, 0o600, "prw-------"},
		{repo.NodeCharDev, 0o620, "crw--w----"},
		{repo.NodeBlockDev, 0o660, "brw-rw----"},
		{repo.NodeSocket, 0o777, "srwxrwxrwx"},
	}
	for _, c := range cases {
		n := repo.Node{Type: c.typ, Mode: c.mode}
		if got := modeString(&n); got != c.want {
			t.Errorf("modeString(%s, %#o) = %q, want %q", c.typ, c.mode, got, c.want)
		}
	}
}

func TestJoinPath(t *testing.T) {
	for _, c := range [][3]string{{"/", "etc", "/etc"}, {"/etc", "app", "/etc/app"}, {"", "x", "/x"}} {
		if got := walker.Join(c[0], c[1]); got != c[2] {
			t.Errorf("walker.Join(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
