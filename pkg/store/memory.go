package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

var _ app.Store = (*Memory)(nil)

// Memory is an in-memory app.Store with the same places, loads and version semantics as Table: the default for
// grantwatch replay and a reference for the contract test. A load copies only what it loads, so an event costs the
// same whatever the archive holds. It is safe for concurrent use.
type Memory struct {
	mu         sync.Mutex
	keys       map[string]*memKey
	rejections []app.Rejection
	jobs       memJobs     // the Bedrock job registry (jobs.go)
	backfill   memBackfill // backfill runs and checkpoints (checkpoint.go)
}

type memKey struct {
	working  map[string]lifecycle.Grant // GRANT# items
	archive  map[string]lifecycle.Grant // ARCHIVE# items
	usage    lifecycle.Usage
	hasUsage bool // the usage record has been saved at least once (Version 0 means "must not exist")
	meta     lifecycle.Meta
	hasMeta  bool
	prims    lifecycle.ArchivedPrimaries
	hasPrims bool
}

func newMemKey() *memKey {
	return &memKey{working: map[string]lifecycle.Grant{}, archive: map[string]lifecycle.Grant{}}
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{keys: map[string]*memKey{}} }

// LoadKey returns a deep copy of what l asks for of keyARN, as Table.LoadKey reads it.
func (m *Memory) LoadKey(_ context.Context, keyARN string, l lifecycle.Load) (lifecycle.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := lifecycle.NewKey(keyARN)
	k.Loaded = l
	mk, ok := m.keys[keyARN]
	if !ok {
		return k, nil
	}
	named := func() {
		for _, id := range l.Grants {
			if g, ok := mk.working[id]; ok {
				k.Grants[id] = g.Clone()
			} else if g, ok := mk.archive[id]; ok {
				k.Grants[id] = g.Clone()
			}
		}
	}
	if l.Scope == lifecycle.ScopeWorking {
		k.Loaded.Primaries = true // as Table: the record is in the working set's range
	}
	if k.Loaded.Primaries || l.Scope == lifecycle.ScopeAll {
		k.ArchivedPrimaries = mk.prims.Clone()
	}
	switch l.Scope {
	case lifecycle.ScopeUsage:
		k.Usage = mk.usage.Clone()
	case lifecycle.ScopeGrants:
		k.Meta = mk.meta.Clone()
		named()
	case lifecycle.ScopeWorking, lifecycle.ScopeAll:
		k.Meta, k.Usage = mk.meta.Clone(), mk.usage.Clone()
		for id, g := range mk.working {
			k.Grants[id] = g.Clone()
		}
		if l.Scope == lifecycle.ScopeAll {
			for id, g := range mk.archive {
				if _, dup := k.Grants[id]; !dup {
					k.Grants[id] = g.Clone()
				}
			}
		} else {
			named()
		}
	default:
		return lifecycle.Key{}, fmt.Errorf("store: load key %s: unknown scope %d", keyARN, l.Scope)
	}
	return k, nil
}

