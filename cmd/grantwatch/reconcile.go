package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/members"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func init() { commands = append(commands, newReconcileCmd) }

func newReconcileCmd() *cobra.Command {
	var (
		fl                      flags
		keys, accounts, regions []string
	)
	cmd := &cobra.Command{
		Use:   "reconcile [--table NAME] [--key KEY_ARN ... | --accounts IDS|all --regions REGIONS|all]",
		Short: "Compare recorded grants with KMS ListGrants: record untracked Bedrock grants, end grants KMS no longer has",
		Long: `reconcile lists the grants of every key with recorded Bedrock grants (or only the --key ones) with KMS
ListGrants and compares: a Bedrock grant KMS lists that grantwatch does not know (or has as ended) is recorded and
raises untracked-grant; a grant grantwatch has as active that KMS no longer lists is ended as "reconciled". A key
whose grants cannot be listed (access denied, throttling, ...) is reported and left as it is; the exit status is
then 1. Without a table (--table "" when $GRANTWATCH_TABLE is set) it compares in memory, which needs --key.

Each key's grants are listed in the key's own account and Region: the credentials' own account with them as they
are, any other through its grantwatch-member-reader role (deploy/member.yaml), which the credentials must be able
to assume (a role under /grantwatch/central/ of the central account). An account whose role cannot be assumed is
reported as such, none of its keys changed, and the others are reconciled. --accounts and --regions narrow the keys
to those accounts and Regions ("all": $` + accountsEnv + `, $` + regionsEnv + `).`,
		Example: `  grantwatch reconcile --table grantwatch-Table-1ABC
  grantwatch reconcile --key arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab -o json
  grantwatch reconcile --table grantwatch-Table-1ABC --accounts 444455556666 --regions eu-west-1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var probs param.Problems
			for _, k := range keys {
				_, err := param.KeyARN("--key", k)
				probs.Check(err)
			}
			scope := orgScope(&probs, accounts, regions)
			if len(keys) > 0 && (len(accounts) > 0 || len(regions) > 0) {
				probs.Check(&app.InputError{Field: "--key", Problem: "names its account and Region: give --key, or --accounts and --regions, not both"})
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
			var keyLister app.KeyLister // memory runs name their keys
			if o.table != "" {
				tbl, err := store.Open(ctx, dynamodb.NewFromConfig(cfg), o.table)
				if err != nil {
					return s.fail(err)
				}
				st, keyLister = tbl, tbl
			}
			log := slog.New(slog.NewJSONHandler(s.progress.writer(cmd.ErrOrStderr()), &slog.HandlerOptions{Level: slog.LevelError}))
			svc := app.New(st, nil, lifecycle.DefaultConfig(), log, time.Now)
			listers := members.NewListers(org.New(cfg, org.ReconcileSession))
			s.progress.set("listing grants with KMS")
			rep, err := app.NewReconcile(svc, explainedLister{s: s, lister: listers}, keyLister).Run(ctx, keys, scope, time.Now())
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
				var accounts []string
				for _, a := range rep.Accounts {
					if a.CouldNotAssume != "" {
						accounts = append(accounts, a.Account)
					}
				}
				roles := ""
				if len(accounts) > 0 {
					roles = fmt.Sprintf(" (%d in accounts whose member role could not be assumed: %s)", notAssumed(rep), strings.Join(accounts, ", "))
				}
				return &exitError{code: exitRejected, err: fmt.Errorf("reconcile: the grants of %d key(s) could not be listed%s (see the table); nothing was changed on them", n, roles)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&keys, "key", nil, "reconcile only this key ARN (repeatable)")
	f.StringSliceVar(&accounts, "accounts", nil, "reconcile only the keys of these accounts (comma-separated or repeated), or all: $"+accountsEnv)
	f.StringSliceVar(&regions, "regions", nil, "reconcile only the keys of these Regions, or all: $"+regionsEnv)
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
	if err := p.table(fmt.Sprintf("Reconcile at %s: %s", rep.At.Format(time.RFC3339), count(len(rep.Keys), "key", "keys")), []col{
		{head: "Key", fit: arn, min: 30}, {head: "Listed"}, {head: "Added", fit: prose, min: 14}, {head: "Ended", fit: prose, min: 14},
		{head: "Problem", fit: text, min: 20}}, rows); err != nil {
		return err
	}
	// Accounts: when there are several, or one could not be entered, which is said once for all its keys.
	if len(rep.Accounts) < 2 && notAssumed(rep) == 0 {
		return nil
	}
	rows = rows[:0]
	for _, a := range rep.Accounts {
		state := "checked"
		switch {
		case a.CouldNotAssume != "":
			state = "not checked: " + a.CouldNotAssume
		case a.CouldNotList > 0:
			state = fmt.Sprintf("%d of %s could not be listed", a.CouldNotList, count(a.Keys, "key", "keys"))
		}
		rows = append(rows, []string{a.Account, itoa(a.Keys), state})
	}
	return p.table("\nAccounts ("+itoa(len(rows))+")", []col{{head: "Account"}, {head: "Keys"}, {head: "State", fit: text, min: 30}}, rows)
}

// explainedLister words a key's listing failure for the report as the other messages are worded (what failed,
// where, what to do), keeping the error itself for the use case to classify.
type explainedLister struct {
	s      *session
	lister app.GrantLister
}

func (l explainedLister) ListGrants(ctx context.Context, keyARN string) ([]lifecycle.ListedGrant, error) {
	grants, err := l.lister.ListGrants(ctx, keyARN)
	var ae *org.AssumeError
	if err != nil && !errors.As(err, &ae) { // a role that could not be assumed says which, and what to deploy
		if msg := l.s.explainAWS(err); msg != "" {
			return nil, &explainedError{msg: msg, err: err}
		}
	}
	return grants, err
}

// notAssumed counts the keys of accounts whose member role could not be assumed.
func notAssumed(rep app.ReconcileReport) int {
	n := 0
	for _, a := range rep.Accounts {
		if a.CouldNotAssume != "" {
			n += a.CouldNotList
		}
	}
	return n
}

type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }
