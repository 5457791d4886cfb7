package store

// Memory's read side: app.QueryStore with the same order, index membership and positions as Reader on DynamoDB, so
// the CLI works without a table and the contract test can compare the two.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

var _ app.QueryStore = (*Memory)(nil)

// indexed is a grant with the key attributes it has in the table or index a query reads.
type indexed struct {
	g    lifecycle.Grant
	keys map[string]string
	sort string // the sort key of that table or index
}

// QueryGrants mirrors Reader.QueryGrants.
func (m *Memory) QueryGrants(_ context.Context, q app.GrantQuery) (app.GrantPage, error) {
	read, err := readOf(q)
	if err != nil {
		return app.GrantPage{}, err
	}
	start := ""
	if q.After != "" {
		pos, err := checkPosition(q, q.After)
		if err != nil {
			return app.GrantPage{}, err
		}
		start = pos["gsi2sk"]
		if read == readKey {
			start = pos["sk"]
		}
	}
	items := m.indexed(q, read)
	var page app.GrantPage
	for i, it := range items {
		if it.sort <= start {
			continue
		}
		if it.g.Reported() && (q.Match == nil || q.Match(it.g)) {
			page.Grants = append(page.Grants, it.g.Clone())
		}
		if len(page.Grants) == q.Limit && i+1 < len(items) {
			b, err := json.Marshal(it.keys)
			if err != nil {
				return app.GrantPage{}, fmt.Errorf("store: query grants: %w", err)
			}
			page.Next = string(b)
			break
		}
	}
	return page, nil
}

// indexed returns what the table (key query), GrantsByKind (kind query) or GrantsByAccount (account query) holds for
// q, in sort-key order.
func (m *Memory) indexed(q app.GrantQuery, read int) []indexed {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []indexed
	add := func(g lifecycle.Grant) {
		keys := map[string]string{"pk": keyPrefix + g.KeyARN, "sk": grantSK(g)}
		if read == readKey {
			out = append(out, indexed{g: g, keys: keys, sort: keys["sk"]})
			return
		}
		kk := kindIndexKeys(g)
		switch {
		case kk == nil, !q.CreatedAtMost.IsZero() && kk["gsi2sk"] >= bound(q.CreatedAtMost):
			return
		case read == readAccount:
			if accountIndexKey(g.KeyARN, g) != q.Account {
				return
			}
			keys["ac"] = q.Account
		case kk["gsi2pk"] != kindPrefix+string(q.Kind):
			return
		default:
			keys["gsi2pk"] = kk["gsi2pk"]
		}
		keys["gsi2sk"] = kk["gsi2sk"]
		out = append(out, indexed{g: g, keys: keys, sort: kk["gsi2sk"]})
	}
	if q.KeyARN != "" {
		if mk := m.keys[q.KeyARN]; mk != nil {
			mk.each(add)
		}
	} else {
		for _, mk := range m.keys {
			mk.each(add)
		}
	}
	// Equal index sort keys are ordered by the table's key, as DynamoDB pages them.
	slices.SortFunc(out, func(a, b indexed) int {
		return cmp.Or(cmp.Compare(a.sort, b.sort), cmp.Compare(a.keys["pk"], b.keys["pk"]), cmp.Compare(a.keys["sk"], b.keys["sk"]))
	})
	return out
}

// GrantKeys returns the keys holding a grant with this id, as GrantsById does.
func (m *Memory) GrantKeys(_ context.Context, grantID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for arn, mk := range m.keys {
		_, working := mk.working[grantID]
		if _, archived := mk.archive[grantID]; working || archived {
			keys = append(keys, arn)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// GrantIDs returns the ids of reported grants that begin with prefix, as GrantsByIdPrefix does.
func (m *Memory) GrantIDs(_ context.Context, prefix string, limit int) ([]string, error) {
	if len(prefix) < app.GrantIDPrefixLen || limit < 1 {
		return nil, fmt.Errorf("store: find grants by prefix %q: want at least %d characters and a limit, got limit %d", prefix, app.GrantIDPrefixLen, limit)
	}
	m.mu.Lock()
	var ids []string
	for _, mk := range m.keys {
		mk.each(func(g lifecycle.Grant) {
			if idPrefixKey(g) != "" && strings.HasPrefix(g.ID, prefix) {
				ids = append(ids, g.ID)
			}
		})
	}
	m.mu.Unlock()
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return ids[:min(len(ids), limit)], nil
}

// Grant returns a copy of one grant; the zero Grant when there is none.
func (m *Memory) Grant(_ context.Context, keyARN, grantID string) (lifecycle.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mk := m.keys[keyARN]; mk != nil {
		if g, ok := mk.working[grantID]; ok {
			return g.Clone(), nil
		}
		return mk.archive[grantID].Clone(), nil
	}
	return lifecycle.Grant{}, nil
}

// Children returns the key's grants whose parent is grantID, by grant id.
func (m *Memory) Children(_ context.Context, keyARN, grantID string) ([]lifecycle.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []lifecycle.Grant
	if mk := m.keys[keyARN]; mk != nil {
		mk.each(func(g lifecycle.Grant) {
			if g.ParentID == grantID && g.Reported() {
				out = append(out, g.Clone())
			}
		})
	}
	slices.SortFunc(out, func(a, b lifecycle.Grant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Usage returns a copy of the key's usage; the zero Usage when there is none.
func (m *Memory) Usage(_ context.Context, keyARN string) (lifecycle.Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mk := m.keys[keyARN]; mk != nil {
		return mk.usage.Clone(), nil
	}
	return lifecycle.Usage{}, nil
}
