package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/archive"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func newReplayCmd() *cobra.Command {
	var (
		asJSON bool
		at     string
		maxAge time.Duration
		table  string
		topic  string // publish alerts like the functions do (sweep.go)
		arch   archiveFlags
	)
	cmd := &cobra.Command{
		Use:   "replay [--json] [--at RFC3339] [--secondary-max-age DURATION] [--table NAME] [--since T] [--until T] [--account ID] [--region R] PATH|s3://BUCKET/PREFIX...",
		Short: "Replay CloudTrail files or a trail's S3 archive through the grant lifecycle engine, then sweep once",
		Long: `Replay reads CloudTrail KMS records from files or folders (*.json, *.jsonl, *.json.gz and *.jsonl.gz,
walked recursively, in lexical path order; gzip is recognised by content), or from a trail's S3 archive given as
s3://bucket/prefix: EventBridge events, JSON arrays, JSON Lines, bare records, CloudTrail log files
{"Records":[...]}, LookupEvents output and CloudWatch Logs subscription payloads. Digest files and Insights
records are counted and ignored. --since, --until, --account and --region select the files of an archive by its
layout (AWSLogs/[org-id/]account/CloudTrail/region/YYYY/MM/DD/), in S3 or in a folder. It applies the records,
runs one sweep at --at and prints the grants and alerts.
Exit status: 0 when nothing was rejected, 1 when something was rejected (the rest was processed), 2 on usage errors
(including paths that hold nothing to read).`,
		RunE: func(cmd *cobra.Command, paths []string) error {
			if len(paths) == 0 {
				return usageError("replay: at least one PATH is required")
			}
			sweepAt := time.Now().UTC()
			if at != "" {
				t, err := param.Time("--at", at)
				if err != nil {
					return usageError("replay: %v", err)
				}
				sweepAt = t
			}
			rules := replay.Rules(lifecycle.DefaultConfig()) // replay's input is complete: no settle window
			if cmd.Flags().Changed("secondary-max-age") {
				rules.SecondaryMaxAge = maxAge
			}
			if err := rules.Validate(); err != nil {
				return usageError("replay: %v", err)
			}
			st, err := openReplayStore(cmd, table)
			if err != nil {
				return err
			}
			// Alerts go to the report, not to a log: stderr stays quiet unless something is wrong.
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			// The sweep runs at --at: archiving keeps what it needs even when --at is before now.
			svc := app.New(st, alert.Discard{}, rules, log, time.Now).WithSweepTime(sweepAt).WithJobs(st)
			if topic != "" { // claim and publish alerts through SNS, as IngestFunction and SweepFunction do
				n, err := snsNotifier(cmd, topic)
				if err != nil {
					return err
				}
				svc = svc.WithNotifier(n, 0)
			}
			r := replay.New(svc)
			if r.Filter, err = arch.filter(); err != nil {
				return err
			}
			s3URLs := slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return !isS3(p) })
			switch {
			case len(s3URLs) == len(paths):
				err = replayS3(cmd.Context(), r, s3URLs, arch.parallel)
			case len(s3URLs) > 0:
				return usageError("replay: give either paths or s3:// URLs, not both")
			default:
				err = r.Paths(cmd.Context(), paths)
			}
			if errors.Is(err, replay.ErrNoInput) {
				return usageError("%v", err)
			}
			if err != nil {
				return err
			}
			rep, err := r.Finish(cmd.Context(), sweepAt)
			if err != nil {
				return err
			}
			noteInputs(cmd.ErrOrStderr(), rep.Inputs)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := printReport(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			if rep.Stats.Rejected > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("replay: %d input(s) rejected", rep.Stats.Rejected)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object (the replay contract)")
	f.StringVar(&at, "at", "", "sweep time, RFC3339 (default: now)")
	f.DurationVar(&maxAge, "secondary-max-age", lifecycle.DefaultConfig().SecondaryMaxAge, "age after which an active secondary grant alerts")
	f.StringVar(&table, "table", "", "DynamoDB table to use instead of memory (AWS_ENDPOINT_URL is honoured)")
	f.StringVar(&topic, "topic", "", "SNS topic ARN: publish each alert once, as the functions do (default: report only)")
	f.StringVar(&arch.since, "since", "", "archive: read files delivered from this time on, RFC3339 (prunes date folders)")
	f.StringVar(&arch.until, "until", "", "archive: read date folders up to the day after this time, RFC3339")
	f.StringSliceVar(&arch.accounts, "account", nil, "archive: only these account ids (repeat or comma-separate)")
	f.StringSliceVar(&arch.regions, "region", nil, "archive: only these Regions (repeat or comma-separate)")
	f.IntVar(&arch.parallel, "parallel", archive.DefaultParallel, "s3: objects downloaded at once, ahead of the replay")
	return cmd
}

// noteInputs names on stderr what the replay passed over, so that nothing is left out silently.
func noteInputs(w io.Writer, in *replay.Inputs) {
	if in == nil {
		return
	}
	for _, f := range in.Skipped {
		fmt.Fprintf(w, "replay: skipped %s: not *.json, *.jsonl, *.json.gz or *.jsonl.gz\n", f)
	}
	fmt.Fprintf(w, "replay: %d files read; passed over: %d skipped, %d digest files, %d filtered out; %d Insights records ignored\n",
		in.Files, in.SkippedFiles, in.DigestFiles, in.Filtered, in.InsightsRecords)
}

// replayStore keeps grants and the job registry together, in memory or in the table.
type replayStore interface {
	app.Store
	app.JobStore
}

func openReplayStore(cmd *cobra.Command, table string) (replayStore, error) {
	if table == "" {
		return store.NewMemory(), nil
	}
	awsCfg, err := config.LoadDefaultConfig(cmd.Context())
	if err != nil {
		return nil, fmt.Errorf("replay: load AWS config: %w", err)
	}
	return store.Open(cmd.Context(), dynamodb.NewFromConfig(awsCfg), table)
}

// printReport writes the human view: a table of grants, then alerts, stats and errors.
func printReport(w io.Writer, rep replay.Report) error {
	fmt.Fprintf(w, "Grants (%d)\n", len(rep.Grants))
	t := tablewriter.NewWriter(w)
	t.Header("Grant", "Key", "Kind", "State", "Parent", "Created", "Ended", "Why this kind")
	for _, g := range rep.Grants {
		ended := g.EndedAt
		if g.EndedBy != "" {
			ended += " (" + g.EndedBy + ")"
		}
		if err := t.Append(short(g.GrantID), keyID(g.KeyARN), g.Kind, g.State, short(g.ParentGrantID), g.CreatedAt, ended, g.KindReason); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nAlerts (%d)\n", len(rep.Alerts))
	for _, a := range rep.Alerts {
		fmt.Fprintf(w, "  [%s] %s  key %s  %s\n", strings.ToUpper(a.Severity), a.Type, keyID(a.KeyARN), a.Message)
	}
	s := rep.Stats
	fmt.Fprintf(w, "\nEvents %d: applied %d, duplicates %d, ignored %d, rejected %d\n", s.Events, s.Applied, s.Duplicates, s.Ignored, s.Rejected)
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "  rejected %s: %s\n", e.Source, e.Error)
	}
	return nil
}

// short keeps grant ids readable in a terminal; --json always has the full id.
func short(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:16] + "…"
}

func keyID(arn string) string {
	if _, id, ok := strings.Cut(arn, ":key/"); ok {
		return id
	}
	return arn
}
