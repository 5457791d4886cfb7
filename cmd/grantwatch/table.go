package main

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/store"
)

// tableReady is `table create -o json`.
type tableReady struct {
	Table  string `json:"table"`
	Status string `json:"status"`
}

func newTableCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "table",
		Short: "Manage the grantwatch DynamoDB table",
		Example: `  grantwatch table create --table grantwatch-local
  grantwatch table migrate --table grantwatch-Table-1ABC --dry-run`,
	})
	var fl flags
	create := &cobra.Command{
		Use:   "create --table NAME",
		Short: "Create the table as template.yaml defines it (for local endpoints; SAM creates it in AWS)",
		Long: `create creates the table with the schema template.yaml deploys (indexes, TTL), waits until it is active and
stamps it with the item format. A table that exists already is waited for and left as it is.`,
		Example: `  AWS_ENDPOINT_URL=http://127.0.0.1:4566 grantwatch table create --table grantwatch-local
  GRANTWATCH_TABLE=grantwatch-local grantwatch table create -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := fl.parse(cmd, false)
			if err != nil {
				return err
			}
			s, cfg, err := openSession(cmd, o)
			defer s.progress.stop()
			if err != nil {
				return err
			}
			s.progress.set("creating table " + o.table + " and waiting until it is active")
			if err := store.CreateTable(cmd.Context(), dynamodb.NewFromConfig(cfg), o.table); err != nil {
				return s.fail(err)
			}
			p := s.printer(o)
			switch p.format {
			case outJSON:
				return p.json(tableReady{Table: o.table, Status: "ready"})
			case outCSV:
				return p.csv([]string{"table", "status"}, [][]string{{o.table, "ready"}})
			}
			fmt.Fprintf(p.w, "table %s ready\n", o.table)
			return nil
		},
	}
	fl.addTable(create, "table name")
	fl.addOutput(create)
	fl.addTimeout(create, defaultTimeout)
	cmd.AddCommand(create, newMigrateCmd())
	return cmd
}
