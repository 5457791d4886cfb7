package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/archive"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/replay"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// maxParallel bounds --parallel: more downloads at once than this only queue behind the replay.
const maxParallel = 64

func newReplayCmd() *cobra.Command {
	var (
		fl     flags
		maxAge string
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

The store is memory unless --table (or $GRANTWATCH_TABLE) names a DynamoDB table; --table "" replays in memory
whatever the environment says. --json (or -o json) prints the replay contract's one JSON object; -o csv prints the
grants; the table fits the terminal, -o wide adds how each grant ended and why it got its kind.
Exit status: 0 when nothing was rejected, 1 when something was rejected (the rest was processed), 2 on usage errors
(including paths that hold nothing to read).`,
		Example: `  grantwatch replay --at 2024-06-01T00:00:00Z events/scenarios
  grantwatch replay --json --at 2024-06-01T00:00:00Z my-trail-logs/ > report.json
  grantwatch replay --secondary-max-age 2d creategrant.json retiregrant.json
  grantwatch replay --since 2024-05-01T00:00:00Z --until 2024-06-01T00:00:00Z --region us-east-1 s3://my-trail-bucket
  grantwatch replay --table grantwatch-Table-1ABC s3://my-trail-bucket/AWSLogs/111122223333/`,
		RunE: func(cmd *cobra.Command, paths []string) error {
			var probs param.Problems
			if len(paths) == 0 {
				probs.Check(&app.InputError{Problem: "give at least one PATH or s3:// URL to replay"})
			}
			rules := replay.Rules(lifecycle.DefaultConfig()) // replay's input is complete: no settle window
			if cmd.Flags().Changed("secondary-max-age") {
				d, err := param.Age("--secondary-max-age", maxAge)
				probs.Check(err)
				rules.SecondaryMaxAge = d
			}
			probs.Check(intRange("--parallel", arch.parallel, 1, maxParallel))
			filter, err := arch.filter()
			probs.Check(err)
			o, err := fl.parse(cmd, true)
			probs.Check(err)
			var names map[string]string
			if topic != "" { // the names are for the alerts it publishes
				names, err = accountNames()
				probs.Check(err)
			}
			if err := probs.Err(); err != nil {
				return err
			}
			if err := rules.Validate(); err != nil {
				return fmt.Errorf("the alert rules are not valid: %w", err)
			}
			sweepAt := o.now()
			s := newSession(cmd, o)
			defer s.progress.stop()
			s.topic = topic
			if o.tableFromEnv {
				fmt.Fprintf(cmd.ErrOrStderr(), "replay: into table %s (from $%s; --table \"\" replays in memory)\n", o.table, tableEnv)
			}
			st, err := replayStore(s, o.table)
			if err != nil {
				return s.fail(err)
			}
			// Alerts go to the report, not to a log: stderr stays quiet unless something is wrong.
			log := slog.New(slog.NewJSONHandler(s.progress.writer(cmd.ErrOrStderr()), &slog.HandlerOptions{Level: slog.LevelWarn}))
			// The sweep runs at --at: archiving keeps what it needs even when --at is before now.
			svc := app.New(st, alert.Discard{}, rules, log, time.Now).WithSweepTime(sweepAt).WithJobs(st)
			if topic != "" { // claim and publish alerts through SNS, as IngestFunction and SweepFunction do
				n, err := snsNotifier(s, topic, names)
				if err != nil {
					return s.fail(err)
				}
				svc = svc.WithNotifier(n, 0)
			}
			r := replay.New(svc)
			r.Filter = filter
			r.Progress = func(_ string, files int, st replay.Stats) {
				s.progress.set(fmt.Sprintf("%d files, %d events", files, st.Events), "files", files, "events", st.Events,
					"applied", st.Applied, "rejected", st.Rejected)
			}
			s3URLs := slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return !isS3(p) })
			switch {
			case len(s3URLs) == len(paths):
				err = replayS3(cmd.Context(), s, r, s3URLs, arch.parallel)
			case len(s3URLs) > 0:
				return usageError("replay: give either paths or s3:// URLs, not both")
			default:
				err = r.Paths(cmd.Context(), paths)
			}
			if errors.Is(err, replay.ErrNoInput) {
				return usageError("%v", err)
			}
			if err != nil {
				return s.fail(err)
			}
			s.progress.set("sweeping at " + sweepAt.Format(time.RFC3339))
			rep, err := r.Finish(cmd.Context(), sweepAt)
			if err != nil {
				return s.fail(err)
			}
			s.progress.stop()
			noteInputs(cmd.ErrOrStderr(), rep.Inputs)
			p := s.printer(o)
			switch p.format {
			case outJSON:
				err = p.json(rep)
			case outCSV:
				rows := make([][]string, 0, len(rep.Grants))
				for _, g := range rep.Grants {
					rows = append(rows, []string{g.GrantID, g.KeyARN, g.Kind, g.State, g.ParentGrantID, g.CreatedAt, g.EndedAt, g.EndedBy})
				}
				err = p.csv([]string{"grantId", "keyArn", "kind", "state", "parentGrantId", "createdAt", "endedAt", "endedBy"}, rows)
			default:
				err = printReport(p, rep, sweepAt)
			}
			if err != nil {
				return err
			}
			if rep.Stats.Rejected > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("replay: %d input(s) rejected (listed under Errors, or in \"errors\" with --json); the rest was applied", rep.Stats.Rejected)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	fl.addJSON(cmd, false)
	fl.addOutput(cmd)
	fl.addAt(cmd, "sweep time, RFC 3339 (default: now)")
	f.StringVar(&maxAge, "secondary-max-age", human(lifecycle.DefaultConfig().SecondaryMaxAge), "age after which an active secondary grant alerts (36h, 2d, 1w)")
	fl.addTable(cmd, "DynamoDB table to replay into instead of memory")
	f.StringVar(&topic, "topic", "", "SNS topic ARN: publish each alert once, as the functions do (default: report only)")
	f.StringVar(&arch.since, "since", "", "archive: read files delivered from this time on, RFC 3339 (prunes date folders)")
	f.StringVar(&arch.until, "until", "", "archive: read date folders up to the day after this time, RFC 3339")
	f.StringSliceVar(&arch.accounts, "account", nil, "archive: only these account ids (repeat or comma-separate)")
	f.StringSliceVar(&arch.regions, "region", nil, "archive: only these Regions (repeat or comma-separate)")
	f.IntVar(&arch.parallel, "parallel", archive.DefaultParallel, fmt.Sprintf("s3: objects downloaded at once, ahead of the replay (1..%d)", maxParallel))
	fl.addTimeout(cmd, defaultTimeout)
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

// replayBackend keeps grants and the job registry together, in memory or in the table.
type replayBackend interface {
	app.Store
	app.JobStore
}

func replayStore(s *session, table string) (replayBackend, error) {
	if table == "" {
		return store.NewMemory(), nil
	}
	cfg, err := s.aws()
	if err != nil {
		return nil, err
	}
	return store.Open(s.cmd.Context(), dynamodb.NewFromConfig(cfg), table)
}

// printReport writes the people's view: grants, alerts, stats and the inputs that were rejected.
func printReport(p *printer, rep replay.Report, at time.Time) error {
	rows := make([][]string, 0, len(rep.Grants))
	for _, g := range rep.Grants {
		created, _ := time.Parse(time.RFC3339, g.CreatedAt)
		ended, _ := time.Parse(time.RFC3339, g.EndedAt)
		rows = append(rows, []string{g.GrantID, g.KeyARN, g.Kind, g.State, g.ParentGrantID, g.CreatedAt, activeFor(created, ended, at),
			g.EndedAt, g.EndedBy, g.KindReason})
	}
	cols := grantCols()[:9]
	cols = append(cols, col{head: "Why this kind", fit: prose, min: 30, wide: true})
	if err := p.table("Grants ("+itoa(len(rows))+")", cols, rows); err != nil {
		return err
	}
	// One alert a paragraph: a line that says what and where, then the message. (Other tools look for the
	// "[SEVERITY] type" of the first line.)
	fmt.Fprintf(p.w, "\nAlerts (%d)\n", len(rep.Alerts))
	wide := p.format == outWide
	for _, a := range rep.Alerts {
		head := "[" + strings.ToUpper(a.Severity) + "] " + a.Type
		if a.GrantID != "" {
			head += "  grant " + cellText(ident, a.GrantID, wide)
		}
		key := a.KeyARN
		if !wide {
			key = middle(key, max(p.width-2-len(head)-len("  key "), 24))
		}
		p.line(2, "%s  key %s", head, key)
		p.line(4, "%s", a.Message)
	}
	st := rep.Stats
	fmt.Fprintf(p.w, "\nEvents %d: applied %d, duplicates %d, ignored %d, rejected %d\n", st.Events, st.Applied, st.Duplicates, st.Ignored, st.Rejected)
	if len(rep.Errors) == 0 {
		return nil
	}
	rows = rows[:0]
	for _, e := range rep.Errors {
		rows = append(rows, []string{e.Source, rejection(e)})
	}
	return p.table("\nRejected ("+itoa(len(rows))+")", []col{{head: "Source", fit: arn, min: 30}, {head: "Error", fit: text, min: 30}}, rows)
}

// rejection words why an input was rejected for the table, whose Source column names it already: what the decoder
// found, without the package that found it.
func rejection(e replay.Rejected) string {
	var (
		te *trail.Error
		pe *fs.PathError
	)
	switch {
	case errors.As(e.Err, &te):
		var parts []string
		if te.Context != "" {
			parts = append(parts, te.Context)
		}
		if te.EventID != "" {
			parts = append(parts, "event "+te.EventID)
		}
		why := te.Reason
		if te.Err != nil && !errors.Is(te.Err, trail.ErrIgnored) {
			why += ": " + te.Err.Error()
		}
		return strings.Join(append(parts, why), ": ")
	case errors.As(e.Err, &pe) && errors.Is(pe.Err, fs.ErrNotExist):
		return "no such file or folder: check the path"
	case errors.As(e.Err, &pe):
		return "cannot read it: " + pe.Err.Error()
	}
	return e.Error
}
