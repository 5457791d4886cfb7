// Command grantwatch is the grantwatch CLI: replay CloudTrail files through the grant lifecycle engine, and manage
// the DynamoDB table. Flags and wiring only; the work is in pkg/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes of the replay contract (grant-lifecycle.md §9).
const (
	exitOK       = 0
	exitRejected = 1 // something was rejected or failed, the rest was processed
	exitUsage    = 2
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// commands lists the subcommands. Each command's file adds its constructor in an init function, so that commands
// can be added without touching this file.
var commands = []func() *cobra.Command{newReplayCmd, newTableCmd}

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns its exit code, so tests can drive it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "grantwatch",
		Short:         "Track the KMS grants Amazon Bedrock creates on customer managed keys",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "grantwatch:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return exitUsage
	}
	return exitRejected
}

// isUsage recognises cobra's own argument errors (unknown command, wrong number of args).
func isUsage(err error) bool {
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "requires at least", "accepts "} {
		if len(err.Error()) >= len(prefix) && err.Error()[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
