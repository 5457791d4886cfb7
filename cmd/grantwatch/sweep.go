package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// `grantwatch sweep` runs what SweepFunction runs, against a table, from a shell (demo, operations).
func init() { commands = append(commands, newSweepCmd) }

func newSweepCmd() *cobra.Command {
	var (
		table, topic, at string
		remind           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sweep --table NAME [--topic ARN] [--at RFC3339] [--remind DURATION]",
		Short: "Evaluate the time-based rules over the active grants; with --topic, deliver the notices due",
		Long: `sweep runs one sweep as SweepFunction does: it reads the keys to visit from the table's index and
evaluates every rule at --at.

With --topic it delivers: it claims the alerts, reminders and resolutions due, publishes each to the SNS topic and
confirms it sent. Delivery is at least once: a notice not confirmed within its lease is sent again by a later sweep,
under the same notice id. Without --topic it is a dry run: it prints what it would send and writes, claims and sends
nothing, so a later sweep with --topic still delivers all of it.

A key that cannot be swept is named on stderr and the others are still swept. Exit status: 0; 1 when a key could
not be swept or a notice could not be published (both are tried again by the next sweep); 2 on usage errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if table == "" {
				return usageError("sweep: --table is required")
			}
			now := time.Now().UTC()
			if at != "" {
				t, err := param.Time("--at", at)
				if err != nil {
					return usageError("sweep: %v", err)
				}
				now = t
			}
			awsCfg, err := config.LoadDefaultConfig(cmd.Context())
			if err != nil {
				return fmt.Errorf("sweep: load AWS config: %w", err)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			st, err := store.Open(cmd.Context(), dynamodb.NewFromConfig(awsCfg), table)
			if err != nil {
				return err
			}
			svc := app.New(st, nil, lifecycle.DefaultConfig(), log, func() time.Time { return now }).WithJobs(st)
			out := cmd.OutOrStdout()
			if topic == "" {
				svc = svc.WithNotifier(alert.Preview{W: out}, remind).DryRun()
			} else {
				n, err := snsNotifier(cmd, topic)
				if err != nil {
					return err
				}
				svc = svc.WithNotifier(n, remind)
			}
			rep, err := svc.Sweep(cmd.Context(), now)
			if err != nil {
				return err
			}
			if topic == "" {
				fmt.Fprintf(out, "dry run at %s: %d keys swept, %d alerts would be raised, %d notices would be sent; nothing was written (deliver with --topic ARN)\n",
					now.Format(time.RFC3339), rep.Keys, len(rep.Alerts), rep.Notices)
			} else {
				fmt.Fprintf(out, "swept %d keys at %s: %d alerts raised, %d resolved, %d notices sent (%d sent again after their lease)\n",
					rep.Keys, now.Format(time.RFC3339), len(rep.Alerts), len(rep.Resolved), rep.Notices, rep.NoticesPastLease)
			}
			return sweepFailures(rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&table, "table", "", "DynamoDB table (AWS_ENDPOINT_URL is honoured)")
	f.StringVar(&topic, "topic", "", "SNS topic ARN to deliver to (default: a dry run that prints what it would send)")
	f.StringVar(&at, "at", "", "sweep time, RFC3339 (default: now)")
	f.DurationVar(&remind, "remind", 0, "re-notify open alerts this often (0: never)")
	return cmd
}

// sweepFailures is the exit error of a sweep that left something for the next one: keys it could not sweep (each
// already logged with its error), notices it could not publish.
func sweepFailures(rep app.SweepReport) error {
	var parts []string
	if n := len(rep.Failed); n > 0 {
		keys := make([]string, n)
		for i, f := range rep.Failed {
			keys[i] = f.KeyARN
		}
		parts = append(parts, fmt.Sprintf("%d key(s) not swept (%s)", n, strings.Join(keys, ", ")))
	}
	if rep.NoticesFailed > 0 {
		parts = append(parts, fmt.Sprintf("%d notice(s) not published", rep.NoticesFailed))
	}
	if len(parts) == 0 {
		return nil
	}
	return &exitError{code: exitRejected, err: fmt.Errorf("sweep: %s; the next sweep tries again", strings.Join(parts, ", "))}
}

// snsNotifier publishes to topic with the shared AWS configuration (AWS_ENDPOINT_URL is honoured).
func snsNotifier(cmd *cobra.Command, topic string) (app.Notifier, error) {
	awsCfg, err := config.LoadDefaultConfig(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return alert.NewSNS(sns.NewFromConfig(awsCfg), topic), nil
}
