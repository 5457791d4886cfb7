package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// newMigrateCmd is `grantwatch table migrate`: store.Migrate on a table, printing what it did.
func newMigrateCmd() *cobra.Command {
	var (
		name   string
		dryRun bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "migrate --table NAME [--dry-run]",
		Short: "Convert a table written by an earlier grantwatch to the current item format",
		Long: `Migrate rewrites every key's items in format ` + fmt.Sprint(store.FormatVersion) + `, builds its meta record and moves grants
that ended more than the rules' retention ago to the key's archive, then stamps the table. It is idempotent: run it
again after an interruption. Stop ingest (the EventBridge rules) while it runs; events EventBridge keeps retrying
arrive afterwards.`,
		Example: `  grantwatch table migrate --table grantwatch-Table-1ABC --dry-run
  grantwatch table migrate --table grantwatch-Table-1ABC`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageError("table migrate: --table is required")
			}
			awsCfg, err := config.LoadDefaultConfig(cmd.Context())
			if err != nil {
				return fmt.Errorf("table migrate: load AWS config: %w", err)
			}
			rep, err := store.Migrate(cmd.Context(), dynamodb.NewFromConfig(awsCfg), name, time.Now(), lifecycle.DefaultConfig(), dryRun)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			verb := "converted"
			if dryRun {
				verb = "would convert"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "table %s (format %d): %s %d keys (%d grants, %d of them to the archive); %d keys were current; %d Bedrock job records written\n",
				rep.Table, rep.From, verb, rep.Keys, rep.Grants, rep.Archived, rep.KeysCurrent, rep.JobRecords)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "table", "", "table name")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change and write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
