package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseCommandFlags parses a subcommand's flags, which take no positional
// arguments. It returns ok=false with the exit code when the command should
// stop: 0 after --help, 2 after a bad flag or a stray argument (reported
// on stderr as "<fs.Name()>: unexpected argument …").
func parseCommandFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (see --help)\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}
