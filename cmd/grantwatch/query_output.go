package main

// Shared by the read commands grants, history and keys: the --table/--output/--local-time flags, the store wiring,
// exit codes and output formats.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// exitNotFound is the exit code of a read command asked for something that is not recorded. Scripts can tell it
// from usage errors (2) and failures (1).
const exitNotFound = 3

// tableEnv names the table when --table is not given.
const tableEnv = "GRANTWATCH_TABLE"

// maxCLIGrants bounds what grants prints: beyond it, narrow the filter or use the API's pagination.
const maxCLIGrants = 100000

// readFlags are the flags every read command has.
type readFlags struct {
	table     string
	output    string
	localTime bool
	now       time.Time // what "now" is for --older-than; zero means the wall clock
}

func (f *readFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", os.Getenv(tableEnv), "DynamoDB table (default $"+tableEnv+"); AWS_ENDPOINT_URL is honoured")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table, json or csv")
	fl.BoolVar(&f.localTime, "local-time", false, "print times in the local time zone instead of UTC (table and csv)")
}

// query checks the common flags and wires the use case to the table.
func (f *readFlags) query(cmd *cobra.Command) (*app.Query, error) {
	switch f.output {
	case "table", "json", "csv":
	default:
		return nil, usageError("%s: --output %q is not one of table, json, csv", cmd.Name(), f.output)
	}
	if f.table == "" {
		return nil, usageError("%s: --table is required (or set %s)", cmd.Name(), tableEnv)
	}
	awsCfg, err := config.LoadDefaultConfig(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("%s: load AWS config: %w", cmd.Name(), err)
	}
	clock := time.Now
	if !f.now.IsZero() {
		clock = func() time.Time { return f.now }
	}
	return app.NewQuery(store.NewReader(dynamodb.NewFromConfig(awsCfg), f.table), clock), nil
}

// queryError gives use-case errors their exit codes: invalid input is a usage error, not found has its own code.
func queryError(cmd string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, app.ErrInvalid):
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", cmd, err)}
	case errors.Is(err, app.ErrNotFound):
		return &exitError{code: exitNotFound, err: fmt.Errorf("%s: %w", cmd, err)}
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// at formats a time as RFC 3339, in UTC or the local zone; a missing time is empty.
func (f *readFlags) at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if f.localTime {
		return t.Local().Format(time.RFC3339)
	}
	return t.UTC().Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeRows prints rows as an aligned table or as CSV, by --output.
func (f *readFlags) writeRows(w io.Writer, header []string, rows [][]string) error {
	if f.output == "csv" {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	}
	t := tablewriter.NewWriter(w)
	h := make([]any, len(header))
	for i, s := range header {
		h[i] = s
	}
	t.Header(h...)
	for _, r := range rows {
		cells := make([]any, len(r))
		for i, s := range r {
			cells[i] = s
		}
		if err := t.Append(cells...); err != nil {
			return err
		}
	}
	return t.Render()
}
