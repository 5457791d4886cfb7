package main

// The flags commands share, under one name and one meaning everywhere: -o/--output, --table (default
// $GRANTWATCH_TABLE), --at (the time the command evaluates at), --timeout, --local-time.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
)

// tableEnv names the table when --table is not given.
const tableEnv = "GRANTWATCH_TABLE"

// The environment of a whole organization: the names people know accounts by (for keys and for alerts sent with
// --topic, as ACCOUNT_NAMES is for the functions), and the accounts and Regions --accounts all and --regions all
// mean (as MEMBER_ACCOUNT_IDS and MEMBER_REGIONS are for the functions).
const (
	accountNamesEnv = "GRANTWATCH_ACCOUNT_NAMES"
	accountsEnv     = "GRANTWATCH_ACCOUNTS"
	regionsEnv      = "GRANTWATCH_REGIONS"
)

// accountNames reads $GRANTWATCH_ACCOUNT_NAMES (id=name pairs); unset is no names.
func accountNames() (map[string]string, error) {
	v := os.Getenv(accountNamesEnv)
	if v == "" {
		return nil, nil
	}
	return param.AccountNames("$"+accountNamesEnv, v)
}

// flags holds the shared flags as typed; parse checks them.
type flags struct {
	output    string
	asJSON    bool // --json, the replay contract's spelling of -o json
	table     string
	at        string
	timeout   string
	localTime bool
}

// options are the shared flags, checked.
type options struct {
	format       string
	table        string // "" when the command runs in memory
	tableFromEnv bool
	at           time.Time // zero when --at was not given
	timeout      time.Duration
	local        bool
}

func (f *flags) addOutput(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", outTable,
		"output format: table (fits the terminal), wide (every column, in full), json or csv (complete, for scripts)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputs, cobra.ShellCompDirectiveNoFileComp))
}

// addJSON adds --json as another spelling of -o json; hidden where only older scripts use it.
func (f *flags) addJSON(cmd *cobra.Command, hidden bool) {
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "the same as -o json")
	if hidden {
		_ = cmd.Flags().MarkHidden("json")
	}
}

func (f *flags) addTable(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&f.table, "table", "", usage+" (default $"+tableEnv+"; AWS_ENDPOINT_URL is honoured)")
}

func (f *flags) addAt(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&f.at, "at", "", usage)
}

func (f *flags) addTimeout(cmd *cobra.Command, def time.Duration) {
	cmd.Flags().StringVar(&f.timeout, "timeout", human(def), "the longest to wait for one AWS call, retries included (90s, 2m)")
}

func (f *flags) addLocalTime(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.localTime, "local-time", false, "print times in the local time zone instead of UTC (table and csv; JSON stays UTC)")
}

// parse checks the shared flags the command has, reporting every bad one at once. memory says whether the command
// can run without a table (then an explicit --table "" means memory, whatever $GRANTWATCH_TABLE says).
func (f *flags) parse(cmd *cobra.Command, memory bool) (options, error) {
	o := options{format: f.output, local: f.localTime, timeout: defaultTimeout}
	var probs param.Problems
	fl := cmd.Flags()
	if fl.Lookup("output") != nil && !slices.Contains(outputs, f.output) {
		probs.Check(&app.InputError{Field: "--output", Value: f.output, Problem: "is not one of " + strings.Join(outputs, ", ")})
	}
	if f.asJSON {
		if fl.Changed("output") && f.output != outJSON {
			probs.Check(&app.InputError{Field: "--json", Problem: "asks for -o json, and --output asks for " + f.output + ": give one"})
		}
		o.format = outJSON
	}
	if fl.Lookup("table") != nil {
		o.table = f.table
		if !fl.Changed("table") {
			o.table, o.tableFromEnv = os.Getenv(tableEnv), os.Getenv(tableEnv) != ""
		}
		if o.table == "" && !memory {
			probs.Check(&app.InputError{Field: "--table", Problem: "is required: give the stack's TableName output, or set " + tableEnv})
		}
	}
	if f.at != "" {
		name := "--at"
		if fl.Changed("now") {
			name = "--now"
		}
		t, err := param.Time(name, f.at)
		probs.Check(err)
		o.at = t
	}
	if fl.Lookup("timeout") != nil {
		d, err := param.Age("--timeout", f.timeout)
		probs.Check(err)
		o.timeout = d
	}
	return o, probs.Err()
}

// now is --at, or the wall clock.
func (o options) now() time.Time {
	if !o.at.IsZero() {
		return o.at
	}
	return time.Now().UTC()
}

// intRange checks a numeric flag against its range.
func intRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return &app.InputError{Field: name, Value: strconv.Itoa(v), Problem: fmt.Sprintf("is out of range %d..%d", lo, hi)}
	}
	return nil
}

// completeFixed completes a flag from a fixed list.
func completeFixed[T ~string](cmd *cobra.Command, name string, values []T) {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(s, cobra.ShellCompDirectiveNoFileComp))
}

// noArgs refuses arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
