package lifecycle

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Reconciliation with KMS ListGrants. EventBridge drops events now and then, so the events alone can leave
// a live grant unknown or a retired one active forever. KMS is the truth about what is live now; Reconcile compares
// it with what the key records. Replay never reconciles, so the replay contract is unaffected.

// Reconciled is the EndedBy value of a grant that KMS no longer lists although no end event was seen.
const Reconciled = "Reconciled"

// ReconcileGrace is how long after a grant's creation or end KMS may still disagree with the events: KMS applies
// grant changes eventually, "usually" within five minutes (grant-lifecycle.md §6). Grants that changed more
// recently than this are left alone.
const ReconcileGrace = 5 * time.Minute

// reconcilePrefix starts the synthetic event ids reconcile writes. '~' sorts after every CloudTrail event id, so a
// real CreateGrant with the same time replaces what reconcile inferred (Key.create keeps the earliest).
const reconcilePrefix = "~reconcile:"

// ListedGrant is one grant as KMS ListGrants shows it.
type ListedGrant struct {
	ID                string
	Grantee           string
	RetiringPrincipal string
	Operations        []string
	ConstraintKeys    []string  // encryption-context keys of the constraints (values are not kept)
	CreatedAt         time.Time // CreationDate; zero when KMS (or moto) does not give it
	Name              string
}

// Bedrock reports whether the grant is Bedrock's: its grantee or retiring principal is Bedrock.
func (l ListedGrant) Bedrock() bool { return IsBedrock(l.Grantee) || IsBedrock(l.RetiringPrincipal) }

// ReconcileChanges says what Reconcile changed on one key; app.ReconcileReport is the run's report for people.
type ReconcileChanges struct {
	Added []string // Bedrock grants KMS lists that were unknown, pending or ended here: now recorded as active
	Ended []string // grants recorded active that KMS no longer lists: now ended with EndedBy Reconciled
}

// ClassifyListed returns the kind of a grant known only from ListGrants, and why. ListGrants does not show who
// created a grant, so the caller-based rules of Classify cannot apply: a grant allowed CreateGrant is taken for a
// primary, and one without it cannot be told apart (secondary or knowledge base), so it is other-bedrock.
func ClassifyListed(l ListedGrant) (Kind, string) {
	const from = "recorded by reconcile from KMS ListGrants (no CreateGrant event was seen); "
	switch {
	case slices.Contains(l.ConstraintKeys, DataAutomationContextKey):
		return DataAutomation, from + dataAutomationReason(l.Operations)
	case slices.Contains(l.Operations, CreateGrant):
		return Primary, from + "CreateGrant is among its operations; ListGrants does not show who created it"
	}
	return OtherBedrock, from + "ListGrants does not show who created it, so a secondary cannot be told from a knowledge-base grant"
}

