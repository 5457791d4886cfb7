package app

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// KeySummary is one key in the keys inventory.
type KeySummary struct {
	KeyARN  string
	Account string // of the key, from its ARN
	Region  string
	// Grants counts reported grants by kind, then by state.
	Grants                map[lifecycle.Kind]map[lifecycle.State]int
	Active                int
	Total                 int
	OldestActiveSecondary *lifecycle.Grant // nil when the key has no active secondary
	// QuotaShare is the active grants grantwatch knows of as a share of lifecycle.GrantsPerKeyQuota. Grants that do
	// not involve Bedrock are not recorded, so the key's real use of the quota may be higher.
	QuotaShare float64
}

// Keys summarises every key with recorded grants in the place, sorted by account, Region and key ARN. Without an
// account it reads the kind index in full (one Query per kind and page), with one the account's partition of the
// account index: its cost grows with the number of grants recorded there. A Region alone is a filter.
func (q *Query) Keys(ctx context.Context, in Place) ([]KeySummary, error) {
	byKey := map[string]*KeySummary{}
	parts := make([]GrantQuery, 0, len(Kinds))
	for _, kind := range Kinds {
		parts = append(parts, GrantQuery{Kind: kind})
	}
	if in.Account != "" {
		parts = []GrantQuery{{Account: in.Account}}
	}
	for _, part := range parts {
		after := ""
		for {
			part.After, part.Limit, part.Match = after, MaxLimit, func(g lifecycle.Grant) bool { return in.Has(g.KeyARN) }
			page, err := q.store.QueryGrants(ctx, part)
			if err != nil {
				return nil, err
			}
			for _, g := range page.Grants {
				ks := byKey[g.KeyARN]
				if ks == nil {
					_, region, account := lifecycle.KeyPlace(g.KeyARN)
					ks = &KeySummary{KeyARN: g.KeyARN, Account: account, Region: region, Grants: map[lifecycle.Kind]map[lifecycle.State]int{}}
					byKey[g.KeyARN] = ks
				}
				if ks.Grants[g.Kind] == nil {
					ks.Grants[g.Kind] = map[lifecycle.State]int{}
				}
				ks.Grants[g.Kind][g.State()]++
				ks.Total++
				if g.State() == lifecycle.Active {
					ks.Active++
					// Both indexes are oldest first, so the first active secondary seen is the oldest.
					if g.Kind == lifecycle.Secondary && ks.OldestActiveSecondary == nil {
						ks.OldestActiveSecondary = &g
					}
				}
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	out := make([]KeySummary, 0, len(byKey))
	for _, ks := range byKey {
		ks.QuotaShare = float64(ks.Active) / lifecycle.GrantsPerKeyQuota
		out = append(out, *ks)
	}
	slices.SortFunc(out, func(a, b KeySummary) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Region, b.Region), strings.Compare(a.KeyARN, b.KeyARN))
	})
	return out, nil
}

// AccountSummary is one account of the keys inventory: its keys (those of Keys), Regions and grants.
type AccountSummary struct {
	Account string
	Regions []string // the Regions of its keys, sorted
	Keys    int
	Active  int
	Total   int
}

// Accounts groups keys, as Keys sorts them, by account.
func Accounts(keys []KeySummary) []AccountSummary {
	var out []AccountSummary
	for _, k := range keys {
		if n := len(out); n == 0 || out[n-1].Account != k.Account {
			out = append(out, AccountSummary{Account: k.Account})
		}
		a := &out[len(out)-1]
		if !slices.Contains(a.Regions, k.Region) {
			a.Regions = append(a.Regions, k.Region)
		}
		a.Keys++
		a.Active += k.Active
		a.Total += k.Total
	}
	return out
}
