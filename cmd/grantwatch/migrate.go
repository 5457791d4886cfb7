package main

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// newMigrateCmd is `grantwatch table migrate`: store.Migrate on a table, printing what it did.
func newMigrateCmd() *cobra.Command {
	var (
		fl     flags
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "migrate --table NAME [--dry-run]",
		Short: "Convert a table written by an earlier grantwatch to the current item format and index",
		Long: `Migrate rewrites every key's items in format ` + fmt.Sprint(store.FormatVersion) + `, builds its meta record and moves grants
that ended more than the rules' retention ago to the key's archive, then stamps the table; stop ingest (the
EventBridge rules) while it converts, and events EventBridge keeps retrying arrive afterwards. It then gives the
grants recorded before the GrantsByIdPrefix index existed their prefix key, so that grant id prefixes find them;
that step is safe while ingest runs (deploy the stack first). It is idempotent: run it again after an interruption.`,
		Example: `  grantwatch table migrate --table grantwatch-Table-1ABC --dry-run
  grantwatch table migrate --table grantwatch-Table-1ABC
  grantwatch table migrate -o json`,
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
			s.progress.set("migrating table " + o.table)
			rep, err := store.Migrate(cmd.Context(), dynamodb.NewFromConfig(cfg), o.table, time.Now(), lifecycle.DefaultConfig(), dryRun)
			if err != nil {
				return s.fail(err)
			}
			p := s.printer(o)
			switch p.format {
			case outJSON:
				return p.json(rep)
			case outCSV:
				return p.csv([]string{"table", "fromFormat", "keysConverted", "keysAlreadyCurrent", "grantsRewritten", "grantsArchived", "grantsIndexed",
					"grantsIndexedByAccount", "dryRun"},
					[][]string{{rep.Table, itoa(rep.From), itoa(rep.Keys), itoa(rep.KeysCurrent), itoa(rep.Grants), itoa(rep.Archived), itoa(rep.Indexed),
						itoa(rep.ByAccount), fmt.Sprint(rep.DryRun)}})
			}
			verb, index := "converted", "indexed"
			if dryRun {
				verb, index = "would convert", "would index"
			}
			p.line(0, "table %s (format %d): %s %d keys (%d grants, %d of them to the archive); %d keys were current; %s %d grants by id prefix and %d by account; %d Bedrock job records written",
				rep.Table, rep.From, verb, rep.Keys, rep.Grants, rep.Archived, rep.KeysCurrent, index, rep.Indexed, rep.ByAccount, rep.JobRecords)
			return nil
		},
	}
	fl.addTable(cmd, "table name")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change and write nothing")
	fl.addOutput(cmd)
	fl.addJSON(cmd, true)
	fl.addTimeout(cmd, defaultTimeout)
	return cmd
}
