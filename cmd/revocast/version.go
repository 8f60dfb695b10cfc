package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3"
// (make image and the Dockerfile do). Without it, the module's version or
// VCS revision from the build info is shown.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "devel-" + s.Value
			}
		}
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "devel"
}

func runVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageErr(fmt.Errorf("unexpected argument %q: version takes none", args[0]))
	}
	_, err := fmt.Fprintln(stdout, "revocast", versionString())
	return err
}
