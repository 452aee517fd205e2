package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// Set at link time by the Makefile and the Dockerfile (-ldflags "-X
// main.version=… -X main.commit=… -X main.buildDate=…"). When empty, the Go
// build info is used: the module version, and the VCS stamp that `go build
// -buildvcs=true` records in a git checkout.
var version, commit, buildDate string

// buildInfo describes this binary: version, commit and build date, read from
// the Go build info (VCS stamping is on by default for `go build` in a git
// checkout).
type buildInfo struct {
	Version, Commit, Date string
	Modified              bool
	GoVersion             string
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: commit, Date: buildDate}
	if info, ok := debug.ReadBuildInfo(); ok {
		bi.GoVersion = info.GoVersion
		if bi.Version == "" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && bi.Commit == "":
				bi.Commit = s.Value
			case s.Key == "vcs.time" && bi.Date == "":
				bi.Date = s.Value
			case s.Key == "vcs.modified" && commit == "":
				bi.Modified = s.Value == "true"
			}
		}
	}
	for _, f := range []*string{&bi.Version, &bi.Commit, &bi.Date} {
		if *f == "" {
			*f = "unknown"
		}
	}
	if bi.Version == "unknown" {
		bi.Version = "(devel)"
	}
	return bi
}

// printVersion writes the one-line answer of `cowrite --version`.
func printVersion(w io.Writer) {
	bi := readBuildInfo()
	commit := bi.Commit
	if bi.Modified {
		commit += "+modified"
	}
	fmt.Fprintf(w, "cowrite %s (commit %s, built %s, %s)\n", bi.Version, commit, bi.Date, bi.GoVersion)
}
