package main

import (
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func init() { commands = append(commands, newGrantsCmd) }

func newGrantsCmd() *cobra.Command {
	var (
		rc                                    readCmd
		key, kind, state, activeAt, olderThan string
	)
	cmd := &cobra.Command{
		Use:   "grants [--key ARN] [--account ID] [--region R] [--kind KIND] [--state STATE] [--active-at RFC3339] [--older-than DURATION] [--at RFC3339]",
		Short: "List recorded grants, now or at a point in time",
		Long: `grants lists the Bedrock grants grantwatch has recorded, by key-condition queries on the table.
  --key ARN             grants on one KMS key (full key ARN)
  --account ID          grants on keys of one AWS account (a whole organization's table), read from that account's
                        partition of the GrantsByAccount index
  --region R            grants on keys of one Region
  --kind KIND           primary, secondary, knowledge-base, data-automation or other-bedrock
  --state STATE         active, retired, revoked or ended (the state now; ended: KMS no longer lists the grant
                        and no RetireGrant or RevokeGrant was recorded, found by reconcile)
  --active-at RFC3339   grants that were active at that time, answered from history: created at or before it and
                        not ended, or ended after it (retired and revoked grants included)
  --older-than DURATION created more than DURATION ago (36h, 30d, 2w), counted back from --at
  --at RFC3339          the time the list is evaluated at: what --older-than and "active for" count from (default:
                        now), for reproducible reports
The table fits the terminal; -o wide adds how each grant ended and who created it, and prints ids and ARNs in full.
Exit status: 0 ok (also when nothing matches), 1 failure, 2 usage error or bad input.`,
		Example: `  grantwatch grants --kind secondary --state active
  grantwatch grants --key arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --active-at 2024-05-30T10:30:00Z
  grantwatch grants --account 444455556666 --region eu-west-1 --state active
  grantwatch grants --older-than 30d -o csv > old-grants.csv
  grantwatch grants --state active -o wide`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, probs := grantFilter(key, kind, state, activeAt, olderThan)
			rc.parsePlace(&probs)
			f.Account, f.Region = rc.place.Account, rc.place.Region
			if err := rc.open(cmd, probs); err != nil {
				return err
			}
			defer rc.close()
			rc.s.progress.set("listing grants")
			all, err := rc.q.AllGrants(cmd.Context(), f, maxCLIGrants)
			if err != nil {
				return rc.s.fail(err)
			}
			rc.s.progress.stop()
			list := queryapi.NewGrantList(all, "")
			p := rc.out
			switch p.format {
			case outJSON:
				return p.json(list)
			case outCSV:
				rows := make([][]string, 0, len(list.Grants))
				for _, g := range list.Grants {
					rows = append(rows, []string{g.GrantID, g.KeyARN, g.Kind, g.State, g.ParentGrantID,
						p.time(g.CreatedAt), g.CreatedBy, p.time(g.EndedAt), g.EndedBy})
				}
				return p.csv([]string{"grantId", "keyArn", "kind", "state", "parentGrantId", "createdAt", "createdBy", "endedAt", "endedBy"}, rows)
			}
			rows := make([][]string, 0, len(list.Grants))
			for _, g := range list.Grants {
				rows = append(rows, rc.grantRow(g))
			}
			return p.table("Grants ("+itoa(len(rows))+")", grantCols(), rows)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&key, "key", "", "KMS key ARN")
	fl.StringVar(&kind, "kind", "", "grant kind")
	fl.StringVar(&state, "state", "", "grant state now: active, retired, revoked, ended (no longer listed by KMS)")
	fl.StringVar(&activeAt, "active-at", "", "grants active at this RFC 3339 time")
	fl.StringVar(&olderThan, "older-than", "", "grants created more than this long ago (36h, 30d, 2w)")
	rc.addPlace(cmd, "grants")
	rc.addAt(cmd, "evaluate at this RFC 3339 time: --older-than and ages count from it (default: now)")
	// --now was this flag's name before every command called it --at; scripts may still pass it.
	fl.StringVar(&rc.at, "now", "", "the same as --at")
	_ = fl.MarkHidden("now")
	rc.register(cmd)
	completeFixed(cmd, "kind", app.Kinds)
	completeFixed(cmd, "state", app.States)
	return cmd
}

// grantFilter parses the filter flags, reporting every bad one at once.
func grantFilter(key, kind, state, activeAt, olderThan string) (app.Filter, param.Problems) {
	given := map[string]string{}
	for flag, v := range map[string]string{"--key": key, "--kind": kind, "--state": state, "--active-at": activeAt, "--older-than": olderThan} {
		if v != "" { // an empty flag is not given
			given[flag] = v
		}
	}
	var f app.Filter
	var probs param.Problems
	// --account and --region are the place flags every read command shares (readCmd).
	param.Filter(&probs, given, param.FilterNames{Key: "--key", Kind: "--kind", State: "--state", ActiveAt: "--active-at", OlderThan: "--older-than"}, &f)
	return f, probs
}
