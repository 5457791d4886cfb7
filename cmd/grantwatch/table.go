package main

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/store"
)

func newTableCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "table", Short: "Manage the grantwatch DynamoDB table"}
	var name string
	create := &cobra.Command{
		Use:   "create --table NAME",
		Short: "Create the table as template.yaml defines it (for local endpoints; SAM creates it in AWS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageError("table create: --table is required")
			}
			awsCfg, err := config.LoadDefaultConfig(cmd.Context())
			if err != nil {
				return fmt.Errorf("table create: load AWS config: %w", err)
			}
			if err := store.CreateTable(cmd.Context(), dynamodb.NewFromConfig(awsCfg), name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "table %s ready\n", name)
			return nil
		},
	}
	create.Flags().StringVar(&name, "table", "", "table name")
	cmd.AddCommand(create, newMigrateCmd())
	return cmd
}
