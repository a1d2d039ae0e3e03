package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// permuteArgs moves a command's flags in front of its positional
// arguments, so that `cairn restore latest --target /srv` works as it does
// in other tools: urfave/cli v2 stops reading flags at the first argument.
// Values of flags that take one stay with their flag; "--" ends flags.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	flags := app.Flags
	var cmds []*cli.Command = app.Commands
	for {
		// Global (or parent) flags come first, then a command name.
		i := skipFlags(rest, flags)
		out = append(out, rest[:i]...)
		rest = rest[i:]
		if len(rest) == 0 {
			return out
		}
		cmd := findCommand(cmds, rest[0])
		if cmd == nil {
			return append(out, rest...)
		}
		out = append(out, rest[0])
		rest = rest[1:]
		if len(cmd.Subcommands) > 0 {
			flags, cmds = cmd.Flags, cmd.Subcommands
			continue
		}
		global, own := liftGlobals(rest, cmd.Flags, app.Flags)
		out = slices.Insert(out, 1, global...)
		return append(out, reorder(own, cmd.Flags)...)
	}
}

// liftGlobals takes out the global flags (with their values) written after
// a command, which does not define them itself: `cairn snapshots --json`.
func liftGlobals(args []string, own, global []cli.Flag) (lifted, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return lifted, append(rest, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" || defines(own, a) || !defines(global, a) {
			rest = append(rest, a)
			continue
		}
		lifted = append(lifted, a)
		if takesValue(a, global) && i+1 < len(args) {
			i++
			lifted = append(lifted, args[i])
		}
	}
	return lifted, rest
}

// defines reports whether one of flags has the name in tok.
func defines(flags []cli.Flag, tok string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(tok, "-"), "=")
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// skipFlags returns how many leading tokens are flags (with their values).
func skipFlags(args []string, flags []cli.Flag) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--" {
		if takesValue(args[i], flags) {
			i++
		}
		i++
	}
	return min(i, len(args))
}

// reorder puts flags before positional arguments.
func reorder(args []string, flags []cli.Flag) []string {
	var fl, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(append(fl, "--"), append(pos, args[i+1:]...)...)
		case strings.HasPrefix(a, "-") && a != "-":
			fl = append(fl, a)
			if takesValue(a, flags) && i+1 < len(args) {
				i++
				fl = append(fl, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return fl
	}
	return append(append(fl, "--"), pos...)
}

// takesValue reports whether the flag token needs the next token as its
// value: a known non-boolean flag written without "=".
func takesValue(tok string, flags []cli.Flag) bool {
	name := strings.TrimLeft(tok, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if bf, ok := f.(*cli.BoolFlag); ok && bf != nil {
				return false
			}
			return true
		}
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
