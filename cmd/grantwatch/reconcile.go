package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/inventory"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func init() { commands = append(commands, newReconcileCmd) }

func newReconcileCmd() *cobra.Command {
	var (
		keys   []string
		table  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile [--table NAME] [--key KEY_ARN ...] [--json]",
		Short: "Compare recorded grants with KMS ListGrants: record untracked Bedrock grants, end grants KMS no longer has",
		Long: `reconcile lists the grants of every key with recorded Bedrock grants (or only the --key ones) with KMS
ListGrants and compares: a Bedrock grant KMS lists that grantwatch does not know (or has as ended) is recorded and
raises untracked-grant; a grant grantwatch has as active that KMS no longer lists is ended as "reconciled". A key
whose grants cannot be listed (access denied, throttling, ...) is reported and left as it is; the exit status is
then 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, k := range keys {
				if _, err := param.KeyARN("--key", k); err != nil {
					return usageError("reconcile: %v", err)
				}
			}
			if table == "" && len(keys) == 0 {
				return usageError("reconcile: give --table (every recorded key) or --key")
			}
			ctx := cmd.Context()
			awsCfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				return fmt.Errorf("reconcile: load AWS config: %w", err)
			}
			var st app.Store = store.NewMemory()
			if table != "" {
				if st, err = store.Open(cmd.Context(), dynamodb.NewFromConfig(awsCfg), table); err != nil {
					return err
				}
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))
			svc := app.New(st, nil, lifecycle.DefaultConfig(), log, time.Now)
			rep, err := svc.Reconcile(ctx, inventory.New(kms.NewFromConfig(awsCfg)), keys, time.Now())
			if err != nil {
				return err
			}
			if asJSON {
				err = writeJSON(cmd.OutOrStdout(), rep)
			} else {
				printReconcile(cmd.OutOrStdout(), rep)
			}
			if err != nil {
				return err
			}
			if n := rep.CouldNotList(); n > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("reconcile: the grants of %d key(s) could not be listed; nothing was changed on them", n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&keys, "key", nil, "reconcile only this key ARN (repeatable)")
	f.StringVar(&table, "table", "", "DynamoDB table (AWS_ENDPOINT_URL is honoured); memory when empty, which needs --key")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReconcile(w io.Writer, rep app.ReconcileReport) {
	list := func(ids []string) string {
		if len(ids) == 0 {
			return "-"
		}
		short := make([]string, len(ids))
		for i, id := range ids {
			short[i] = shortID(id)
		}
		return strings.Join(short, ",")
	}
	fmt.Fprintf(w, "reconcile at %s: %d key(s)\n", rep.At.Format(time.RFC3339), len(rep.Keys))
	for _, k := range rep.Keys {
		if k.CouldNotList != "" {
			fmt.Fprintf(w, "%s  could not list: %s\n", k.KeyARN, k.CouldNotList)
			continue
		}
		fmt.Fprintf(w, "%s  listed %d  added %s  ended %s\n", k.KeyARN, k.Listed, list(k.Added), list(k.Ended))
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}
