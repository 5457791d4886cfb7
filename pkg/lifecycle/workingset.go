package lifecycle

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// The working set. A key lives for years and Bedrock makes a short-lived secondary grant on it for every job, so the
// grants recorded on a key only grow. The rules need far less: the active grants, the primaries (parent links),
// grants that ended recently, and a few facts about everything older. A grant that ended longer ago than every rule
// window (Config.Retention) and has nothing left to notify moves to the key's archive: it stays stored, complete,
// for queries, but no event or sweep reads it again unless the event reaches back that far. ArchiveSummary holds the
// facts that tell when an event does; then the use case loads the archive and the rules run exactly as if nothing
// had been archived. So archiving changes the cost of an event, never its result.
//
// Loads are narrower still: an event reads only what its rules can touch (Load), and Apply says when that was not
// enough (Result.Need). A key-use call reads the usage record; a grant event reads the meta record and its grant;
// only primary changes, the sweep and reconcile read the whole working set.

// Scope says how much of a key a store loads.
type Scope int

// The scopes, narrowest first. Each includes what the narrower ones do, except that ScopeUsage has no meta record
// and ScopeGrants no usage.
const (
	// ScopeUsage is the key's usage record alone: what a key-use call changes.
	ScopeUsage Scope = iota + 1
	// ScopeGrants is the meta record and the grants Load.Grants names, wherever they are stored.
	ScopeGrants
	// ScopeWorking is meta, usage, the archive's primaries and every grant in the working set, plus the grants
	// Load.Grants names.
	ScopeWorking
	// ScopeAll is everything stored for the key, the archive included.
	ScopeAll
)

// Load is what a store loads for one operation on a key.
type Load struct {
	Scope  Scope
	Grants []string // grant ids to read wherever they are (ScopeGrants, ScopeWorking)
	// Primaries adds the record of the archive's primaries (ArchivedPrimaries): what a secondary created during an
	// archived primary's life needs for its parent link (a backfill reaching back), without reading the archive.
	Primaries bool
}

// Zero reports whether l asks for nothing.
func (l Load) Zero() bool { return l.Scope == 0 && len(l.Grants) == 0 && !l.Primaries }

// Covers reports whether what l loads includes what o asks for.
func (l Load) Covers(o Load) bool {
	if l.Scope == ScopeAll || o.Zero() {
		return true
	}
	switch {
	case o.Primaries && !l.Primaries:
		return false
	case o.Scope == ScopeAll:
		return false
	case o.Scope == ScopeWorking && l.Scope != ScopeWorking:
		return false
	case o.Scope == ScopeUsage && l.Scope == ScopeGrants:
		return false
	case o.Scope == ScopeGrants && l.Scope == ScopeUsage:
		return false
	}
	for _, id := range o.Grants {
		if !slices.Contains(l.Grants, id) {
			return false
		}
	}
	return true
}

// Union returns a load that covers both.
func (l Load) Union(o Load) Load {
	u := Load{Scope: max(l.Scope, o.Scope), Primaries: l.Primaries || o.Primaries}
	if (l.Scope == ScopeUsage && o.Scope == ScopeGrants) || (l.Scope == ScopeGrants && o.Scope == ScopeUsage) {
		u.Scope = ScopeWorking // the narrowest scope that has both usage and meta
	}
	if u.Scope == ScopeAll {
		u.Primaries = false // everything is loaded anyway
	} else {
		u.Grants = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(l.Grants), o.Grants...))))
	}
	return u
}

// hasUsage reports whether l loads the usage record.
func (l Load) hasUsage() bool { return l.Scope == ScopeUsage || l.Scope >= ScopeWorking }

// LoadFor returns what an event's rules read: the usage for key use, the meta record and the grant for a grant call.
func LoadFor(ev Event) Load {
	switch {
	case IsUse(ev.Name):
		return Load{Scope: ScopeUsage}
	case ev.Name == CreateGrant || IsEnd(ev.Name):
		return Load{Scope: ScopeGrants, Grants: []string{ev.GrantID}}
	}
	return Load{}
}

// Meta is the key's record of its working set: the primaries in it (so that a secondary finds its parent without
// reading the other grants) and the summary of what left it.
type Meta struct {
	Primaries []PrimaryRef // reported, created primaries in the working set, by creation time then id
	Archive   ArchiveSummary
	Version   int64 // optimistic-concurrency version kept by stores; 0: not stored yet
}

// ArchivedPrimaries is the key's record of the primaries in its archive. It grows only with primaries (one per
// custom model), and is read only when an event reaches back into an archived primary's life, so that a backfill of
// old secondaries reads one small item per event, not the archive.
type ArchivedPrimaries struct {
	Refs    []PrimaryRef
	Version int64 // 0: not stored yet
}

// Clone returns a deep copy.
func (a ArchivedPrimaries) Clone() ArchivedPrimaries {
	a.Refs = slices.Clone(a.Refs)
	for i := range a.Refs {
		a.Refs[i].Operations = slices.Clone(a.Refs[i].Operations)
	}
	return a
}