// Reconcile compares the grants KMS lists for the key (all of them, every page) with what the key records, at
// time at:
//   - a Bedrock grant KMS lists that is unknown, a pending tombstone, or ended here (more than ReconcileGrace ago) is
//     recorded as active, classified from the listing, and raises untracked-grant;
//   - a reported grant that is active here, created more than ReconcileGrace before at, and absent from the listing
//     is ended at `at` with EndedBy Reconciled; its alerts resolve.
//
// Pass the complete listing only: a partial one would end grants that exist. It needs ReconcileLoad(listed) loaded.
func (k *Key) Reconcile(listed []ListedGrant, at time.Time, cfg Config) (Result, ReconcileChanges) {
	if k.Grants == nil {
		k.Grants = map[string]Grant{}
	}
	if nr, short := k.needs(ReconcileLoad(listed)); short {
		return nr, ReconcileChanges{}
	}
	r := Result{Outcome: Applied}
	var rep ReconcileChanges
	prev := map[string]Grant{} // the grants this reconcile changes, as they were
	live := make(map[string]bool, len(listed))
	for _, l := range listed {
		live[l.ID] = true
		if !l.Bedrock() {
			continue
		}
		g, exists := k.Grants[l.ID]
		switch {
		case exists && !g.Pending && !g.Ended():
			continue // known and active: agrees
		case exists && g.Ended() && at.Sub(g.EndedAt) <= ReconcileGrace:
			continue // ended moments ago: KMS may not have caught up
		}
		was := "unknown to grantwatch"
		if exists && g.Ended() && !g.Pending {
			was = fmt.Sprintf("recorded as %s by %s at %s", g.State(), g.EndedBy, g.EndedAt.UTC().Format(time.RFC3339))
		} else if exists {
			was = "known only from a non-Bedrock " + g.EndedBy
		}
		if !exists {
			g = Grant{ID: l.ID, KeyARN: k.ARN}
		}
		g = g.Clone()
		id := fmt.Sprintf("%s%s:%d", reconcilePrefix, l.ID, at.UnixNano())
		if !g.Created() {
			g.Kind, _ = ClassifyListed(l)
			created := l.CreatedAt.Truncate(time.Second) // CloudTrail's precision, so the real CreateGrant sorts first
			if created.IsZero() {
				created = at
			}
			g.CreatedAt, g.CreateEventID = created, id
			g.Grantee, g.RetiringPrincipal, g.Name = l.Grantee, l.RetiringPrincipal, l.Name
			g.Operations, g.ConstraintKeys = slices.Clone(l.Operations), slices.Clone(l.ConstraintKeys)
		}
		// KMS is the truth about what is live: the recorded end (kept in the history) did not happen, or not yet.
		g.EndedAt, g.EndedBy, g.EndEventID, g.EndedByBedrock, g.Pending = time.Time{}, "", "", false, false
		g.History = append(g.History, HistoryEntry{EventID: id, Name: "Reconcile", Time: at, Caller: "grantwatch reconcile (KMS ListGrants)"})
		slices.SortStableFunc(g.History, func(a, b HistoryEntry) int { return a.Time.Compare(b.Time) })
		if !g.hasAlert(UntrackedGrant) {
			a := newAlert(UntrackedGrant, g, at, "KMS lists Bedrock grant %s on key %s (grantee %s, operations %v) as live, but it was %s: its events were never received",
				g.ID, k.ARN, l.Grantee, l.Operations, was)
			g.Alerts = append(g.Alerts, a)
			r.Alerts = append(r.Alerts, a)
		} else {
			// Raised before and since resolved (the grant was ended by a later reconcile): open it again.
			for i := range g.Alerts {
				if g.Alerts[i].Type == UntrackedGrant {
					g.Alerts[i].ResolvedAt, g.Alerts[i].Resolution = time.Time{}, ""
				}
			}
		}
		prev[g.ID] = k.Grants[g.ID]
		k.Grants[g.ID] = g
		r.touch(g.ID)
		rep.Added = append(rep.Added, g.ID)
	}
	ids := slices.Sorted(maps.Keys(k.Grants))
	for _, id := range ids {
		g := k.Grants[id]
		if live[id] || g.Pending || g.Ended() || (g.Created() && at.Sub(g.CreatedAt) <= ReconcileGrace) {
			continue
		}
		eid := fmt.Sprintf("%s%s:%d", reconcilePrefix, id, at.UnixNano())
		g.EndedAt, g.EndedBy, g.EndEventID = at, Reconciled, eid
		g.History = append(slices.Clone(g.History), HistoryEntry{EventID: eid, Name: Reconciled, Time: at, Caller: "grantwatch reconcile (KMS ListGrants)"})
		prev[id] = k.Grants[id]
		k.Grants[id] = g
		r.touch(id)
		rep.Ended = append(rep.Ended, id)
	}
	slices.Sort(rep.Added)
	// Changed primaries move parent links: from the earliest time any of them affects (relinkFrom).
	var from time.Time
	relink := false
	for id, old := range prev {
		if f, ok := relinkFrom(old, k.Grants[id]); ok && (!relink || f.Before(from)) {
			from, relink = f, true
		}
	}
	if s := k.Meta.Archive.SecondaryLatestCreate; relink && !s.IsZero() && !s.Before(from) {
		if nr, short := k.needs(Load{Scope: ScopeAll}); short {
			return nr, ReconcileChanges{}
		}
	}
	if len(r.Changed) > 0 {
		refs := k.refs()
		for _, id := range slices.Sorted(maps.Keys(k.Grants)) {
			if s := k.Grants[id]; relink && s.isSecondary() && !s.CreatedAt.Before(from) {
				k.link(&r, id, refs)
			}
		}
		if nr, short := k.evaluate(&r, r.Changed, at, cfg); short {
			return nr, ReconcileChanges{}
		}
		k.resolve(&r, r.Changed)
		k.syncMeta(&r, r.Changed)
	}
	return r, rep
}

// ReconcileLoad is what Reconcile needs loaded: the working set and every Bedrock grant KMS lists, wherever stored.
func ReconcileLoad(listed []ListedGrant) Load {
	l := Load{Scope: ScopeWorking}
	for _, g := range listed {
		if g.Bedrock() {
			l.Grants = append(l.Grants, g.ID)
		}
	}
	slices.Sort(l.Grants)
	return l
}
