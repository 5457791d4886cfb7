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

// Memory is an in-memory app.Store with the same version semantics as Table: the default for grantwatch replay
// and a reference for the contract test. It is safe for concurrent use.
type Memory struct {
	mu         sync.Mutex
	keys       map[string]*memKey
	rejections []app.Rejection
	jobs       memJobs     // the Bedrock job registry (jobs.go)
	backfill   memBackfill // issue 5: backfill runs and checkpoints (memory_checkpoint.go)
}

type memKey struct {
	grants   map[string]lifecycle.Grant
	usage    lifecycle.Usage
	hasUsage bool // the usage record has been saved at least once (Version 0 means "must not exist")
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{keys: map[string]*memKey{}} }

// LoadKey returns a deep copy of what is stored for keyARN, or lifecycle.NewKey(keyARN).
func (m *Memory) LoadKey(_ context.Context, keyARN string) (lifecycle.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := lifecycle.NewKey(keyARN)
	mk, ok := m.keys[keyARN]
	if !ok {
		return k, nil
	}
	for id, g := range mk.grants {
		k.Grants[id] = g.Clone()
	}
	k.Usage = mk.usage.Clone()
	return k, nil
}

// SaveKey writes the changed grants and usage of k, each conditional on its version, all or nothing.
func (m *Memory) SaveKey(_ context.Context, k lifecycle.Key, r lifecycle.Result) error {
	grants, err := changedGrants(k, r)
	if err != nil {
		return err
	}
	if len(grants) == 0 && !r.UsageChanged {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mk := m.keys[k.ARN]
	if mk == nil {
		mk = &memKey{grants: map[string]lifecycle.Grant{}}
	}
	// Check every condition before writing anything, so a conflict leaves the store untouched.
	for _, g := range grants {
		stored, ok := mk.grants[g.ID]
		if !versionOK(g.Version, stored.Version, ok) {
			return fmt.Errorf("store: save grant %s: %w", g.ID, app.ErrConflict)
		}
	}
	if r.UsageChanged && !versionOK(k.Usage.Version, mk.usage.Version, mk.hasUsage) {
		return fmt.Errorf("store: save usage of key %s: %w", k.ARN, app.ErrConflict)
	}
	for _, g := range grants {
		g = g.Clone()
		g.Version++
		mk.grants[g.ID] = g
	}
	if r.UsageChanged {
		mk.usage = k.Usage.Clone()
		mk.usage.Version++
		mk.hasUsage = true
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

// ActiveKeys returns, sorted, the keys that have a grant that has not ended or unchecked Bedrock service use:
// what Table's ActiveGrants index holds.
func (m *Memory) ActiveKeys(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for arn, mk := range m.keys {
		if mk.active() {
			out = append(out, arn)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (mk *memKey) active() bool {
	if mk.usage.Unchecked() {
		return true
	}
	for _, g := range mk.grants {
		if !g.Ended() {
			return true
		}
	}
	return false
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
