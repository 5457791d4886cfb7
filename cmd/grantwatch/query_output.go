package main

// Shared by the read commands grants, history and keys: flags, the store wiring, a grant id from what a person
// typed, and the columns of a grant.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// maxCLIGrants bounds what grants prints: beyond it, narrow the filter or use the API's pagination.
const maxCLIGrants = 100000

// maxCandidates is how many grants an ambiguous prefix lists.
const maxCandidates = 10

// readCmd is what the read commands share.
type readCmd struct {
	flags
	opts            options
	account, region string // --account, --region as typed
	place           app.Place
	names           map[string]string // $GRANTWATCH_ACCOUNT_NAMES
	s               *session
	qs              app.QueryStore
	q               *app.Query
	out             *printer
}

// addPlace adds --account and --region, which narrow what the command reads to the keys of one account and Region.
func (rc *readCmd) addPlace(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&rc.account, "account", "", what+" on keys of this AWS account (12 digits; a key ARN names its account)")
	cmd.Flags().StringVar(&rc.region, "region", "", what+" on keys of this Region (such as eu-west-1)")
}

// parsePlace checks --account and --region, adding their problems to probs.
func (rc *readCmd) parsePlace(probs *param.Problems) {
	var err error
	if rc.account != "" {
		rc.place.Account, err = param.Account("--account", rc.account)
		probs.Check(err)
	}
	if rc.region != "" {
		rc.place.Region, err = param.Region("--region", rc.region)
		probs.Check(err)
	}
}

func (rc *readCmd) register(cmd *cobra.Command) {
	rc.addTable(cmd, "DynamoDB table")
	rc.addOutput(cmd)
	rc.addTimeout(cmd, defaultTimeout)
	rc.addLocalTime(cmd)
}

// open checks the shared flags (with the command's own problems, reported together) and wires the use case to the
// table, evaluating at --at.
func (rc *readCmd) open(cmd *cobra.Command, own param.Problems) error {
	o, err := rc.parse(cmd, false)
	own.Check(err)
	rc.names, err = accountNames()
	own.Check(err)
	if err := own.Err(); err != nil {
		return err
	}
	rc.opts = o
	var cfg aws.Config
	rc.s, cfg, err = openSession(cmd, o)
	if err != nil {
		return err
	}
	rc.qs = store.NewReader(dynamodb.NewFromConfig(cfg), o.table)
	at := o.at
	clock := time.Now
	if !at.IsZero() {
		clock = func() time.Time { return at }
	}
	rc.q = app.NewQuery(rc.qs, clock)
	rc.out = newPrinter(cmd.OutOrStdout(), o.format, o.local)
	return nil
}

func (rc *readCmd) close() {
	if rc.s != nil {
		rc.s.progress.stop()
	}
}

// grantID resolves what a person typed to one recorded grant id: the id itself, or a unique prefix of at least
// app.GrantIDPrefixLen characters (tables show shortIDLen). Too short and ambiguous are usage errors that say what
// to type; no match is not found.
func (rc *readCmd) grantID(ctx context.Context, arg string) (string, error) {
	if _, err := param.GrantID("grant id", arg); err != nil {
		return "", err
	}
	if len(arg) < app.GrantIDPrefixLen {
		return "", usageError("grant id %q is too short: give at least %d characters of it (tables show the first %d)", arg, app.GrantIDPrefixLen, shortIDLen)
	}
	ids, err := rc.qs.GrantIDs(ctx, arg, maxCandidates+1)
	if err != nil {
		return "", err
	}
	if len(ids) > 1 && rc.place != (app.Place{}) {
		// --account and --region choose among the grants the prefix fits, by the keys they are recorded on.
		if ids, err = rc.inPlace(ctx, ids); err != nil {
			return "", err
		}
	}
	switch {
	case len(ids) == 1 || len(ids) > 1 && ids[0] == arg: // an id that is also the prefix of longer ones means itself
		return ids[0], nil
	case len(ids) > 1:
		more := ""
		if len(ids) > maxCandidates {
			ids, more = ids[:maxCandidates], ", and more"
		}
		return "", usageError("grant id %q is ambiguous: it begins %s%s; give more characters", arg, strings.Join(ids, ", "), more)
	}
	// Grants recorded before the prefix index have no prefix key until `table migrate`: a full id still works.
	keys, err := rc.qs.GrantKeys(ctx, arg)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(keys, rc.place.Has) {
		where := ""
		if rc.place != (app.Place{}) {
			where = " in " + rc.place.String()
		}
		return "", notFound("no grant %s is recorded%s in table %s", arg, where, rc.opts.table)
	}
	return arg, nil
}

// inPlace keeps the ids recorded on a key of rc.place (one GrantsById query each, for at most maxCandidates+1 ids).
func (rc *readCmd) inPlace(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		keys, err := rc.qs.GrantKeys(ctx, id)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(keys, rc.place.Has) {
			out = append(out, id)
		}
	}
	return out, nil
}

// grantCols are a grant list's columns; -o wide adds the creator, how it ended and (for replay) why it got its kind.
// Narrow terminals lose the end time first, then the parent, then the creation time: the state and "active for" stay.
func grantCols() []col {
	return []col{
		{head: "Grant", fit: ident},
		{head: "Key", fit: arn, min: 30},
		{head: "Kind"},
		{head: "State"},
		{head: "Parent", fit: ident, drop: 2},
		{head: "Created", drop: 1},
		{head: "Active for"},
		{head: "Ended", drop: 3},
		{head: "Ended by", wide: true},
		{head: "Created by", fit: arn, wide: true},
	}
}

// activeFor is how long a grant has been active at now, or was active before it ended; empty when its creation
// was never seen.
func activeFor(created, ended, now time.Time) string {
	switch {
	case created.IsZero():
		return ""
	case !ended.IsZero():
		return human(ended.Sub(created))
	case now.Before(created):
		return "not yet"
	}
	return human(now.Sub(created))
}

func (rc *readCmd) grantRow(g queryapi.GrantSummary) []string {
	p := rc.out
	return []string{g.GrantID, g.KeyARN, g.Kind, g.State, g.ParentGrantID, p.time(g.CreatedAt), activeFor(g.CreatedAt, g.EndedAt, rc.opts.now()),
		p.time(g.EndedAt), g.EndedBy, g.CreatedBy}
}

// count says how many, for titles.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
