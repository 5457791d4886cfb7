package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// Issue 3: `grantwatch sweep` runs what SweepFunction runs, against a table, from a shell (demo, operations).
func init() { commands = append(commands, newSweepCmd) }

func newSweepCmd() *cobra.Command {
	var (
		table, topic, at string
		remind           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sweep --table NAME [--topic ARN] [--at RFC3339] [--remind DURATION]",
		Short: "Evaluate the time-based rules over the active grants and deliver the alerts, reminders and resolutions due",
		Long: `sweep runs one sweep as SweepFunction does: it reads the keys with active grants from the table's index,
evaluates every rule at --at, claims the notices due (each is sent once, whoever sweeps) and publishes them to
--topic, or logs them to stderr without --topic.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if table == "" {
				return usageError("sweep: --table is required")
			}
			now := time.Now().UTC()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageError("sweep: --at %q is not an RFC3339 time such as 2024-06-01T00:00:00Z", at)
				}
				now = t
			}
			awsCfg, err := config.LoadDefaultConfig(cmd.Context())
			if err != nil {
				return fmt.Errorf("sweep: load AWS config: %w", err)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			var notifier app.Notifier = alert.Log{Logger: log}
			if topic != "" {
				if notifier, err = snsNotifier(cmd, topic); err != nil {
					return err
				}
			}
			st := store.New(dynamodb.NewFromConfig(awsCfg), table)
			svc := app.New(st, nil, lifecycle.DefaultConfig(), log, func() time.Time { return now }).
				WithNotifier(notifier, remind).WithJobs(st)
			rep, err := svc.Sweep(cmd.Context(), now)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "swept %d keys at %s: %d alerts raised, %d resolved, %d notices sent\n",
				rep.Keys, now.Format(time.RFC3339), len(rep.Alerts), len(rep.Resolved), rep.Notices)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&table, "table", "", "DynamoDB table (AWS_ENDPOINT_URL is honoured)")
	f.StringVar(&topic, "topic", "", "SNS topic ARN to publish to (default: log the notices)")
	f.StringVar(&at, "at", "", "sweep time, RFC3339 (default: now)")
	f.DurationVar(&remind, "remind", 0, "re-notify open alerts this often (0: never)")
	return cmd
}

// snsNotifier publishes to topic with the shared AWS configuration (AWS_ENDPOINT_URL is honoured).
func snsNotifier(cmd *cobra.Command, topic string) (app.Notifier, error) {
	awsCfg, err := config.LoadDefaultConfig(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return alert.NewSNS(sns.NewFromConfig(awsCfg), topic), nil
}
