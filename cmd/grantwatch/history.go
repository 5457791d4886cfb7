package main

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func init() { commands = append(commands, newHistoryCmd) }

func newHistoryCmd() *cobra.Command {
	var (
		rc  readCmd
		key string
	)
	cmd := &cobra.Command{
		Use:   "history GRANT_ID [--key ARN | --account ID --region R]",
		Short: "Show one grant's timeline: who created it, what it allows, its parent and children, use, alerts, its end",
		Long: `history shows everything grantwatch recorded about one grant. GRANT_ID is the id or any unique prefix of
at least 8 characters, such as the 12 the tables show; a prefix that fits several grants is refused with the list.
The grant is found by id alone; --key is needed only when the same id is recorded on several keys, or --account
and --region, which choose among those keys (and among the grants a prefix fits) by the account and Region they
name.
--at sets the time "active for" counts to (default: now). -o csv prints the timeline.
Exit status: 0 ok, 1 failure, 2 usage error or bad input (an ambiguous or too short prefix), 3 no such grant.`,
		Example: `  grantwatch history 0102381c786c
  grantwatch history 0102381c786c9b7dea68c477c3cd775e83df21675a72b533994ad18ad07d7f01 -o json
  grantwatch history 0202be99 --at 2024-06-01T00:00:00Z
  grantwatch history 0202be99 --account 444455556666
  grantwatch history 0102381c786c -o csv > timeline.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("history: give exactly one GRANT_ID (the id, or at least its first 8 characters), got %d arguments", len(args))
			}
			return nil
		},
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			var probs param.Problems
			if key != "" {
				_, err := param.KeyARN("--key", key)
				probs.Check(err)
			}
			rc.parsePlace(&probs)
			if err := rc.open(cmd, probs); err != nil {
				return err
			}
			defer rc.close()
			ctx := cmd.Context()
			id, err := rc.grantID(ctx, args[0])
			if err != nil {
				return rc.s.fail(err)
			}
			hist, err := rc.q.History(ctx, id, key, rc.place)
			where := ""
			if rc.place != (app.Place{}) {
				where = " in " + rc.place.String()
			}
			switch {
			case errors.Is(err, app.ErrNotFound) && key != "":
				return notFound("no grant %s is recorded on key %s%s in table %s", id, key, where, rc.opts.table)
			case errors.Is(err, app.ErrNotFound):
				return notFound("no grant %s is recorded%s in table %s", id, where, rc.opts.table)
			case err != nil:
				return rc.s.fail(err)
			}
			rc.s.progress.stop()
			h := queryapi.NewGrantHistory(hist)
			p := rc.out
			switch p.format {
			case outJSON:
				return p.json(h)
			case outCSV:
				return p.csv([]string{"Time", "What", "By", "Source IP", "Detail"}, rc.timelineRows(h))
			}
			return rc.printHistory(h)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "KMS key ARN, when the grant id is recorded on several keys")
	rc.addPlace(cmd, "the grant")
	rc.addAt(cmd, `evaluate at this RFC 3339 time: "active for" counts to it (default: now)`)
	rc.register(cmd)
	return cmd
}

func (rc *readCmd) timelineRows(h queryapi.GrantHistory) [][]string {
	rows := make([][]string, 0, len(h.Timeline))
	for _, e := range h.Timeline {
		rows = append(rows, []string{rc.out.time(e.At), e.What, e.By, e.SourceIP, e.Detail})
	}
	return rows
}

func (rc *readCmd) printHistory(h queryapi.GrantHistory) error {
	p, g := rc.out, h.Grant
	id := func(s string) string { return cellText(ident, s, p.format == outWide) }
	facts := [][]string{
		{"Grant id", g.GrantID},
		{"Key", g.KeyARN},
		{"Kind", g.Kind + " (" + g.KindReason + ")"},
		{"State", h.State},
	}
	if c := h.Created; c != nil {
		by := c.By
		if c.CallerType != "" && !strings.HasPrefix(by, c.CallerType) {
			by += " [" + c.CallerType + "]"
		}
		if c.InvokedBy != "" && !strings.Contains(by, c.InvokedBy) {
			by += " via " + c.InvokedBy
		}
		facts = append(facts, []string{"Created", p.time(c.At) + " by " + by + " from " + orDash(c.SourceIP)})
	}
	if a := activeFor(g.CreatedAt, g.EndedAt, rc.opts.now()); a != "" {
		facts = append(facts, []string{"Active for", a})
	}
	facts = append(facts,
		[]string{"Grantee", orDash(g.Grantee)},
		[]string{"Retiring principal", orDash(g.RetiringPrincipal)},
		[]string{"Operations", orDash(strings.Join(g.Operations, ", "))},
		[]string{"Constraint keys", orDash(strings.Join(g.ConstraintKeys, ", "))},
	)
	if g.Name != "" {
		facts = append(facts, []string{"Name", g.Name})
	}
	parent := "-"
	if h.Parent != nil {
		parent = id(h.Parent.GrantID) + " (" + h.Parent.State + ")"
	}
	facts = append(facts, []string{"Parent", parent})
	if e := h.Ended; e != nil {
		by := orDash(e.By)
		if e.ByBedrock {
			by += " (through Bedrock)"
		}
		facts = append(facts, []string{"Ended", p.time(e.At) + " by " + e.How + ", " + by + " from " + orDash(e.SourceIP)})
	} else {
		facts = append(facts, []string{"Ended", "-"})
	}
	if err := p.table("Grant "+id(g.GrantID), []col{{head: "Field"}, {head: "Value", fit: prose, min: 30}}, facts); err != nil {
		return err
	}

	// A detail view: principals and addresses wrap rather than lose characters. An alert's message is in Alerts.
	timeline := rc.timelineRows(h)
	if p.format == outTable {
		for i, e := range h.Timeline {
			if a, ok := raised(g.Alerts, e); ok {
				timeline[i][4] = a.Severity + " (see Alerts)"
			}
		}
	}
	if err := p.table("\nTimeline ("+itoa(len(h.Timeline))+")", []col{{head: "Time"}, {head: "What"}, {head: "By", fit: prose, min: 20},
		{head: "Source IP", fit: prose, min: 21}, {head: "Detail", fit: text, min: 20}}, timeline); err != nil {
		return err
	}

	rows := make([][]string, 0, len(h.Children))
	for _, c := range h.Children {
		rows = append(rows, rc.grantRow(c))
	}
	cols := grantCols()
	cols[1].wide = true // the parent's key
	cols[4].wide = true // the parent: this grant
	if err := p.table("\nChildren ("+itoa(len(h.Children))+")", cols, rows); err != nil {
		return err
	}

	var calls [][]string
	for _, name := range slices.Sorted(maps.Keys(h.Usage.Calls)) {
		calls = append(calls, []string{name, strconv.FormatInt(h.Usage.Calls[name], 10)})
	}
	if !h.Usage.LastUsedAt.IsZero() {
		calls = append(calls, []string{"last use", p.time(h.Usage.LastUsedAt) + " by " + h.Usage.LastUsedBy})
	} else {
		calls = append(calls, []string{"last use", "none recorded"})
	}
	if err := p.table("\nKey usage (Bedrock key use carries no grant id, so it is counted per key)",
		[]col{{head: "Call"}, {head: "Count", fit: prose, min: 30}}, calls); err != nil {
		return err
	}

	alerts := slices.Concat(g.Alerts, h.Usage.Alerts)
	rows = make([][]string, 0, len(alerts))
	for _, a := range alerts {
		rows = append(rows, rc.alertRow(a))
	}
	return p.table("\nAlerts ("+itoa(len(alerts))+")", alertCols(), rows)
}

// raised finds the alert whose raising is timeline entry e.
func raised(alerts []queryapi.Alert, e queryapi.TimelineEntry) (queryapi.Alert, bool) {
	for _, a := range alerts {
		if "alert:"+a.Type == e.What && a.RaisedAt.Equal(e.At) {
			return a, true
		}
	}
	return queryapi.Alert{}, false
}

func alertCols() []col {
	return []col{{head: "Raised"}, {head: "Type"}, {head: "Severity"}, {head: "Scope", wide: true},
		{head: "Notified", wide: true}, {head: "Resolved", wide: true}, {head: "Status", fit: prose, min: 16, narrow: true},
		{head: "Message", fit: text, min: 30}}
}

func (rc *readCmd) alertRow(a queryapi.Alert) []string {
	p := rc.out
	scope := "grant"
	if a.GrantID == "" {
		scope = "key"
	}
	resolved := p.time(a.ResolvedAt)
	if a.Resolution != "" {
		resolved += " (" + a.Resolution + ")"
	}
	var status []string
	switch {
	case !a.ResolvedAt.IsZero():
		status = append(status, "resolved "+resolved)
	default:
		status = append(status, "open")
	}
	if !a.NotifiedAt.IsZero() {
		status = append(status, "notified "+p.time(a.NotifiedAt))
	} else {
		status = append(status, "not notified")
	}
	return []string{p.time(a.RaisedAt), a.Type, a.Severity, scope, p.time(a.NotifiedAt), resolved, strings.Join(status, ", "), a.Message}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
