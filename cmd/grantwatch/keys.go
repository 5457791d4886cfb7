package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func init() { commands = append(commands, newKeysCmd) }

func newKeysCmd() *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Per key: grants by kind and state, the oldest active secondary, the share of the grants-per-key quota",
		Long: `keys summarises every KMS key with recorded Bedrock grants. The quota share counts the active grants
grantwatch knows of against KMS's default quota of ` + quota + ` grants per key (adjustable); grants that do not
involve Bedrock are not recorded, so the key's real use of the quota may be higher.
Exit status: 0 ok (also when no key is recorded), 1 failure, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := rf.query(cmd)
			if err != nil {
				return err
			}
			inv, err := q.Keys(cmd.Context())
			if err != nil {
				return queryError("keys", err)
			}
			list := queryapi.NewKeyList(inv)
			keys := list.Keys
			w := cmd.OutOrStdout()
			if rf.output == "json" {
				return writeJSON(w, list)
			}
			if rf.output == "csv" {
				rows := make([][]string, 0, len(keys))
				for _, k := range keys {
					oldest, oldestAt := "", ""
					if s := k.OldestActiveSecondary; s != nil {
						oldest, oldestAt = s.GrantID, rf.at(s.CreatedAt)
					}
					rows = append(rows, []string{k.KeyARN, byKind(k), strconv.Itoa(k.Active), strconv.Itoa(k.Total), oldest, oldestAt,
						strconv.FormatFloat(k.QuotaShare, 'f', 6, 64)})
				}
				return rf.writeRows(w, []string{"keyArn", "grantsByKind", "active", "total", "oldestActiveSecondary", "oldestActiveSecondaryCreatedAt", "quotaShare"}, rows)
			}
			rows := make([][]string, 0, len(keys))
			for _, k := range keys {
				oldest := ""
				if s := k.OldestActiveSecondary; s != nil {
					oldest = s.GrantID + " " + rf.at(s.CreatedAt)
				}
				rows = append(rows, []string{k.KeyARN, byKind(k), strconv.Itoa(k.Active), strconv.Itoa(k.Total), oldest,
					strconv.FormatFloat(100*k.QuotaShare, 'f', 3, 64) + "%"})
			}
			fmt.Fprintf(w, "Keys (%d)\n", len(keys))
			return rf.writeRows(w, []string{"Key", "Grants by kind (" + statesHeader() + ")", "Active", "Total", "Oldest active secondary", "Quota used"}, rows)
		},
	}
	rf.register(cmd)
	return cmd
}

// byKind renders the per-kind counts compactly, states in app.States order: "primary 1/0/1/0, secondary 0/2/0/0".
func byKind(k queryapi.KeySummary) string {
	var parts []string
	for _, kind := range app.Kinds {
		n, ok := k.Grants[string(kind)]
		if !ok {
			continue
		}
		counts := make([]string, 0, len(app.States))
		for _, st := range app.States {
			counts = append(counts, strconv.Itoa(n[string(st)]))
		}
		parts = append(parts, string(kind)+" "+strings.Join(counts, "/"))
	}
	return strings.Join(parts, ", ")
}

func statesHeader() string {
	names := make([]string, len(app.States))
	for i, st := range app.States {
		names[i] = string(st)
	}
	return strings.Join(names, "/")
}

// quota is KMS's grants-per-key quota as help texts print it: 50,000.
var quota = func(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}(lifecycle.GrantsPerKeyQuota)