// put records p (replacing any record of the same id), or with drop, removes it; it reports whether that changed
// anything.
func (a *ArchivedPrimaries) put(p PrimaryRef, drop bool) bool {
	i := slices.IndexFunc(a.Refs, func(r PrimaryRef) bool { return r.ID == p.ID })
	switch {
	case drop && i < 0:
		return false
	case drop:
		a.Refs = slices.Delete(a.Refs, i, i+1)
	case i >= 0:
		if metaEqual(Meta{Primaries: []PrimaryRef{a.Refs[i]}}, Meta{Primaries: []PrimaryRef{p}}) {
			return false
		}
		a.Refs[i] = p
	default:
		a.Refs = append(a.Refs, p)
		slices.SortFunc(a.Refs, func(x, y PrimaryRef) int { return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID)) })
	}
	return true
}

// PrimaryRef is what linking a secondary and judging it against its parent need of a primary grant.
type PrimaryRef struct {
	ID         string
	CreatedAt  time.Time
	EndedAt    time.Time // zero while active
	EndedBy    string
	Operations []string
}

// ActiveAt reports whether the primary existed and had not ended at t (Grant.ActiveAt).
func (p PrimaryRef) ActiveAt(t time.Time) bool {
	return !p.CreatedAt.After(t) && (p.EndedAt.IsZero() || p.EndedAt.After(t))
}

// ArchiveSummary bounds what the archive holds. Every value only grows, so it stays a safe bound when an archived
// grant changes or moves back.
type ArchiveSummary struct {
	Reported              bool      // the archive holds at least one reported (Bedrock) grant
	LatestEnd             time.Time // latest end of a reported archived grant
	PrimaryLatestEnd      time.Time // latest end of an archived primary
	SecondaryLatestCreate time.Time // latest creation of an archived secondary
}

// Clone returns a deep copy.
func (m Meta) Clone() Meta {
	m.Primaries = slices.Clone(m.Primaries)
	for i := range m.Primaries {
		m.Primaries[i].Operations = slices.Clone(m.Primaries[i].Operations)
	}
	return m
}

func refOf(g Grant) PrimaryRef {
	return PrimaryRef{ID: g.ID, CreatedAt: g.CreatedAt, EndedAt: g.EndedAt, EndedBy: g.EndedBy, Operations: slices.Clone(g.Operations)}
}

// isPrimary reports whether g takes part in parent links: a reported primary whose CreateGrant has been seen.
func (g Grant) isPrimary() bool { return g.Kind == Primary && g.Created() && !g.Pending }

// isSecondary reports whether g is linked to a parent.
func (g Grant) isSecondary() bool { return g.Kind == Secondary && g.Created() && !g.Pending }

// Archivable reports whether g may leave the working set at horizon: it ended before it, and every notice about it
// has been confirmed sent or is no longer due. A claimed notice not yet confirmed keeps the grant where the sweep
// reads, so that the sweep sends it again once its lease has passed. (A primary that an active secondary names as
// its parent stays too: Settle.)
func (g Grant) Archivable(horizon time.Time) bool {
	if !g.Ended() || !g.EndedAt.Before(horizon) {
		return false
	}
	for _, a := range g.Alerts {
		if a.ResolvedAt.IsZero() || a.Unconfirmed != "" || (!a.NotifiedAt.IsZero() && a.ResolutionNotifiedAt.IsZero()) {
			return false
		}
	}
	return true
}

