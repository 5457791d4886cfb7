package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func init() { commands = append(commands, newKeysCmd) }

func newKeysCmd() *cobra.Command {
	var rc readCmd
	cmd := &cobra.Command{
		Use:   "keys [--account ID] [--region R]",
		Short: "Per account and key: grants by kind and state, the oldest active secondary, the share of the grants-per-key quota",
		Long: `keys summarises every KMS key with recorded Bedrock grants, account by account (a key ARN names its account
and Region; --account and --region narrow the list, and $` + accountNamesEnv + `, id=name pairs such as
111122223333=prod-ml, names the accounts). The quota share counts the active grants grantwatch knows of against
KMS's default quota of ` + quota + ` grants per key (adjustable); grants that do not involve Bedrock are not recorded, so
the key's real use of the quota may be higher. --at sets the time the oldest active secondary's age counts to
(default: now).
Exit status: 0 ok (also when no key is recorded), 1 failure, 2 usage error.`,
		Example: `  grantwatch keys
  grantwatch keys --account 444455556666 --region eu-west-1
  grantwatch keys --at 2024-06-01T00:00:00Z -o wide
  grantwatch keys -o csv > keys.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var probs param.Problems
			rc.parsePlace(&probs)
			if err := rc.open(cmd, probs); err != nil {
				return err
			}
			defer rc.close()
			rc.s.progress.set("reading every key's grants")
			inv, err := rc.q.Keys(cmd.Context(), rc.place)
			if err != nil {
				return rc.s.fail(err)
			}
			rc.s.progress.stop()
			list := queryapi.NewKeyList(inv, rc.names)
			p := rc.out
			switch p.format {
			case outJSON:
				return p.json(list)
			case outCSV:
				rows := make([][]string, 0, len(list.Keys))
				for _, k := range list.Keys {
					oldest, oldestAt := "", ""
					if s := k.OldestActiveSecondary; s != nil {
						oldest, oldestAt = s.GrantID, p.time(s.CreatedAt)
					}
					// Account and Region last: scripts that read the columns before them by position still work.
					rows = append(rows, []string{k.KeyARN, byKind(k), strconv.Itoa(k.Active), strconv.Itoa(k.Total), oldest, oldestAt,
						strconv.FormatFloat(k.QuotaShare, 'f', 6, 64), k.Account, k.Region})
				}
				return p.csv([]string{"keyArn", "grantsByKind", "active", "total", "oldestActiveSecondary", "oldestActiveSecondaryCreatedAt", "quotaShare",
					"account", "region"}, rows)
			}
			if err := p.table(fmt.Sprintf("Keys (%d) in %s; grants by kind counted %s", len(list.Keys), count(len(list.Accounts), "account", "accounts"),
				statesHeader()), nil, nil); err != nil {
				return err
			}
			for _, a := range list.Accounts {
				rows := make([][]string, 0, a.Keys)
				for _, k := range list.Keys {
					if k.Account != a.Account {
						continue
					}
					oldest, age, at := "", "", ""
					if s := k.OldestActiveSecondary; s != nil {
						oldest, age, at = s.GrantID, activeFor(s.CreatedAt, s.EndedAt, rc.opts.now()), p.time(s.CreatedAt)
					}
					rows = append(rows, []string{k.KeyARN, strconv.Itoa(k.Active), strconv.Itoa(k.Total), byKind(k), oldest, age, at,
						strconv.FormatFloat(100*k.QuotaShare, 'f', 3, 64) + "%"})
				}
				if err := p.table("\n"+accountTitle(a), []col{
					// By kind is wide enough for two kinds on one line; more wrap.
					{head: "Key", fit: arn, min: 30}, {head: "Active"}, {head: "Total"}, {head: "Grants by kind", fit: prose, min: 34},
					{head: "Oldest secondary", fit: ident}, {head: "Active for"}, {head: "Created", wide: true}, {head: "Quota"},
				}, rows); err != nil {
					return err
				}
			}
			return nil
		},
	}
	rc.addPlace(cmd, "keys")
	rc.addAt(cmd, "evaluate at this RFC 3339 time: ages count to it (default: now)")
	rc.register(cmd)
	return cmd
}

// accountTitle heads an account's keys: "Account 111122223333 (prod-ml): 3 keys in eu-west-1, us-east-1; 4 active
// of 9 grants".
func accountTitle(a queryapi.AccountSummary) string {
	name := ""
	if a.Name != "" {
		name = " (" + a.Name + ")"
	}
	return fmt.Sprintf("Account %s%s: %s in %s; %d active of %s", a.Account, name, count(a.Keys, "key", "keys"), strings.Join(a.Regions, ", "),
		a.Active, count(a.Total, "grant", "grants"))
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
