package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func init() { commands = append(commands, newHistoryCmd) }

func newHistoryCmd() *cobra.Command {
	var (
		rf  readFlags
		key string
	)
	cmd := &cobra.Command{
		Use:   "history GRANT_ID [--key ARN]",
		Short: "Show one grant's timeline: who created it, what it allows, its parent and children, use, alerts, its end",
		Long: `history shows everything grantwatch recorded about one grant. The grant is found by id alone; --key is
needed only when the same id is recorded on several keys. --output csv prints the timeline.
Exit status: 0 ok, 1 failure, 2 usage error or bad input, 3 no such grant.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("history: exactly one GRANT_ID is required, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := param.GrantID("grant id", args[0])
			if err != nil {
				return queryError("history", err)
			}
			if key != "" {
				if _, err := param.KeyARN("--key", key); err != nil {
					return queryError("history", err)
				}
			}
			q, err := rf.query(cmd)
			if err != nil {
				return err
			}
			hist, err := q.History(cmd.Context(), id, key)
			if err != nil {
				return queryError("history", err)
			}
			h := queryapi.NewGrantHistory(hist)
			w := cmd.OutOrStdout()
			switch rf.output {
			case "json":
				return writeJSON(w, h)
			case "csv":
				return rf.writeRows(w, []string{"Time", "What", "By", "Source IP", "Detail"}, rf.timelineRows(h))
			}
			return rf.printHistory(w, h)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "KMS key ARN, when the grant id is recorded on several keys")
	rf.register(cmd)
	return cmd
}

func (rf *readFlags) timelineRows(h queryapi.GrantHistory) [][]string {
	rows := make([][]string, 0, len(h.Timeline))
	for _, e := range h.Timeline {
		rows = append(rows, []string{rf.at(e.At), e.What, e.By, e.SourceIP, e.Detail})
	}
	return rows
}

func (rf *readFlags) printHistory(w io.Writer, h queryapi.GrantHistory) error {
	g := h.Grant
	fmt.Fprintf(w, "Grant %s\n", g.GrantID)
	facts := [][]string{
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
		facts = append(facts, []string{"Created", rf.at(c.At) + " by " + by + " from " + orDash(c.SourceIP)})
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
		parent = h.Parent.GrantID + " (" + h.Parent.State + ")"
	}
	facts = append(facts, []string{"Parent", parent})
	if e := h.Ended; e != nil {
		by := orDash(e.By)
		if e.ByBedrock {
			by += " (through Bedrock)"
		}
		facts = append(facts, []string{"Ended", rf.at(e.At) + " by " + e.How + ", " + by + " from " + orDash(e.SourceIP)})
	} else {
		facts = append(facts, []string{"Ended", "-"})
	}
	if err := rf.writeRows(w, []string{"Field", "Value"}, facts); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nTimeline (%d)\n", len(h.Timeline))
	if err := rf.writeRows(w, []string{"Time", "What", "By", "Source IP", "Detail"}, rf.timelineRows(h)); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nChildren (%d)\n", len(h.Children))
	if len(h.Children) > 0 {
		rows := make([][]string, 0, len(h.Children))
		for _, c := range h.Children {
			rows = append(rows, []string{c.GrantID, c.Kind, c.State, rf.at(c.CreatedAt), rf.at(c.EndedAt), c.EndedBy})
		}
		if err := rf.writeRows(w, []string{"Grant", "Kind", "State", "Created", "Ended", "Ended by"}, rows); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nKey usage (Bedrock key use carries no grant id, so it is counted per key)")
	var calls [][]string
	for _, name := range slices.Sorted(maps.Keys(h.Usage.Calls)) {
		calls = append(calls, []string{name, strconv.FormatInt(h.Usage.Calls[name], 10)})
	}
	if !h.Usage.LastUsedAt.IsZero() {
		calls = append(calls, []string{"last use", rf.at(h.Usage.LastUsedAt) + " by " + h.Usage.LastUsedBy})
	} else {
		calls = append(calls, []string{"last use", "none recorded"})
	}
	if err := rf.writeRows(w, []string{"Call", "Count"}, calls); err != nil {
		return err
	}

	alerts := slices.Concat(g.Alerts, h.Usage.Alerts)
	fmt.Fprintf(w, "\nAlerts (%d)\n", len(alerts))
	if len(alerts) > 0 {
		rows := make([][]string, 0, len(alerts))
		for _, a := range alerts {
			rows = append(rows, alertRow(rf, a))
		}
		if err := rf.writeRows(w, []string{"Raised", "Type", "Severity", "Scope", "Notified", "Resolved", "Message"}, rows); err != nil {
			return err
		}
	}
	return nil
}

func alertRow(rf *readFlags, a queryapi.Alert) []string {
	scope := "grant"
	if a.GrantID == "" {
		scope = "key"
	}
	resolved := rf.at(a.ResolvedAt)
	if a.Resolution != "" {
		resolved += " (" + a.Resolution + ")"
	}
	return []string{rf.at(a.RaisedAt), a.Type, a.Severity, scope, rf.at(a.NotifiedAt), resolved, a.Message}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
