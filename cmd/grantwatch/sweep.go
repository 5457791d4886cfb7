package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

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

// sweepView is `sweep -o json`.
type sweepView struct {
	At               time.Time   `json:"at"`
	DryRun           bool        `json:"dryRun"`
	Keys             int         `json:"keysSwept"`
	Alerts           []alertView `json:"alertsRaised"`
	Resolved         []alertView `json:"alertsResolved"`
	Notices          int         `json:"notices"` // sent; in a dry run, that would be sent
	NoticesFailed    int         `json:"noticesFailed"`
	NoticesPastLease int         `json:"noticesPastLease"`
	WouldSend        []string    `json:"wouldSend,omitempty"` // the subjects of a dry run's notices
	Failed           []keyError  `json:"keysFailed"`
}

type alertView struct {
	Type     string `json:"type"`
	Severity string `json:"severity"`
	GrantID  string `json:"grantId,omitempty"`
	KeyARN   string `json:"keyArn"`
	Message  string `json:"message"`
}

type keyError struct {
	KeyARN string `json:"keyArn"`
	Error  string `json:"error"`
}

func alertViews(as []lifecycle.Alert) []alertView {
	out := make([]alertView, 0, len(as))
	for _, a := range as {
		out = append(out, alertView{Type: string(a.Type), Severity: string(a.Severity), GrantID: a.GrantID, KeyARN: a.KeyARN, Message: a.Message})
	}
	return out
}

// previews collects what a dry run would send, for -o json and csv.
type previews struct {
	subjects []string
	names    alert.AccountNames
}

func (p *previews) Notify(_ context.Context, n lifecycle.Notice) error {
	p.subjects = append(p.subjects, p.names.Render(n).Subject)
	return nil
}

func newSweepCmd() *cobra.Command {
	var (
		fl            flags
		topic, remind string
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
		Example: `  grantwatch sweep --table grantwatch-Table-1ABC --at 2024-06-01T00:00:00Z
  grantwatch sweep --topic arn:aws:sns:us-east-1:111122223333:grantwatch-AlertTopic-1ABC --remind 1d
  grantwatch sweep -o json | jq .alertsRaised`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var probs param.Problems
			every, err := param.AgeOrZero("--remind", remind)
			probs.Check(err)
			o, err := fl.parse(cmd, false)
			probs.Check(err)
			names, err := accountNames()
			probs.Check(err)
			if err := probs.Err(); err != nil {
				return err
			}
			now := o.now()
			s, cfg, err := openSession(cmd, o)
			defer s.progress.stop()
			s.topic = topic
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(s.progress.writer(cmd.ErrOrStderr()), nil))
			st, err := store.Open(cmd.Context(), dynamodb.NewFromConfig(cfg), o.table)
			if err != nil {
				return s.fail(err)
			}
			svc := app.New(st, nil, lifecycle.DefaultConfig(), log, func() time.Time { return now }).WithJobs(st)
			out := s.progress.writer(cmd.OutOrStdout())
			pre := previews{names: names}
			switch {
			case topic == "" && o.format == outTable || topic == "" && o.format == outWide:
				svc = svc.WithNotifier(alert.Preview{W: out, Names: names}, every).DryRun()
			case topic == "":
				svc = svc.WithNotifier(&pre, every).DryRun()
			default:
				n, err := snsNotifier(s, topic, names)
				if err != nil {
					return s.fail(err)
				}
				svc = svc.WithNotifier(n, every)
			}
			s.progress.set("sweeping at " + now.Format(time.RFC3339))
			rep, err := svc.Sweep(cmd.Context(), now)
			if err != nil {
				return s.fail(err)
			}
			p := s.printer(o)
			v := sweepView{At: now, DryRun: topic == "", Keys: rep.Keys, Alerts: alertViews(rep.Alerts), Resolved: alertViews(rep.Resolved),
				Notices: rep.Notices, NoticesFailed: rep.NoticesFailed, NoticesPastLease: rep.NoticesPastLease, WouldSend: pre.subjects,
				Failed: []keyError{}}
			for _, f := range rep.Failed {
				v.Failed = append(v.Failed, keyError{KeyARN: f.KeyARN, Error: f.Err.Error()})
			}
			switch {
			case p.format == outJSON:
				err = p.json(v)
			case p.format == outCSV:
				rows := make([][]string, 0, len(v.Alerts))
				for _, a := range v.Alerts {
					rows = append(rows, []string{a.Type, a.Severity, a.GrantID, a.KeyARN, a.Message})
				}
				err = p.csv([]string{"type", "severity", "grantId", "keyArn", "message"}, rows)
			case topic == "":
				fmt.Fprintf(out, "dry run at %s: %d keys swept, %d alerts would be raised, %d notices would be sent; nothing was written (deliver with --topic ARN)\n",
					now.Format(time.RFC3339), rep.Keys, len(rep.Alerts), rep.Notices)
			default:
				fmt.Fprintf(out, "swept %d keys at %s: %d alerts raised, %d resolved, %d notices sent (%d sent again after their lease)\n",
					rep.Keys, now.Format(time.RFC3339), len(rep.Alerts), len(rep.Resolved), rep.Notices, rep.NoticesPastLease)
			}
			if err != nil {
				return err
			}
			return sweepFailures(rep)
		},
	}
	f := cmd.Flags()
	fl.addTable(cmd, "DynamoDB table")
	f.StringVar(&topic, "topic", "", "SNS topic ARN to deliver to (default: a dry run that prints what it would send)")
	fl.addAt(cmd, "sweep time, RFC 3339 (default: now)")
	f.StringVar(&remind, "remind", "0", "re-notify open alerts this often, such as 1d (0: never)")
	fl.addOutput(cmd)
	fl.addTimeout(cmd, defaultTimeout)
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

// snsNotifier publishes to topic with the session's AWS configuration (AWS_ENDPOINT_URL is honoured), naming accounts
// by names ($GRANTWATCH_ACCOUNT_NAMES), as the functions do by ACCOUNT_NAMES.
func snsNotifier(s *session, topic string, names map[string]string) (app.Notifier, error) {
	cfg, err := s.aws()
	if err != nil {
		return nil, err
	}
	return alert.NewSNS(sns.NewFromConfig(cfg), topic).WithAccountNames(names), nil
}
