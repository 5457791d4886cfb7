// Command grantwatch is the grantwatch CLI: replay CloudTrail files through the grant lifecycle engine, query what
// was recorded, and run the functions' jobs (backfill, reconcile, sweep) and the table's administration from a
// shell. Flags and wiring only; the work is in pkg/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// commands lists the subcommands. Each command's file adds its constructor in an init function, so that commands
// can be added without touching this file.
var commands = []func() *cobra.Command{newReplayCmd, newTableCmd}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns its exit code, so tests can drive it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	msg, code := explain(err)
	fmt.Fprintln(stderr, "grantwatch:", msg)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage and examples.\n", cmd.CommandPath())
	}
	return code
}

// newRoot builds the command tree writing to stdout and stderr (cobra's completion command takes its writer when it
// is made).
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "grantwatch",
		Short: "Track the KMS grants Amazon Bedrock creates on customer managed keys",
		Long: `grantwatch follows the KMS grants Amazon Bedrock creates on customer managed keys, from creation to
retirement, and tells you when one outlives its purpose.

Grant ids are shown by their first 12 characters; every command that takes a grant id takes any unique prefix of at
least 8. Durations take d and w as well as h, m and s (30d, 2w, "3d 4h"). Every command that has --table reads the
table name from $GRANTWATCH_TABLE when --table is not given.

Exit status: 0 ok, 1 failure (an AWS error, a missing table, rejected input), 2 usage error or bad input, 3 not
found.`,
		Example: `  grantwatch replay --at 2024-06-01T00:00:00Z events/scenarios
  export GRANTWATCH_TABLE=grantwatch-Table-1ABC
  grantwatch grants --kind secondary --state active
  grantwatch history 0102381c786c
  grantwatch completion bash > /etc/bash_completion.d/grantwatch`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable, so that an unknown command reaches Args (a usage error) instead of printing help with status 0.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return unknownCommand(cmd, args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  grantwatch help grants"
		case "completion":
			group(c)
			c.Example = `  grantwatch completion bash > /etc/bash_completion.d/grantwatch
  grantwatch completion zsh > "${fpath[1]}/_grantwatch"
  grantwatch completion fish > ~/.config/fish/completions/grantwatch.fish`
			for _, sh := range c.Commands() {
				sh.Example = "  source <(grantwatch completion " + sh.Name() + ")"
			}
		}
	}
	typedArgs(root)
	return root
}

// typedArgs makes every command's argument errors usage errors (exit 2): cobra's own validators return plain
// errors, which the exit code cannot be told from.
func typedArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				if _, ok := err.(*exitError); ok {
					return err
				}
				return usageError("%s: %v", cmd.CommandPath(), err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		typedArgs(sub)
	}
}

// unknownCommand is the usage error for an argument where a command was expected, with cobra's suggestions.
func unknownCommand(cmd *cobra.Command, name string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	hint := ""
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		hint = "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError("unknown command %q for %q%s (commands: %s)", name, cmd.CommandPath(), hint, strings.Join(names, ", "))
}

// group makes a command that only holds subcommands print its help when called alone, and refuse anything else.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(c, args[0])
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

// version describes the build from what the Go toolchain recorded in the binary: module version, VCS revision and
// time, whether the tree was modified, and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown: built without module information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	var parts []string
	if rev := settings["vcs.revision"]; rev != "" {
		parts = append(parts, "commit "+rev[:min(len(rev), 12)])
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	if settings["vcs.modified"] == "true" {
		parts = append(parts, "modified")
	}
	parts = append(parts, bi.GoVersion)
	return v + " (" + strings.Join(parts, ", ") + ")"
}
