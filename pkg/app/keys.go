package app

import (
	"context"
	"slices"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// KeySummary is one key in the keys inventory.
type KeySummary struct {
	KeyARN string
	// Grants counts reported grants by kind, then by state.
	Grants                map[lifecycle.Kind]map[lifecycle.State]int
	Active                int
	Total                 int
	OldestActiveSecondary *lifecycle.Grant // nil when the key has no active secondary
	// QuotaShare is the active grants grantwatch knows of as a share of lifecycle.GrantsPerKeyQuota. Grants that do
	// not involve Bedrock are not recorded, so the key's real use of the quota may be higher.
	QuotaShare float64
}

// Keys summarises every key with recorded grants, sorted by key ARN. It reads the kind index in full (one Query
// per kind and page): its cost grows with the number of recorded grants.
func (q *Query) Keys(ctx context.Context) ([]KeySummary, error) {
	byKey := map[string]*KeySummary{}
	for _, kind := range Kinds {
		after := ""
		for {
			page, err := q.store.QueryGrants(ctx, GrantQuery{Kind: kind, After: after, Limit: MaxLimit})
			if err != nil {
				return nil, err
			}
			for _, g := range page.Grants {
				ks := byKey[g.KeyARN]
				if ks == nil {
					ks = &KeySummary{KeyARN: g.KeyARN, Grants: map[lifecycle.Kind]map[lifecycle.State]int{}}
					byKey[g.KeyARN] = ks
				}
				if ks.Grants[g.Kind] == nil {
					ks.Grants[g.Kind] = map[lifecycle.State]int{}
				}
				ks.Grants[g.Kind][g.State()]++
				ks.Total++
				if g.State() == lifecycle.Active {
					ks.Active++
					// The kind index is oldest first, so the first active secondary seen is the oldest.
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
	slices.SortFunc(out, func(a, b KeySummary) int { return strings.Compare(a.KeyARN, b.KeyARN) })
	return out, nil
}
