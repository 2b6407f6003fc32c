package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version labels the build when set with -ldflags "-X main.version=…"
// (make image sets it from git describe); empty, the build info the Go
// toolchain stamps into the binary says which one it is.
var version string

// buildInfo is what the binary knows of its own build.
type buildInfo struct {
	Label     string // version, when stamped with -ldflags
	Module    string // the main module's version: "(devel)" when built from a checkout
	Revision  string // vcs.revision: the commit built, when built with VCS info
	Time      string // vcs.time: that commit's time
	Modified  bool   // vcs.modified: the work tree had uncommitted changes
	GoVersion string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Label: version, Module: "(devel)"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	if info.Main.Version != "" {
		b.Module = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// Short is the version other systems are told (the partners' User-Agent,
// traces, /v1/meta): the -ldflags label, else a released module version,
// else "devel+" and the commit's first 12 hex digits, "-dirty" when the work
// tree was modified, else "devel".
func (b buildInfo) Short() string {
	switch {
	case b.Label != "":
		return b.Label
	case b.Module != "(devel)" && b.Module != "":
		return b.Module
	case b.Revision != "":
		rev := b.Revision[:min(12, len(b.Revision))]
		if b.Modified {
			rev += "-dirty"
		}
		return "devel+" + rev
	}
	return "devel"
}

// String is what `callconnect version` prints: every field known, one per
// line, so that a deployment can be traced back to its commit.
func (b buildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "callconnect %s\n", b.Short())
	fmt.Fprintf(&s, "module:   callconnect %s\n", b.Module)
	if b.Revision != "" {
		fmt.Fprintf(&s, "revision: %s\n", b.Revision)
		fmt.Fprintf(&s, "time:     %s\n", b.Time)
		fmt.Fprintf(&s, "modified: %t\n", b.Modified)
	} else {
		s.WriteString("revision: unknown (built without VCS information)\n")
	}
	if b.GoVersion != "" {
		fmt.Fprintf(&s, "go:       %s\n", b.GoVersion)
	}
	return s.String()
}

// serviceVersion is the version the service reports.
func serviceVersion() string { return readBuildInfo().Short() }
