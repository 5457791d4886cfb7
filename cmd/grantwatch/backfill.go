package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/lookup"
	"github.com/grantwatch/grantwatch/pkg/members"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func init() { commands = append(commands, newBackfillCmd) }

// maxWorkers bounds --workers: every worker shares LookupEvents' 2 requests/s, so more only wait.
const maxWorkers = 64

// backfillTimeout is backfill's --timeout default: a LookupEvents call first waits its turn under the 2 requests/s
// limit and then retries CloudTrail's throttling, which others in the account (the console) can cause.
const backfillTimeout = 2 * time.Minute

// backfillStore is what backfill needs of a store: grants, and checkpoints.
type backfillStore interface {
	app.Store
	app.CheckpointStore
}

// backfillView is `backfill -o json`.
type backfillView struct {
	RunID      string            `json:"runId"`
	Complete   bool              `json:"complete"`
	Since      time.Time         `json:"since"`
	Until      time.Time         `json:"until"`
	EventNames []string          `json:"eventNames"`
	Stats      app.BackfillStats `json:"stats"`
	Slices     int               `json:"slices"`
	SlicesDone int               `json:"slicesDone"`
	Pages      int               `json:"pagesThisRun"`
	Table      string            `json:"table,omitempty"`
	Targets    []targetView      `json:"targets,omitempty"` // with --accounts or --regions
}

// targetView is one account-Region of `backfill -o json`.
type targetView struct {
	Account        string            `json:"account,omitempty"` // empty: the credentials' own account
	Region         string            `json:"region"`
	Complete       bool              `json:"complete"`
	Stats          app.BackfillStats `json:"stats"`
	Error          string            `json:"error,omitempty"`          // why it could not be read: nothing in it was checked
	CouldNotAssume bool              `json:"couldNotAssume,omitempty"` // its member role could not be assumed
}

func newBackfillCmd() *cobra.Command {
	var (
		fl                  flags
		since, until, runID string
		includeUse          bool
		workers             int
		accounts, regions   []string
	)
	cmd := &cobra.Command{
		Use:   "backfill --since RFC3339 --until RFC3339 [--table NAME] [--accounts IDS|all] [--regions REGIONS|all] [--include-use] [--run-id ID]",
		Short: "Read CloudTrail's event history (LookupEvents, last 90 days) into grantwatch; resumable with --table",
		Long: `backfill reads CreateGrant, RetireGrant and RevokeGrant (and, with --include-use, Decrypt, GenerateDataKey*,
DescribeKey) from CloudTrail's event history for [since, until) and applies them like live events; events already
recorded count as duplicates. With --table (or $GRANTWATCH_TABLE), progress is checkpointed in the table: run the
same command again after an interruption and it continues where it stopped (the run id is derived from the window
and event names unless --run-id is given); --table "" runs in memory. CloudTrail allows 2 LookupEvents requests per
second per account and Region, i.e. at most 100 events/s; the console's Event history shares that quota.

--accounts and --regions read a whole organization: every account in every Region (default: the configured
Region), each at once with its own 2 requests/s, through the account's grantwatch-member-reader role (deploy/member.yaml);
the credentials' own account is read with them as they are. "all" is $` + accountsEnv + ` or $` + regionsEnv + `
(comma-separated). The credentials must be a role under /grantwatch/central/ of the central account that may
sts:AssumeRole that role. Each account-Region is checkpointed on its own: run the same command again and each
continues where it stopped, so adding an account reads only that one. One that cannot be read (its role is missing
or does not trust you) is reported as such, the others go on; the exit status is then 1.`,
		Example: `  grantwatch backfill --since 2024-03-01T00:00:00Z --until 2024-06-01T00:00:00Z --table grantwatch-Table-1ABC
  grantwatch backfill --since 2024-05-31T00:00:00Z --until 2024-06-01T00:00:00Z --table "" -o json
  grantwatch backfill --since 2024-05-01T00:00:00Z --until 2024-06-01T00:00:00Z --accounts 111122223333,444455556666 --regions us-east-1,eu-west-1
  GRANTWATCH_ACCOUNTS=111122223333,444455556666 grantwatch backfill --since 2024-05-01T00:00:00Z --until 2024-06-01T00:00:00Z --accounts all`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := app.BackfillRequest{IncludeUse: includeUse, RunID: runID}
			var probs param.Problems
			var err error
			req.Since, err = param.Time("--since", since)
			probs.Check(err)
			req.Until, err = param.Time("--until", until)
			probs.Check(err)
			probs.Check(intRange("--workers", workers, 1, maxWorkers))
			scope := orgScope(&probs, accounts, regions)
			o, err := fl.parse(cmd, true)
			probs.Check(err)
			if err := probs.Err(); err != nil {
				return err
			}
			// Refuse a bad window before anything is set up (or warned about).
			if _, err := app.Plan(req, time.Now(), 0); err != nil {
				return badWindow(req, since, until, err)
			}
			return runBackfill(cmd, req, o, workers, scope.Accounts, scope.Regions)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "start of the window, RFC 3339 (at most 90 days back; older is clamped)")
	f.StringVar(&until, "until", "", "end of the window (exclusive), RFC 3339")
	fl.addTable(cmd, "DynamoDB table (checkpointed, resumable); memory when empty")
	f.BoolVar(&includeUse, "include-use", false, "also read Decrypt, GenerateDataKey*, DescribeKey: every call in the Region, often millions")
	f.StringVar(&runID, "run-id", "", "name the run (default: derived from the window and event names)")
	f.IntVar(&workers, "workers", app.DefaultBackfillWorkers, fmt.Sprintf("slices read in parallel per account-Region, 1..%d (they share its 2 requests/s)", maxWorkers))
	f.StringSliceVar(&accounts, "accounts", nil, "read these accounts (comma-separated or repeated), or all: $"+accountsEnv+"; default: the credentials' own")
	f.StringSliceVar(&regions, "regions", nil, "read these Regions in each account, or all: $"+regionsEnv+"; default: the configured Region")
	fl.addOutput(cmd)
	fl.addTimeout(cmd, backfillTimeout)
	return cmd
}

