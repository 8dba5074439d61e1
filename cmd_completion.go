package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// bashCompletion is urfave/cli's bash completion script for hotpipe: bash
// asks `hotpipe ... --generate-bash-completion` for the words that fit.
const bashCompletion = `# bash completion for hotpipe: source it, or put it in
# /etc/bash_completion.d/hotpipe or ~/.local/share/bash-completion/completions/hotpipe
_hotpipe_complete() {
  local cur words cword
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local request="${words[*]}"
  if [[ "$cur" == -* ]]; then request="$request $cur"; fi
  local opts
  opts=$(eval "$request --generate-bash-completion" 2>/dev/null)
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _hotpipe_complete hotpipe
`

// zshCompletion is the same for zsh.
const zshCompletion = `#compdef hotpipe
# zsh completion for hotpipe: put it in a directory of $fpath as _hotpipe
_hotpipe() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _hotpipe hotpipe
`

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `Prints on stdout a script that completes hotpipe's commands and flags in
the shell named.

Examples:
   source <(hotpipe completion bash)
   hotpipe completion zsh > "${fpath[1]}/_hotpipe"
   hotpipe completion fish > ~/.config/fish/completions/hotpipe.fish`,
		Action: func(c *cli.Context) error {
			if err := args(c, 1, 1); err != nil {
				return err
			}
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := fmt.Fprint(e.stdout, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(e.stdout, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(e.stdout, script)
				return err
			default:
				return usagef("completion: %q is not a shell hotpipe completes: bash, zsh or fish", shell)
			}
		},
	}
}

func manCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (roff) on stdout",
		Description: `Prints hotpipe(1), made from the same text as --help, on stdout.

Examples:
   hotpipe man | man -l -
   hotpipe man > /usr/local/share/man/man1/hotpipe.1`,
		Action: func(c *cli.Context) error {
			if err := args(c, 0, 0); err != nil {
				return err
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.stdout, strings.Replace(page, exitCodesHelp, "", 1))
			return err
		},
	}
}
