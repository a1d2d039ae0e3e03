package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets test scripts run the real cairn command (main) as a
// separate process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cairn": func() { os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs every script in testdata/script against the binary.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("testdata/script"))
}

// scriptCmds are the custom testscript commands: trees and faults.
func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := make(map[string]func(ts *testscript.TestScript, neg bool, args []string))
	for name, fn := range treeCmds {
		cmds[name] = fn
	}
	for name, fn := range faultCmds {
		cmds[name] = fn
	}
	for name, fn := range clockCmds {
		cmds[name] = fn
	}
	for name, fn := range storageCmds {
		cmds[name] = fn
	}
	return cmds
}

func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Cmds:                scriptCmds(),
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
			return privatePasswordFiles(env.WorkDir)
		},
	}
}

// privatePasswordFiles gives the password files of a script's archive
// (pw, pw2, wrongpw, wrong...) mode 0600, as an operator's are: the
// archive writes them 0644, and cairn warns about a password file others
// can read. A script that wants the warning makes its file readable again.
func privatePasswordFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && (strings.Contains(n, "pw") || strings.HasPrefix(n, "wrong")) {
			if err := os.Chmod(filepath.Join(dir, n), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}
