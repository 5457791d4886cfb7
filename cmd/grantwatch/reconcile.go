package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

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
		fl   flags
		keys []string
	)
	cmd := &cobra.Command{
		Use:   "reconcile [--table NAME] [--key KEY_ARN ...]",
		Short: "Compare recorded grants with KMS ListGrants: record untracked Bedrock grants, end grants KMS no longer has",
		Long: `reconcile lists the grants of every key with recorded Bedrock grants (or only the --key ones) with KMS
ListGrants and compares: a Bedrock grant KMS lists that grantwatch does not know (or has as ended) is recorded and
raises untracked-grant; a grant grantwatch has as active that KMS no longer lists is ended as "reconciled". A key
whose grants cannot be listed (access denied, throttling, ...) is reported and left as it is; the exit status is
then 1. Without a table (--table "" when $GRANTWATCH_TABLE is set) it compares in memory, which needs --key.`,
		Example: `  grantwatch reconcile --table grantwatch-Table-1ABC
  grantwatch reconcile --key arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var probs param.Problems
			for _, k := range keys {
				_, err := param.KeyARN("--key", k)
				probs.Check(err)
			}
			o, err := fl.parse(cmd, true)
			probs.Check(err)
			if o.table == "" && len(keys) == 0 {
				probs.Check(&app.InputError{Field: "--table", Problem: "or --key is needed: give the table (every recorded key) or the keys to reconcile"})
			}
			if err := probs.Err(); err != nil {
				return err
			}
			ctx := cmd.Context()
			s, cfg, err := openSession(cmd, o)
			defer s.progress.stop()
			if err != nil {
				return err
			}
			var st app.Store = store.NewMemory()
			if o.table != "" {
				if st, err = store.Open(ctx, dynamodb.NewFromConfig(cfg), o.table); err != nil {
					return s.fail(err)
				}
			}
			log := slog.New(slog.NewJSONHandler(s.progress.writer(cmd.ErrOrStderr()), &slog.HandlerOptions{Level: slog.LevelError}))
			svc := app.New(st, nil, lifecycle.DefaultConfig(), log, time.Now)
			s.progress.set("listing grants with KMS")
			rep, err := svc.Reconcile(ctx, explainedLister{s: s, lister: inventory.New(kms.NewFromConfig(cfg))}, keys, time.Now())
			if err != nil {
				return s.fail(err)
			}
			p := s.printer(o)
			switch p.format {
			case outJSON:
				err = p.json(rep)
			case outCSV:
				rows := make([][]string, 0, len(rep.Keys))
				for _, k := range rep.Keys {
					rows = append(rows, []string{k.KeyARN, strconv.Itoa(k.Listed), strings.Join(k.Added, " "), strings.Join(k.Ended, " "), k.CouldNotList})
				}
				err = p.csv([]string{"keyArn", "listed", "added", "ended", "couldNotList"}, rows)
			default:
				err = printReconcile(p, rep)
			}
			if err != nil {
				return err
			}
			if n := rep.CouldNotList(); n > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("reconcile: the grants of %d key(s) could not be listed (see the table); nothing was changed on them", n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&keys, "key", nil, "reconcile only this key ARN (repeatable)")
	fl.addTable(cmd, "DynamoDB table; memory when empty, which needs --key")
	fl.addOutput(cmd)
	fl.addJSON(cmd, true)
	fl.addTimeout(cmd, defaultTimeout)
	return cmd
}

func printReconcile(p *printer, rep app.ReconcileReport) error {
	ids := func(ids []string) string {
		if len(ids) == 0 {
			return "-"
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = cellText(ident, id, p.format == outWide)
		}
		return strings.Join(out, ", ")
	}
	rows := make([][]string, 0, len(rep.Keys))
	for _, k := range rep.Keys {
		listed, problem := strconv.Itoa(k.Listed), "-"
		if k.CouldNotList != "" {
			listed, problem = "-", "could not list: "+k.CouldNotList
		}
		rows = append(rows, []string{k.KeyARN, listed, ids(k.Added), ids(k.Ended), problem})
	}
	return p.table(fmt.Sprintf("Reconcile at %s: %s", rep.At.Format(time.RFC3339), count(len(rep.Keys), "key", "keys")), []col{
		{head: "Key", fit: arn, min: 30}, {head: "Listed"}, {head: "Added", fit: prose, min: 14}, {head: "Ended", fit: prose, min: 14},
		{head: "Problem", fit: text, min: 20}}, rows)
}

// explainedLister words a key's listing failure for the report as the other messages are worded (what failed,
// where, what to do), keeping the error itself for the use case to classify.
type explainedLister struct {
	s      *session
	lister app.GrantLister
}

func (l explainedLister) ListGrants(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error) {
	grants, err := l.lister.ListGrants(ctx, keyARN)
	if err != nil {
		if msg := l.s.explainAWS(err); msg != "" {
			return nil, &explainedError{msg: msg, err: err}
		}
	}
	return grants, err
}

type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }
