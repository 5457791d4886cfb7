package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func init() { commands = append(commands, newGrantsCmd) }

func newGrantsCmd() *cobra.Command {
	var (
		rf                                         readFlags
		key, kind, state, activeAt, olderThan, now string
	)
	cmd := &cobra.Command{
		Use:   "grants [--key ARN] [--kind KIND] [--state STATE] [--active-at RFC3339] [--older-than DURATION]",
		Short: "List recorded grants, now or at a point in time",
		Long: `grants lists the Bedrock grants grantwatch has recorded, by key-condition queries on the table.
  --key ARN             grants on one KMS key (full key ARN)
  --kind KIND           primary, secondary, knowledge-base, data-automation or other-bedrock
  --state STATE         active, retired, revoked or ended (the state now; ended: KMS no longer lists the grant
                        and no RetireGrant or RevokeGrant was recorded, found by reconcile)
  --active-at RFC3339   grants that were active at that time, answered from history: created at or before it and
                        not ended, or ended after it (retired and revoked grants included)
  --older-than DURATION created more than DURATION ago (24h, 90m, 30d)
  --now RFC3339         the time --older-than counts back from (default: the wall clock), for reproducible reports
Exit status: 0 ok (also when nothing matches), 1 failure, 2 usage error or bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := grantFilter(key, kind, state, activeAt, olderThan)
			if err != nil {
				return queryError("grants", err)
			}
			if now != "" {
				if rf.now, err = param.Time("--now", now); err != nil {
					return queryError("grants", err)
				}
			}
			q, err := rf.query(cmd)
			if err != nil {
				return err
			}
			all, err := q.AllGrants(cmd.Context(), f, maxCLIGrants)
			if err != nil {
				return queryError("grants", err)
			}
			list := queryapi.NewGrantList(all, "")
			grants := list.Grants
			w := cmd.OutOrStdout()
			if rf.output == "json" {
				return writeJSON(w, list)
			}
			if rf.output == "csv" {
				rows := make([][]string, 0, len(grants))
				for _, g := range grants {
					rows = append(rows, []string{g.GrantID, g.KeyARN, g.Kind, g.State, g.ParentGrantID,
						rf.at(g.CreatedAt), g.CreatedBy, rf.at(g.EndedAt), g.EndedBy})
				}
				return rf.writeRows(w, []string{"grantId", "keyArn", "kind", "state", "parentGrantId", "createdAt", "createdBy", "endedAt", "endedBy"}, rows)
			}
			// The table is for people: key ids and short parents keep it readable; history GRANT_ID has the rest.
			rows := make([][]string, 0, len(grants))
			for _, g := range grants {
				rows = append(rows, []string{g.GrantID, keyID(g.KeyARN), g.Kind, g.State, short(g.ParentGrantID),
					rf.at(g.CreatedAt), rf.at(g.EndedAt), g.EndedBy})
			}
			fmt.Fprintf(w, "Grants (%d)\n", len(grants))
			return rf.writeRows(w, []string{"Grant", "Key", "Kind", "State", "Parent", "Created", "Ended", "Ended by"}, rows)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&key, "key", "", "KMS key ARN")
	fl.StringVar(&kind, "kind", "", "grant kind")
	fl.StringVar(&state, "state", "", "grant state now: active, retired, revoked, ended (no longer listed by KMS)")
	fl.StringVar(&activeAt, "active-at", "", "grants active at this RFC 3339 time")
	fl.StringVar(&olderThan, "older-than", "", "grants created more than this long ago (24h, 30d)")
	fl.StringVar(&now, "now", "", "RFC 3339 time --older-than counts back from (default: now)")
	rf.register(cmd)
	return cmd
}

// grantFilter parses the filter flags, reporting every bad one at once.
func grantFilter(key, kind, state, activeAt, olderThan string) (app.Filter, error) {
	var f app.Filter
	var probs param.Problems
	var err error
	if key != "" {
		f.KeyARN, err = param.KeyARN("--key", key)
		probs.Check(err)
	}
	if kind != "" {
		f.Kind, err = param.Kind("--kind", kind)
		probs.Check(err)
	}
	if state != "" {
		f.State, err = param.State("--state", state)
		probs.Check(err)
	}
	if activeAt != "" {
		f.ActiveAt, err = param.Time("--active-at", activeAt)
		probs.Check(err)
	}
	if olderThan != "" {
		f.OlderThan, err = param.Age("--older-than", olderThan)
		probs.Check(err)
	}
	return f, probs.Err()
}
