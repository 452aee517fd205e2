package main

// The "check" subcommand: main dispatches to it with
//
//	case "check": os.Exit(runCheckCommand(os.Args[2:], os.Stdout, os.Stderr))
//
// Identifiers here start with "check" so that they cannot clash with the
// rest of package main.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// runCheckCommand implements `cowrite check --data DIR`: it verifies the
// data file offline (storage.Verify with the text OT type) and prints what
// it found. Exit code: 0 the file is sound, 1 it has problems, 2 bad usage
// or the file cannot be read at all (missing, locked by a running server,
// not a database).
func runCheckCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cowrite check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "data directory; the file checked is <data>/cowrite.db (stop the server first)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the data file's lock")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cowrite check [--data DIR]\n\nVerifies a data file offline: bbolt's consistency check, then every\ndocument's metadata, ops, dedupe entries, and that its ops replay to its snapshots.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseCommandFlags(fs, args, stderr); !ok {
		return code
	}
	path := filepath.Join(*data, "cowrite.db")
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "cowrite check: %v\n", err)
		return 2
	}
	rep, err := storage.Verify(path, *timeout, checkReplay)
	if err != nil {
		if errors.Is(err, storage.ErrLocked) {
			fmt.Fprintf(stderr, "cowrite check: %s is locked: stop the server using it first\n", path)
		} else {
			fmt.Fprintf(stderr, "cowrite check: %v\n", err)
		}
		return 2
	}
	fmt.Fprintf(stdout, "%s: %d documents, %d ops, %d snapshots, %d journal records\n", path, rep.Docs, rep.Ops, rep.Snapshots, rep.JournalRecords)
	if len(rep.Problems) == 0 {
		fmt.Fprintln(stdout, "ok")
		return 0
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "problem: %s\n", p)
	}
	fmt.Fprintf(stdout, "%d problems\n", len(rep.Problems))
	return 1
}

// checkDoc replays stored ops with the text OT type.
type checkDoc struct{ d *ot.Doc }

func checkReplay(content string) storage.Replayer { return &checkDoc{ot.NewDoc(content)} }

func (c *checkDoc) Apply(op []byte) error {
	o, err := ot.Parse(op)
	if err != nil {
		return err
	}
	nd, err := c.d.Apply(o)
	if err != nil {
		return err
	}
	c.d = nd
	return nil
}

func (c *checkDoc) Content() string { return c.d.String() }