// SaveKey writes what r changed, each item conditional on its version, all or nothing, as Table.SaveKey does.
func (m *Memory) SaveKey(_ context.Context, k lifecycle.Key, r lifecycle.Result) error {
	if !r.Need.Zero() {
		return fmt.Errorf("store: save key %s: the change is incomplete (it needs more loaded)", k.ARN)
	}
	grants, err := changedGrants(k, r)
	if err != nil {
		return err
	}
	if len(grants) == 0 && !r.UsageChanged && !r.MetaChanged && !r.PrimariesChanged {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mk := m.keys[k.ARN]
	if mk == nil {
		mk = newMemKey()
	}
	place := func(archived bool) map[string]lifecycle.Grant {
		if archived {
			return mk.archive
		}
		return mk.working
	}
	// Check every condition before writing anything, so a conflict leaves the store untouched.
	for _, g := range grants {
		if slices.Contains(r.Moved, g.ID) {
			_, there := place(g.Archived)[g.ID]
			stored, was := place(!g.Archived)[g.ID]
			if there || (g.Version != 0 && (!was || stored.Version != g.Version)) {
				return fmt.Errorf("store: save grant %s: %w", g.ID, app.ErrConflict)
			}
			continue
		}
		stored, ok := place(g.Archived)[g.ID]
		if !versionOK(g.Version, stored.Version, ok) {
			return fmt.Errorf("store: save grant %s: %w", g.ID, app.ErrConflict)
		}
	}
	if r.UsageChanged && !versionOK(k.Usage.Version, mk.usage.Version, mk.hasUsage) {
		return fmt.Errorf("store: save usage of key %s: %w", k.ARN, app.ErrConflict)
	}
	if r.MetaChanged && !versionOK(k.Meta.Version, mk.meta.Version, mk.hasMeta) {
		return fmt.Errorf("store: save meta of key %s: %w", k.ARN, app.ErrConflict)
	}
	if r.PrimariesChanged && !versionOK(k.ArchivedPrimaries.Version, mk.prims.Version, mk.hasPrims) {
		return fmt.Errorf("store: save archived primaries of key %s: %w", k.ARN, app.ErrConflict)
	}
	for _, g := range grants {
		g = g.Clone()
		if slices.Contains(r.Moved, g.ID) {
			delete(place(!g.Archived), g.ID)
			g.Version = 0 // a new item at the new place, as in the table
		}
		g.Version++
		place(g.Archived)[g.ID] = g
	}
	if r.UsageChanged {
		mk.usage = k.Usage.Clone()
		mk.usage.Version++
		mk.hasUsage = true
	}
	if r.MetaChanged {
		mk.meta = k.Meta.Clone()
		mk.meta.Version++
		mk.hasMeta = true
	}
	if r.PrimariesChanged {
		mk.prims = k.ArchivedPrimaries.Clone()
		mk.prims.Version++
		mk.hasPrims = true
	}
	m.keys[k.ARN] = mk
	return nil
}

// versionOK is the condition Table puts on every write: version 0 creates, any other version must match.
func versionOK(given, stored int64, exists bool) bool {
	if given == 0 {
		return !exists
	}
	return exists && stored == given
}

// ActiveKeys returns, sorted, the keys with a grant in their working set or usage that is due (Usage.Due): what
// Table's ActiveGrants index holds.
func (m *Memory) ActiveKeys(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for arn, mk := range m.keys {
		if len(mk.working) > 0 || mk.usage.Due() {
			out = append(out, arn)
		}
	}
	slices.Sort(out)
	return out, nil
}

// RecordRejection keeps r in memory.
func (m *Memory) RecordRejection(_ context.Context, r app.Rejection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejections = append(m.rejections, r)
	return nil
}

// Rejections returns the recorded rejections in the order they were recorded.
func (m *Memory) Rejections() []app.Rejection {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.rejections)
}

// Sizes returns how many grants the key holds in its working set and in its archive: for tests and benchmarks.
func (m *Memory) Sizes(keyARN string) (working, archived int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mk := m.keys[keyARN]; mk != nil {
		return len(mk.working), len(mk.archive)
	}
	return 0, 0
}

// each calls fn for every stored grant, working set first; the caller holds m.mu.
func (mk *memKey) each(fn func(lifecycle.Grant)) {
	for _, g := range mk.working {
		fn(g)
	}
	for _, g := range mk.archive {
		fn(g)
	}
}

// changedGrants returns the grants r.Changed names, once each, in that order. A name k does not hold is a caller
// bug, reported rather than silently skipped.
func changedGrants(k lifecycle.Key, r lifecycle.Result) ([]lifecycle.Grant, error) {
	out := make([]lifecycle.Grant, 0, len(r.Changed))
	seen := make(map[string]bool, len(r.Changed))
	for _, id := range r.Changed {
		if seen[id] {
			continue
		}
		seen[id] = true
		g, ok := k.Grants[id]
		if !ok {
			return nil, fmt.Errorf("store: save grant %s: not in key %s", id, k.ARN)
		}
		out = append(out, g)
	}
	return out, nil
}
