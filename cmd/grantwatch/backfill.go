package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func init() { commands = append(commands, newBackfillCmd) }

// backfillStore is what backfill needs of a store: grants, and checkpoints.
type backfillStore interface {
	app.Store
	app.CheckpointStore
}

func newBackfillCmd() *cobra.Command {
	var (
		since, until, table, runID string
		includeUse                 bool
		workers                    int
	)
	cmd := &cobra.Command{
		Use:   "backfill --since RFC3339 --until RFC3339 [--table NAME] [--include-use] [--run-id ID]",
		Short: "Read CloudTrail's event history (LookupEvents, last 90 days) into grantwatch; resumable with --table",
		Long: `backfill reads CreateGrant, RetireGrant and RevokeGrant (and, with --include-use, Decrypt, GenerateDataKey*,
DescribeKey) from CloudTrail's event history for [since, until) and applies them like live events; events already
recorded count as duplicates. With --table, progress is checkpointed in the table: run the same command again
after an interruption and it continues where it stopped (the run id is derived from the window and event names
unless --run-id is given). CloudTrail allows 2 LookupEvents requests per second per account and Region, i.e. at
most 100 events/s; the console's Event history shares that quota.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := app.BackfillRequest{IncludeUse: includeUse, RunID: runID}
			var probs param.Problems
			var err error
			req.Since, err = param.Time("--since", since)
			probs.Check(err)
			req.Until, err = param.Time("--until", until)
			probs.Check(err)
			if err := probs.Err(); err != nil {
				return usageError("backfill: %v", err)
			}
			return runBackfill(cmd, req, table, workers)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "start of the window, RFC 3339 (at most 90 days back; older is clamped)")
	f.StringVar(&until, "until", "", "end of the window (exclusive), RFC 3339")
	f.StringVar(&table, "table", "", "DynamoDB table (checkpointed, resumable); memory when empty (AWS_ENDPOINT_URL is honoured)")
	f.BoolVar(&includeUse, "include-use", false, "also read Decrypt, GenerateDataKey*, DescribeKey: every call in the Region, often millions")
	f.StringVar(&runID, "run-id", "", "name the run (default: derived from the window and event names)")
	f.IntVar(&workers, "workers", app.DefaultBackfillWorkers, "slices read in parallel (all share the 2 requests/s limit)")
	return cmd
}

func runBackfill(cmd *cobra.Command, req app.BackfillRequest, table string, workers int) error {
	// Refuse a bad window before anything is set up (or warned about).
	if _, err := app.NewBackfill(nil, nil, nil, nil, time.Now).Plan(req); err != nil {
		return usageError("backfill: %v", err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := cmd.ErrOrStderr()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("backfill: load AWS config: %w", err)
	}
	var st backfillStore = store.NewMemory()
	if table != "" {
		if st, err = store.Open(cmd.Context(), dynamodb.NewFromConfig(awsCfg), table); err != nil {
			return err
		}
	} else {
		log.Warn("no --table: grants and checkpoints are kept in memory and lost at exit; an interrupted run starts over")
	}
	if req.IncludeUse {
		log.Warn("--include-use reads every Decrypt, GenerateDataKey* and DescribeKey call in the Region (LookupEvents cannot filter on the caller): expect hours per million events")
	}
	svc := app.New(st, nil, lifecycle.DefaultConfig(), log, time.Now)
	bf := app.NewBackfill(lookup.New(awsCfg, lookup.Options{}), st, svc, log, time.Now)
	bf.Workers = workers
	p := newProgress(stderr)
	bf.Progress = p.update
	rep, err := bf.Run(ctx, req)
	p.done()
	if errors.Is(err, app.ErrBadBackfill) {
		return usageError("backfill: %v", err)
	}
	printBackfill(cmd.OutOrStdout(), rep, table)
	switch {
	case err != nil && ctx.Err() != nil:
		return &exitError{code: exitRejected, err: fmt.Errorf("backfill interrupted; run the same command again to continue run %s", rep.RunID)}
	case err != nil:
		return err
	case rep.Progress.Stats.Rejected > 0:
		return &exitError{code: exitRejected, err: fmt.Errorf("backfill: %d records could not be used (recorded as rejected)", rep.Progress.Stats.Rejected)}
	}
	return nil
}

func printBackfill(w io.Writer, rep app.BackfillReport, table string) {
	s := rep.Progress.Stats
	state := "complete"
	if !rep.Complete {
		state = "incomplete"
	}
	fmt.Fprintf(w, "backfill %s %s: %s .. %s, %s\n", rep.RunID, state, rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), strings.Join(rep.Names, ", "))
	fmt.Fprintf(w, "events %d: applied %d, duplicates %d, ignored %d, rejected %d (slices %d/%d, %d pages this run)\n",
		s.Events, s.Applied, s.Duplicates, s.Ignored, s.Rejected, rep.Progress.SlicesDone, rep.Progress.Slices, rep.Progress.Pages)
	if table == "" {
		fmt.Fprintln(w, "store: memory (nothing was kept; pass --table to record grants and checkpoints)")
	}
}

// progress shows the run's progress on stderr: a one-line bar redrawn with \r on a terminal, a log line every 15 s
// elsewhere (CI logs, files). Hand-written: a bar that redraws one line needs no dependency, and the libraries in
// the module cache (none for progress bars) would add one to every binary.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	last     time.Time
	every    time.Duration
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, every: 15 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal, p.every = true, 200*time.Millisecond
		}
	}
	return p
}

func (p *progress) update(bp app.BackfillProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	rate := 0.0
	if s := bp.Elapsed.Seconds(); s > 0 {
		rate = float64(bp.EventsThisRun) / s
	}
	eta := "?"
	if bp.ETA > 0 {
		eta = bp.ETA.String()
	}
	if !p.terminal {
		slog.New(slog.NewJSONHandler(p.w, nil)).Info("backfill progress", "runId", bp.RunID, "events", bp.Stats.Events,
			"eventsPerSecond", fmt.Sprintf("%.1f", rate), "percent", int(bp.Fraction*100), "eta", eta,
			"slicesDone", bp.SlicesDone, "slices", bp.Slices)
		return
	}
	const width = 24
	filled := int(bp.Fraction * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3d%%  %d events  %.1f ev/s  ETA %-9s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		int(bp.Fraction*100), bp.Stats.Events, rate, eta)
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
