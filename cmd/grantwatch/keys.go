package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

func init() { commands = append(commands, newKeysCmd) }

func newKeysCmd() *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Per key: grants by kind and state, the oldest active secondary, the share of the 50,000 grants quota",
		Long: `keys summarises every KMS key with recorded Bedrock grants. The quota share counts the active grants
grantwatch knows of against KMS's default 50,000 grants per key; grants that do not involve Bedrock are not
recorded, so the key's real use of the quota may be higher.
Exit status: 0 ok (also when no key is recorded), 1 failure, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := rf.query(cmd)
			if err != nil {
				return err
			}
			keys, err := q.Keys(cmd.Context())
			if err != nil {
				return queryError("keys", err)
			}
			w := cmd.OutOrStdout()
			if rf.output == "json" {
				return writeJSON(w, map[string]any{"keys": keys})
			}
			if rf.output == "csv" {
				rows := make([][]string, 0, len(keys))
				for _, k := range keys {
					oldest, oldestAt := "", ""
					if s := k.OldestActiveSecondary; s != nil {
						oldest, oldestAt = s.GrantID, rf.when(s.CreatedAt)
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
					oldest = s.GrantID + " " + rf.when(s.CreatedAt)
				}
				rows = append(rows, []string{k.KeyARN, byKind(k), strconv.Itoa(k.Active), strconv.Itoa(k.Total), oldest,
					strconv.FormatFloat(100*k.QuotaShare, 'f', 3, 64) + "%"})
			}
			fmt.Fprintf(w, "Keys (%d)\n", len(keys))
			return rf.writeRows(w, []string{"Key", "Grants by kind (active/retired/revoked/ended)", "Active", "Total", "Oldest active secondary", "Quota used"}, rows)
		},
	}
	rf.register(cmd)
	return cmd
}

// byKind renders the per-kind counts compactly: "primary 1/0/1, secondary 0/2/0".
func byKind(k app.KeySummary) string {
	var parts []string
	for _, kind := range app.Kinds {
		n, ok := k.Grants[kind]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d/%d/%d", kind, n[lifecycle.Active], n[lifecycle.Retired], n[lifecycle.Revoked], n[lifecycle.Gone]))
	}
	return strings.Join(parts, ", ")
}
