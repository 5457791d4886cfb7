//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// terminalWidth is f's width in columns when f is a terminal.
func terminalWidth(f *os.File) (int, bool) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0, false
	}
	return int(ws.Col), true
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, ok := terminalWidth(f)
	return ok
}
