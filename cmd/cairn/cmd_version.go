package main

import (
	"errors"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/cairnbackup/cairn/repo"
)

// versionInfo is what `cairn version` prints.
type versionInfo struct {
	Version       string `json:"version"`
	Revision      string `json:"revision,omitempty"` // the VCS revision built, when known
	GoVersion     string `json:"go_version"`
	FormatVersion int    `json:"repository_format"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
}

func newVersionCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print cairn's version, the Go version, the repository format and the platform",
		Description: `Prints the version of this cairn (set when it was built; "dev" for a
plain go build, with the source revision when the build recorded one), the
Go version it was built with, the repository format version it reads and
writes, and the operating system and architecture. --json prints an object.`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("version takes no arguments")
			}
			v := currentVersion()
			if g.json {
				return g.printJSON(v)
			}
			rev := ""
			if v.Revision != "" {
				rev = " (" + v.Revision + ")"
			}
			g.printf("cairn:             %s%s\n", v.Version, rev)
			g.printf("go:                %s\n", v.GoVersion)
			g.printf("repository format: %d\n", v.FormatVersion)
			g.printf("os/arch:           %s/%s\n", v.OS, v.Arch)
			return nil
		},
	}
}

// currentVersion describes this binary. Without a version set at build
// time, the module version `go install` records is used, and the VCS
// revision of a build from a checkout.
func currentVersion() versionInfo {
	v := versionInfo{Version: version, GoVersion: runtime.Version(), FormatVersion: repo.FormatVersion, OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(v.Revision) > 12 {
		v.Revision = v.Revision[:12]
	}
	if v.Revision != "" && modified {
		v.Revision += "+modified"
	}
	return v
}