// syncMeta brings Meta.Primaries in line with the loaded grants: from all of them when the whole working set is
// loaded (so a meta record that drifted heals at the next sweep), else from the grants in ids.
func (k *Key) syncMeta(r *Result, ids []string) {
	before := k.Meta.Clone()
	if k.Loaded.Scope >= ScopeWorking {
		ids = slices.Collect(maps.Keys(k.Grants))
		k.Meta.Primaries = nil
	}
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	k.Meta.Primaries = slices.DeleteFunc(k.Meta.Primaries, func(p PrimaryRef) bool { return drop[p.ID] })
	for _, id := range ids {
		if g, ok := k.Grants[id]; ok && g.isPrimary() && !g.Archived {
			k.Meta.Primaries = append(k.Meta.Primaries, refOf(g))
		}
	}
	slices.SortFunc(k.Meta.Primaries, func(a, b PrimaryRef) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if !metaEqual(before, k.Meta) {
		r.MetaChanged = true
	}
}

func metaEqual(a, b Meta) bool {
	return a.Archive == b.Archive && slices.EqualFunc(a.Primaries, b.Primaries, func(x, y PrimaryRef) bool {
		return x.ID == y.ID && x.CreatedAt.Equal(y.CreatedAt) && x.EndedAt.Equal(y.EndedAt) && x.EndedBy == y.EndedBy &&
			slices.Equal(x.Operations, y.Operations)
	})
}

// Settle moves the loaded grants that are archivable at horizon to the archive, and the changed archived grants that
// are not (a reconcile reopened one, a late event raised a notice) back to the working set. Primaries stay while an
// active secondary in the working set names them, which is only known when the whole working set is loaded. It
// returns what to write; merge it into the write of the change that preceded it.
func (k *Key) Settle(changed Result, horizon time.Time) Result {
	r := Result{Outcome: Applied}
	if k.Loaded.Scope < ScopeGrants {
		return r
	}
	parents := map[string]bool{}
	if k.Loaded.Scope >= ScopeWorking {
		for _, g := range k.Grants {
			if g.isSecondary() && !g.Ended() && g.ParentID != "" {
				parents[g.ParentID] = true
			}
		}
	}
	var moved []string
	for _, id := range slices.Sorted(maps.Keys(k.Grants)) {
		g := k.Grants[id]
		switch {
		case !g.Archived && g.Archivable(horizon):
			if g.isPrimary() && (k.Loaded.Scope < ScopeWorking || parents[id]) {
				continue
			}
			if g.isPrimary() && !k.Loaded.Covers(Load{Primaries: true}) {
				return Result{Need: k.Loaded.Union(Load{Primaries: true})} // its record must be written with the move
			}
			g.Archived = true
		case g.Archived && slices.Contains(changed.Changed, id):
			if !g.Archivable(horizon) {
				g.Archived = false
				break
			}
			// It stays archived. A primary's record must follow it (it may have just become one: its end arrived
			// first, then its CreateGrant), so that record is loaded for any change to an archived primary.
			if !k.Loaded.Covers(Load{Primaries: true}) {
				if g.isPrimary() {
					return Result{Need: k.Loaded.Union(Load{Primaries: true})}
				}
			} else if k.ArchivedPrimaries.put(refOf(g), !g.isPrimary()) {
				r.PrimariesChanged = true
			}
			before := k.Meta.Archive
			k.Meta.Archive.add(g) // an archived grant that changed may widen the bounds
			r.MetaChanged = r.MetaChanged || k.Meta.Archive != before
			continue
		default:
			continue
		}
		if g.Archived {
			k.Meta.Archive.add(g)
		}
		if g.isPrimary() && k.Loaded.Covers(Load{Primaries: true}) && k.ArchivedPrimaries.put(refOf(g), !g.Archived) {
			r.PrimariesChanged = true
		}
		k.Grants[id] = g
		r.touch(id)
		r.Moved = append(r.Moved, id)
		moved = append(moved, id)
	}
	if len(moved) > 0 {
		r.MetaChanged = true
		k.syncMeta(&r, moved)
	}
	return r
}

// add widens the summary to cover g.
func (s *ArchiveSummary) add(g Grant) {
	if g.Pending {
		return
	}
	s.Reported = true
	s.LatestEnd = later(s.LatestEnd, g.EndedAt)
	if g.isPrimary() {
		s.PrimaryLatestEnd = later(s.PrimaryLatestEnd, g.EndedAt)
	}
	if g.isSecondary() {
		s.SecondaryLatestCreate = later(s.SecondaryLatestCreate, g.CreatedAt)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// interval is a grant's life as a primary: [from, to), to zero while it lasts; ok is false when g is no primary.
func primaryInterval(g Grant) (from, to time.Time, ok bool) {
	if !g.isPrimary() {
		return time.Time{}, time.Time{}, false
	}
	return g.CreatedAt, g.EndedAt, true
}

// relinkFrom returns the earliest secondary creation time whose parent a change from old to new may alter, and
// whether there is one: a primary appearing, disappearing or changing its creation affects every secondary created
// from the earlier creation on; a changed end affects those created from the earlier end on.
func relinkFrom(old, new Grant) (time.Time, bool) {
	of, ot, ook := primaryInterval(old)
	nf, nt, nok := primaryInterval(new)
	switch {
	case !ook && !nok:
		return time.Time{}, false
	case !ook:
		return nf, true
	case !nok:
		return of, true
	case !of.Equal(nf):
		return earliest(of, nf), true
	case !ot.Equal(nt):
		switch {
		case ot.IsZero():
			return nt, true
		case nt.IsZero():
			return ot, true
		}
		return earliest(ot, nt), true
	}
	return time.Time{}, false
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// RebuildMeta recomputes the meta record from the loaded grants, which must be all of the key's (ScopeAll): its
// primaries from the working set's, its archive summary from the archived ones. For a store converting data written
// before the meta record existed.
func (k *Key) RebuildMeta() Result {
	r := Result{Outcome: Applied, MetaChanged: true}
	k.Meta.Archive = ArchiveSummary{}
	for _, g := range k.Grants {
		if g.Archived {
			k.Meta.Archive.add(g)
			if g.isPrimary() && k.ArchivedPrimaries.put(refOf(g), false) {
				r.PrimariesChanged = true
			}
		}
	}
	k.syncMeta(&r, nil)
	return r
}
