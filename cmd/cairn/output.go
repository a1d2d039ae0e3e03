package main

import (
	"encoding/json"
	"fmt"
)

// printf writes human output unless --quiet or --json is set.
func (g *globalOptions) printf(format string, args ...any) {
	if g.quiet || g.json {
		return
	}
	fmt.Fprintf(g.stdout, format, args...)
}

// warnf writes a warning to standard error (even with --quiet).
func (g *globalOptions) warnf(format string, args ...any) {
	fmt.Fprintf(g.stderr, "cairn: warning: "+format+"\n", args...)
}

// printJSON writes v as one line of JSON to standard output.
func (g *globalOptions) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "%s\n", b)
	return err
}
