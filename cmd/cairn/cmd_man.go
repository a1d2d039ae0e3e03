package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// manPage is the repository's copy of the manual page, which a test keeps
// equal to what `cairn man` prints.
const manPage = "docs/cairn.1"

func newManCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (troff): cairn man | man -l -",
		Description: `Prints cairn's manual page, made from the commands, flags and help texts of
this binary, in the man(7) format. Read it with "cairn man | man -l -", or
install it: cairn man > /usr/local/share/man/man1/cairn.1 (the source tree
keeps a copy in docs/cairn.1).`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return errors.New("man takes no arguments")
			}
			return writeMan(g.stdout, c.App)
		},
	}
}

// writeMan writes the manual page of app to w.
func writeMan(w io.Writer, app *cli.App) error {
	m := &manWriter{}
	m.line(`.\" Made by "cairn man" from the commands' help; do not edit.`)
	m.line(`.TH CAIRN 1 "" "cairn" "User Commands"`)
	m.line(".ad l") // addresses and paths do not stretch well
	m.line(".SH NAME")
	m.line("cairn \\- " + roff(app.Usage))
	m.line(".SH SYNOPSIS")
	m.line(".B cairn")
	m.line("[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]")
	m.line(".SH DESCRIPTION")
	m.text(manIntro)
	m.line(".SH GLOBAL OPTIONS")
	m.flags(app.Flags)
	m.line(".SH COMMANDS")
	for _, c := range app.Commands {
		m.command(c, nil)
	}
	m.line(".SH EXIT STATUS")
	m.exitCodes()
	m.line(".SH ENVIRONMENT")
	m.environment(app.Flags)
	m.line(".SH SEE ALSO")
	m.text("The README, docs/format.md (the repository format), docs/design.md and docs/locations.md (S3, Azure, GCS, several locations and the configuration file) in cairn's source tree; examples/ there holds annotated configuration files.")
	_, err := io.WriteString(w, m.b.String())
	return err
}

// manIntro is the manual page's description.
const manIntro = `cairn backs up servers: configuration trees and application logs,
compressed, encrypted and deduplicated, into repositories on local disks,
S3-compatible stores, Azure Blob Storage and Google Cloud Storage. Snapshots are
restored whole or one file at a time, checked by reading every byte back, and
copied between locations.

A repository is named with -r (a path, s3:, azure: or gs: address; repeat it
for several locations) or in the configuration file; without one, cairn uses a
default local repository, created on first use with a generated key file.
Snapshots are named by a unique prefix of their id (at least 4 hex digits) or
"latest"; SNAP:PATH names a path inside one.`

// manWriter builds a troff document.
type manWriter struct{ b strings.Builder }

func (m *manWriter) line(s string) { m.b.WriteString(s + "\n") }

// text writes help text: paragraphs split at blank lines, filled by troff,
// except that a paragraph with indented lines (examples) is kept as it is.
func (m *manWriter) text(s string) {
	for i, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if i > 0 {
			m.line(".PP")
		}
		lines := strings.Split(para, "\n")
		if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, " ") }) {
			m.line(".nf")
			for _, l := range lines {
				m.line(roffLine(l))
			}
			m.line(".fi")
			continue
		}
		for _, l := range lines {
			m.line(roffLine(strings.TrimSpace(l)))
		}
	}
}

// command writes one command and then its subcommands.
func (m *manWriter) command(c *cli.Command, parents []string) {
	if c.Hidden || c.Name == "help" {
		return
	}
	path := append(slices.Clone(parents), c.Name)
	head := "cairn " + strings.Join(path, " ")
	if len(c.Subcommands) > 0 {
		head += " " + strings.Join(visibleNames(c.Subcommands), "|")
	} else if c.ArgsUsage != "" {
		head += " " + c.ArgsUsage
	}
	m.line(".SS \"" + roff(head) + "\"")
	usage := c.Usage
	if len(c.Aliases) > 0 {
		usage += " (also: " + strings.Join(c.Aliases, ", ") + ")"
	}
	m.text(capitalise(usage) + ".")
	if c.Description != "" {
		m.line(".PP")
		m.text(c.Description)
	}
	m.flags(c.Flags)
	for _, sub := range c.Subcommands {
		m.command(sub, path)
	}
}

func visibleNames(cmds []*cli.Command) []string {
	var names []string
	for _, c := range cmds {
		if !c.Hidden && c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return names
}

// flags writes a list of flags: names, placeholder, usage and default.
func (m *manWriter) flags(flags []cli.Flag) {
	for _, f := range flags {
		d, ok := f.(cli.DocGenerationFlag)
		if !ok || slices.Contains(f.Names(), "help") {
			continue
		}
		placeholder, usage := splitPlaceholder(d.GetUsage())
		if placeholder == "" && d.TakesValue() {
			placeholder = "VALUE"
		}
		var names []string
		for _, n := range f.Names() {
			dash := "\\-\\-"
			if len(n) == 1 {
				dash = "\\-"
			}
			names = append(names, "\\fB"+dash+roff(n)+"\\fR")
		}
		head := strings.Join(names, ", ")
		if placeholder != "" {
			head += " \\fI" + roff(placeholder) + "\\fR"
		}
		if def := d.GetDefaultText(); d.TakesValue() && def != "" && def != "0" && def != "0s" && def != `""` {
			usage += " (default: " + def + ")"
		}
		if env := d.GetEnvVars(); len(env) > 0 {
			usage += " [$" + strings.Join(env, ", $") + "]"
		}
		m.line(".TP")
		m.line(head)
		m.line(roffLine(usage))
	}
}

// exitCodes writes the exit codes that --help lists.
func (m *manWriter) exitCodes() {
	for _, l := range strings.Split(exitCodesHelp, "\n")[1:] {
		code, meaning, _ := strings.Cut(strings.TrimSpace(l), " ")
		m.line(".TP")
		m.line(".B " + code)
		m.line(roffLine(strings.TrimSpace(meaning)))
	}
}

// environment lists the variables the global flags read.
func (m *manWriter) environment(flags []cli.Flag) {
	for _, f := range flags {
		d, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		for _, env := range d.GetEnvVars() {
			m.line(".TP")
			m.line(".B " + env)
			m.line("as \\fB\\-\\-" + roff(f.Names()[0]) + "\\fR")
		}
	}
	m.line(".PP")
	m.text(`The S3, Azure and GCS credentials come from their usual variables
(AWS_ACCESS_KEY_ID, AZURE_STORAGE_CONNECTION_STRING,
GOOGLE_APPLICATION_CREDENTIALS and others) or from the configuration file.
CAIRN_CPUPROFILE and CAIRN_MEMPROFILE name files for Go profiles of the run,
CAIRN_TRACE one for its execution trace;
GOMEMLIMIT and GOGC replace cairn's memory defaults.`)
}

// splitPlaceholder returns a usage's `NAME` placeholder and the usage with
// the quotes removed.
func splitPlaceholder(usage string) (string, string) {
	before, rest, ok := strings.Cut(usage, "`")
	if !ok {
		return "", usage
	}
	name, after, ok := strings.Cut(rest, "`")
	if !ok {
		return "", usage
	}
	return name, before + name + after
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// roff escapes text for troff: backslashes, hyphens (so that options
// print as minus signs, which copy and paste as typed) and characters
// beyond ASCII (as \[uXXXX]).
func roff(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > 0x7e:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// roffLine escapes one line of text; a line starting with a dot or an
// apostrophe would be read as a request.
func roffLine(s string) string {
	s = roff(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