// badWindow says, naming the flags, why Plan refused the window; Plan is the rule, this only words it.
func badWindow(req app.BackfillRequest, since, until string, err error) error {
	now := time.Now().UTC()
	switch earliest := now.Add(-app.HistoryWindow); {
	case !req.Since.Before(req.Until):
		return &app.InputError{Field: "--until", Value: until, Problem: "is not after --since " + since}
	case req.Until.After(now.Add(5 * time.Minute)):
		return &app.InputError{Field: "--until", Value: until, Problem: "is in the future"}
	case req.Until.Before(earliest):
		return &app.InputError{Field: "--until", Value: until,
			Problem: "is older than CloudTrail's 90-day event history, which starts at " + earliest.Format(time.RFC3339)}
	}
	return &exitError{code: exitUsage, err: err}
}

// orgScope parses --accounts and --regions ("all": $GRANTWATCH_ACCOUNTS, $GRANTWATCH_REGIONS).
func orgScope(probs *param.Problems, accounts, regions []string) app.Scope {
	set := param.Members{Accounts: envList(accountsEnv), Regions: envList(regionsEnv), AccountsFrom: "$" + accountsEnv, RegionsFrom: "$" + regionsEnv}
	return set.Scope(probs, "--accounts", accounts, "--regions", regions)
}

