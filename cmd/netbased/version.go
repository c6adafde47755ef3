package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time by the Makefile (-ldflags "-X main.version=…"); empty in
// a plain `go build`, where the Go toolchain's build information is used.
var (
	version   string // release version, e.g. v1.2.0 or v1.2.0-3-gabcdef0
	commit    string // full commit hash
	buildDate string // RFC 3339 UTC: the commit's date unless SOURCE_DATE_EPOCH says otherwise
)

// buildInfo describes this binary: `netbased version` and the
// netbased_build_info metric.
type buildInfo struct {
	Version   string // module or release version; "devel" when unknown
	Commit    string // commit hash; "unknown" when unknown
	Date      string // build (source) date; "unknown" when unknown
	Modified  bool   // built from a tree with uncommitted changes
	GoVersion string // e.g. go1.26.8
	Platform  string // GOOS/GOARCH
}

// readBuildInfo combines the link-time variables with the Go toolchain's
// build information (module version and, when built with VCS stamping, the
// commit, its time and whether the tree was modified). The link-time values
// win.
func readBuildInfo() buildInfo {
	b := buildInfo{
		Version:   "devel",
		Commit:    "unknown",
		Date:      "unknown",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		if info.GoVersion != "" {
			b.GoVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
		// git describe --dirty marks a modified tree itself.
		b.Modified = strings.HasSuffix(version, "-dirty")
	}
	if commit != "" {
		b.Commit = commit
	}
	if buildDate != "" {
		b.Date = buildDate
	}
	return b
}

// write prints the build information, one item per line after the name and
// version.
func (b buildInfo) write(w io.Writer) {
	commit := b.Commit
	if b.Modified && !strings.HasSuffix(b.Version, "-dirty") {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "netbased %s\ncommit: %s\nbuilt:  %s\ngo:     %s %s\n", b.Version, commit, b.Date, b.GoVersion, b.Platform)
}
