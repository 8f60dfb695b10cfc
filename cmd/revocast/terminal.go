package main

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// takeTerminal makes this process the terminal's foreground process group,
// as a job-control shell does for a job, and returns a function that hands
// the terminal back. Ctrl-C then reaches only revocast, which shuts down
// cleanly and exits 0, and not the make (or go run) that started it, which
// would report the interrupt as a failure. It does nothing unless standard
// input is a terminal this process is in the foreground of.
func takeTerminal() (restore func()) {
	noop := func() {}
	fd := int(os.Stdin.Fd())
	orig, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || orig != unix.Getpgrp() {
		return noop // not a terminal, or not in its foreground
	}
	if err := unix.Setpgid(0, 0); err != nil {
		return noop
	}
	signal.Ignore(syscall.SIGTTOU) // tcsetpgrp from what is now a background group
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp()); err != nil {
		return noop
	}
	return func() { _ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, orig) }
}
