package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// completeCommand is the hidden command the shell scripts call: it prints
// the candidates for the last of its arguments.
const completeCommand = "__complete"

func newCompletionCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints a script that completes cairn's commands, subcommands and flags in
the shell named (arguments that are not a command complete as file names).
The script asks cairn itself for the candidates, so it always matches the
binary it runs. Load it for the current shell, or install it:

   source <(cairn completion bash)      # bash; or save it as
                                        # /etc/bash_completion.d/cairn
   source <(cairn completion zsh)       # zsh (after compinit); or save it
                                        # as _cairn in a folder of $fpath
   cairn completion fish | source       # fish; or save it as
                                        # ~/.config/fish/completions/cairn.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("completion takes one argument: bash, zsh or fish")
			}
			script, ok := completionScripts[c.Args().First()]
			if !ok {
				return fmt.Errorf("no completion for shell %q: choose bash, zsh or fish", c.Args().First())
			}
			_, err := fmt.Fprint(g.stdout, script)
			return err
		},
	}
}

func newCompleteCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:            completeCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Usage:           "print completion candidates for the shell scripts",
		Action: func(c *cli.Context) error {
			words := c.Args().Slice()
			if len(words) > 0 && words[0] == "--" {
				words = words[1:]
			}
			clean := strings.NewReplacer("`", "", "\t", " ", "\n", " ")
			for _, cand := range completions(c.App, words) {
				fmt.Fprintf(g.stdout, "%s\t%s\n", cand.word, clean.Replace(cand.help))
			}
			return nil
		},
	}
}

// candidate is one completion and what it means.
type candidate struct{ word, help string }

// argumentWords are the fixed first arguments of some commands.
var argumentWords = map[string][]candidate{
	"completion": {{"bash", "the bash script"}, {"zsh", "the zsh script"}, {"fish", "the fish script"}},
	"cat":        {{"config", "the repository's settings"}, {"snapshot", "a snapshot object"}, {"tree", "a tree blob"}, {"index", "an index segment"}, {"pack", "a pack's header"}},
	"list":       {{"index", "index segments"}, {"keys", "key files"}, {"locks", "locks"}, {"packs", "packs"}, {"snapshots", "snapshots"}},
}

// completions returns the candidates for the last of words, the command
// line after "cairn" (the last word is the one being typed, maybe ""):
// flags after a "-", subcommands, or a command's fixed arguments. None
// means the shell should complete file names.
func completions(app *cli.App, words []string) []candidate {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	var path []string
	cmds, flags := app.Commands, app.Flags
	var cmdFlags []cli.Flag
	args := 0
	for i := 0; i < len(words)-1; i++ {
		w := words[i]
		switch {
		case w == "--":
			return nil
		case strings.HasPrefix(w, "-"):
			if takesValue(w, slices.Concat(cmdFlags, flags)) {
				i++ // its value
				if i == len(words)-1 {
					return nil // the value is being typed: files
				}
			}
		default:
			if args == 0 {
				if c := findCommand(cmds, w); c != nil {
					path = append(path, c.Name)
					cmds, cmdFlags = c.Subcommands, c.Flags
					continue
				}
			}
			args++
		}
	}
	var out []candidate
	switch {
	case strings.HasPrefix(cur, "-"):
		for _, f := range slices.Concat(cmdFlags, flags) {
			out = append(out, flagCandidates(f, cur)...)
		}
	case args == 0 && len(cmds) > 0:
		for _, c := range cmds {
			if !c.Hidden && strings.HasPrefix(c.Name, cur) {
				out = append(out, candidate{c.Name, c.Usage})
			}
		}
	case args == 0:
		for _, a := range argumentWords[strings.Join(path, " ")] {
			if strings.HasPrefix(a.word, cur) {
				out = append(out, a)
			}
		}
	}
	return out
}

// flagCandidates returns the spellings of f that start with cur: "--name"
// for long names, "-n" for one-letter ones.
func flagCandidates(f cli.Flag, cur string) []candidate {
	help := ""
	if d, ok := f.(cli.DocGenerationFlag); ok {
		help = d.GetUsage()
	}
	var out []candidate
	for _, n := range f.Names() {
		w := "--" + n
		if len(n) == 1 {
			w = "-" + n
		}
		if strings.HasPrefix(w, cur) && w != "--help" && w != "-h" {
			out = append(out, candidate{w, help})
		}
	}
	return out
}

// completionScripts are the shell scripts, each calling `cairn
// __complete -- WORD...` with the words typed after "cairn" and using
// file names when it prints nothing. Its lines are "word<TAB>help".
var completionScripts = map[string]string{
	"bash": `# bash completion for cairn: source <(cairn completion bash)
_cairn() {
  local IFS=$'\n' line out
  out=$("${COMP_WORDS[0]}" ` + completeCommand + ` -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  COMPREPLY=()
  for line in $out; do
    COMPREPLY+=("${line%%$'\t'*}")
  done
  return 0
}
complete -o default -o bashdefault -F _cairn cairn
`,
	"zsh": `#compdef cairn
# zsh completion for cairn: source <(cairn completion zsh) after compinit,
# or save as _cairn in a folder of $fpath.
_cairn() {
  local -a lines cands
  local line
  lines=("${(@f)$("${words[1]}" ` + completeCommand + ` -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for line in "${lines[@]}"; do
    [[ -n $line ]] || continue
    cands+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
  done
  if (( ${#cands} )); then
    _describe -t values cairn cands
  else
    _files
  fi
}
if [[ ${funcstack[1]} == _cairn ]]; then
  _cairn "$@"
else
  compdef _cairn cairn
fi
`,
	"fish": `# fish completion for cairn: cairn completion fish | source
function __cairn_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($words[1] ` + completeCommand + ` -- $words[2..-1] $cur 2>/dev/null)
    if test (count $out) -eq 0
        __fish_complete_path $cur
        return
    end
    printf '%s\n' $out
end
complete -c cairn -f -a '(__cairn_complete)'
`,
}