// envList reads a comma-separated list from the environment; unset is none.
func envList(name string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

func runBackfill(cmd *cobra.Command, req app.BackfillRequest, o options, workers int, accounts, regions []string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, cfg, err := openSession(cmd, o)
	defer s.progress.stop()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(s.progress.writer(cmd.ErrOrStderr()), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var st backfillStore = store.NewMemory()
	if o.table != "" {
		if st, err = store.Open(ctx, dynamodb.NewFromConfig(cfg), o.table); err != nil {
			return s.fail(err)
		}
	} else {
		log.Warn("no --table: grants and checkpoints are kept in memory and lost at exit; an interrupted run starts over")
	}
	if req.IncludeUse {
		log.Warn("--include-use reads every Decrypt, GenerateDataKey* and DescribeKey call in the Region (LookupEvents cannot filter on the caller): expect hours per million events")
	}
	switch {
	case len(accounts) > 0 && len(regions) == 0:
		regions = []string{cfg.Region}
	case len(accounts) == 0 && len(regions) > 0:
		accounts = []string{""} // the credentials' own account, in other Regions
	}
	req.Targets = app.Targets(accounts, regions)
	svc := app.New(st, nil, lifecycle.DefaultConfig(), log, time.Now)
	sources := members.Sources{Roles: org.New(cfg, org.BackfillSession), Base: cfg}
	bf := app.NewBackfill(lookup.New(cfg, lookup.Options{}), st, svc, log, time.Now).WithSources(sources)
	bf.Workers = workers
	bf.Progress = func(bp app.BackfillProgress) { backfillProgress(s.progress, bp) }
	s.progress.set("starting")
	rep, err := bf.Run(ctx, req)
	s.progress.stop()
	if errors.Is(err, app.ErrBadBackfill) {
		// The window passed Plan above: what is left is a run id already used for another window.
		return usageError("backfill: --run-id %s was started for another window or other event names: give another --run-id, or the window it was started with", req.RunID)
	}
	failed := rep.Failed()
	if err != nil && ctx.Err() == nil && (len(req.Targets) == 0 || len(failed) == 0) {
		return s.fail(err)
	}
	p := s.printer(o)
	v := backfillView{RunID: rep.RunID, Complete: rep.Complete, Since: rep.Since, Until: rep.Until, EventNames: rep.Names,
		Stats: rep.Progress.Stats, Slices: rep.Progress.Slices, SlicesDone: rep.Progress.SlicesDone, Pages: rep.Progress.Pages, Table: o.table}
	if len(req.Targets) > 0 {
		for _, t := range rep.Targets {
			tv := targetView{Account: t.Target.Account, Region: t.Target.Region, Complete: t.Complete, Stats: t.Stats}
			if t.Err != nil {
				tv.Error, tv.CouldNotAssume = s.explainTarget(t.Err), errors.Is(t.Err, app.ErrCouldNotAssume)
			}
			v.Targets = append(v.Targets, tv)
		}
	}
	switch p.format {
	case outJSON:
		err = p.json(v)
	case outCSV:
		st := v.Stats
		err = p.csv([]string{"runId", "complete", "since", "until", "events", "applied", "duplicates", "ignored", "rejected", "slices", "slicesDone"},
			[][]string{{v.RunID, fmt.Sprint(v.Complete), p.time(v.Since), p.time(v.Until), itoa(st.Events), itoa(st.Applied), itoa(st.Duplicates),
				itoa(st.Ignored), itoa(st.Rejected), itoa(v.Slices), itoa(v.SlicesDone)}})
	default:
		err = printBackfill(p, rep, o.table, v.Targets)
	}
	if err != nil {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitRejected, err: fmt.Errorf("backfill interrupted; run the same command again to continue run %s", rep.RunID)}
	case len(failed) > 0:
		names := make([]string, len(failed))
		for i, t := range failed {
			names[i] = t.Target.String()
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("backfill: %d of %d account-Regions could not be read (%s): nothing in them was checked; run the same command again to try them again",
			len(failed), len(rep.Targets), strings.Join(names, ", "))}
	case rep.Progress.Stats.Rejected > 0:
		return &exitError{code: exitRejected, err: fmt.Errorf("backfill: %d records could not be used (recorded as rejected)", rep.Progress.Stats.Rejected)}
	}
	return nil
}

func printBackfill(p *printer, rep app.BackfillReport, table string, targets []targetView) error {
	s := rep.Progress.Stats
	state := "complete"
	if !rep.Complete {
		state = "incomplete"
	}
	p.line(0, "backfill %s %s: %s .. %s, %s", rep.RunID, state, rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), strings.Join(rep.Names, ", "))
	p.line(0, "events %d: applied %d, duplicates %d, ignored %d, rejected %d (slices %d/%d, %d pages this run)",
		s.Events, s.Applied, s.Duplicates, s.Ignored, s.Rejected, rep.Progress.SlicesDone, rep.Progress.Slices, rep.Progress.Pages)
	if table == "" {
		p.line(0, "store: memory (nothing was kept; pass --table to record grants and checkpoints)")
	}
	if len(targets) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(targets))
	for _, t := range targets {
		state := "complete"
		switch {
		case t.CouldNotAssume:
			state = "could not assume the role"
		case t.Error != "":
			state = "could not read"
		case !t.Complete:
			state = "incomplete"
		}
		rows = append(rows, []string{orDash(t.Account), t.Region, state, itoa(t.Stats.Events), itoa(t.Stats.Applied), itoa(t.Stats.Duplicates), orDash(t.Error)})
	}
	return p.table("\nAccount-Regions ("+itoa(len(rows))+")", []col{{head: "Account"}, {head: "Region"}, {head: "State", fit: prose, min: 12},
		{head: "Events"}, {head: "Applied"}, {head: "Duplicates"}, {head: "Problem", fit: text, min: 24}}, rows)
}

// explainTarget words why an account-Region could not be read: the member role's own message (which role, which
// account, what to deploy) when it could not be assumed, else the AWS failure explained like any other.
func (s *session) explainTarget(err error) string {
	var ae *org.AssumeError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	if msg := s.explainAWS(err); msg != "" {
		return msg
	}
	return err.Error()
}

// backfillProgress puts a run's progress on the progress line: the share of the window read, events, rate, ETA.
func backfillProgress(p *progress, bp app.BackfillProgress) {
	rate := 0.0
	if s := bp.Elapsed.Seconds(); s > 0 {
		rate = float64(bp.EventsThisRun) / s
	}
	eta := "?"
	if bp.ETA > 0 {
		eta = human(bp.ETA)
	}
	pct := int(bp.Fraction * 100)
	p.set(fmt.Sprintf("%d%% · %d events · %.1f events/s · ETA %s · slices %d/%d", pct, bp.Stats.Events, rate, eta, bp.SlicesDone, bp.Slices),
		"runId", bp.RunID, "events", bp.Stats.Events, "eventsPerSecond", fmt.Sprintf("%.1f", rate), "percent", pct, "eta", eta,
		"slicesDone", bp.SlicesDone, "slices", bp.Slices)
}
