package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"testing"
)

// TestREADMEListsEveryFlag: the README's configuration table names every
// flag with its environment variable and default, as --help prints them, so
// the documentation cannot drift from the flags (regenerate the table with
// the command in the README's Configuration section).
func TestREADMEListsEveryFlag(t *testing.T) {
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  --(\S+) \(env (\S+)\)\n.*\(default "(.*)"\)$`).FindAllSubmatch(usage.Bytes(), -1)
	if len(flags) < 40 {
		t.Fatalf("found only %d flags in --help:\n%s", len(flags), usage.String())
	}
	for _, f := range flags {
		def := "(empty)"
		if len(f[3]) > 0 {
			def = "`" + string(f[3]) + "`"
		}
		row := "| `--" + string(f[1]) + "` | `" + string(f[2]) + "` | " + def + " |"
		if !bytes.Contains(readme, []byte(row)) {
			t.Errorf("README.md has no row starting %s", row)
		}
	}
}
