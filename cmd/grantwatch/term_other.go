//go:build !unix

package main

import "os"

// terminalWidth: without a way to ask, no file is a terminal and tables take COLUMNS or the default width.
func terminalWidth(*os.File) (int, bool) { return 0, false }

func isTerminal(*os.File) bool { return false }
