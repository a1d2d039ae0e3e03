package main

import (
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// clockCmds time the commands of a script: now VAR, then since VAR SECONDS.
var clockCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"now":   cmdNow,
	"since": cmdSince,
}

// cmdNow stores the time in a variable: now VAR
func cmdNow(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: now VAR")
	}
	ts.Setenv(args[0], strconv.FormatInt(time.Now().UnixNano(), 10))
}

// cmdSince fails unless at least SECONDS have passed since now VAR (with
// !, unless fewer have): since VAR SECONDS
func cmdSince(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: since VAR SECONDS")
	}
	start, err := strconv.ParseInt(ts.Getenv(args[0]), 10, 64)
	if err != nil {
		ts.Fatalf("since: %s holds no time from now", args[0])
	}
	secs, err := strconv.ParseFloat(args[1], 64)
	if err != nil {
		ts.Fatalf("since: %q is not a number of seconds", args[1])
	}
	el := time.Since(time.Unix(0, start))
	min := time.Duration(secs * float64(time.Second))
	ts.Logf("%v since %s", el.Round(time.Millisecond), args[0])
	if (el >= min) == neg {
		ts.Fatalf("%v since %s; want %s%v", el.Round(time.Millisecond), args[0], map[bool]string{false: "at least ", true: "less than "}[neg], min)
	}
}
