package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// GrantHistory is one grant with everything known about it.
type GrantHistory struct {
	Grant    lifecycle.Grant
	Created  *Creation        // nil while the CreateGrant is not recorded
	Ended    *Ending          // nil while no end is recorded
	Parent   *lifecycle.Grant // nil without a parent, or when the parent is not stored
	Children []lifecycle.Grant
	Usage    lifecycle.Usage // the key's: use calls carry no grant id
	Timeline []TimelineEntry // the grant's events and its alerts' raising and resolution, oldest first
}

// Creation says who created the grant and from where.
type Creation struct {
	At         time.Time
	By         string // role session or user ARN, or type/invokedBy
	CallerType string // AssumedRole, AWSService, ...
	InvokedBy  string // the service that called for the principal
	SourceIP   string
	EventID    string
}

// Ending says who ended the grant and how.
type Ending struct {
	At        time.Time
	How       string // RetireGrant, RevokeGrant or Reconciled
	By        string
	SourceIP  string
	ByBedrock bool
	EventID   string
}

// TimelineEntry is one thing that happened to the grant: a lifecycle event or an alert.
type TimelineEntry struct {
	At       time.Time
	What     string // CreateGrant, RetireGrant, RevokeGrant, Reconciled, alert:<type> or resolved:<type>
	By       string
	SourceIP string
	Detail   string
}

// History returns one grant's history. keyARN may be empty: the grant is then found by id alone among the keys of
// the place, and an id recorded on several of them is an InputError asking for the key (or a narrower place).
func (q *Query) History(ctx context.Context, grantID, keyARN string, in Place) (GrantHistory, error) {
	where := ""
	if in != (Place{}) {
		where = " in " + in.String()
	}
	switch {
	case keyARN != "" && !in.Has(keyARN):
		return GrantHistory{}, fmt.Errorf("grant %s on key %s%s: %w", grantID, keyARN, where, ErrNotFound)
	case keyARN == "":
		keys, err := q.store.GrantKeys(ctx, grantID)
		if err != nil {
			return GrantHistory{}, err
		}
		keys = slices.DeleteFunc(keys, func(k string) bool { return !in.Has(k) })
		switch len(keys) {
		case 0:
			return GrantHistory{}, fmt.Errorf("grant %s%s: %w", grantID, where, ErrNotFound)
		case 1:
			keyARN = keys[0]
		default:
			return GrantHistory{}, &InputError{Field: "grant id", Value: grantID,
				Problem: fmt.Sprintf("is recorded on %d keys%s (%s); name the key, or the account or Region", len(keys), where, strings.Join(keys, ", "))}
		}
	}
	g, err := q.store.Grant(ctx, keyARN, grantID)
	if err != nil {
		return GrantHistory{}, err
	}
	if g.ID == "" || !g.Reported() {
		return GrantHistory{}, fmt.Errorf("grant %s on key %s: %w", grantID, keyARN, ErrNotFound)
	}
	h := GrantHistory{Grant: g, Children: []lifecycle.Grant{}}
	if g.ParentID != "" {
		p, err := q.store.Grant(ctx, keyARN, g.ParentID)
		if err != nil {
			return GrantHistory{}, err
		}
		if p.ID != "" && p.Reported() { // the grant's ParentID still names a parent that is not stored
			h.Parent = &p
		}
	}
	children, err := q.store.Children(ctx, keyARN, grantID)
	if err != nil {
		return GrantHistory{}, err
	}
	for _, c := range children {
		if c.Reported() {
			h.Children = append(h.Children, c)
		}
	}
	if h.Usage, err = q.store.Usage(ctx, keyARN); err != nil {
		return GrantHistory{}, err
	}
	h.Created, h.Ended, h.Timeline = timeline(g)
	return h, nil
}

// timeline merges the grant's applied events and its alerts into one sequence, and finds the events that created
// and ended it.
func timeline(g lifecycle.Grant) (*Creation, *Ending, []TimelineEntry) {
	var created *Creation
	var ended *Ending
	out := []TimelineEntry{}
	for _, e := range g.History {
		out = append(out, TimelineEntry{At: e.Time.UTC(), What: e.Name, By: e.Caller, SourceIP: e.SourceIP, Detail: "event " + e.EventID})
		if e.EventID == g.CreateEventID {
			created = &Creation{At: e.Time.UTC(), By: g.CreatedBy.Name(), CallerType: g.CreatedBy.Type,
				InvokedBy: g.CreatedBy.InvokedBy, SourceIP: e.SourceIP, EventID: e.EventID}
		}
		if e.EventID == g.EndEventID {
			ended = &Ending{At: e.Time.UTC(), How: g.EndedBy, By: e.Caller, SourceIP: e.SourceIP, ByBedrock: g.EndedByBedrock, EventID: e.EventID}
		}
	}
	for _, a := range g.Alerts {
		out = append(out, TimelineEntry{At: a.RaisedAt.UTC(), What: "alert:" + string(a.Type), Detail: string(a.Severity) + ": " + a.Message})
		if !a.ResolvedAt.IsZero() {
			out = append(out, TimelineEntry{At: a.ResolvedAt.UTC(), What: "resolved:" + string(a.Type), Detail: a.Resolution})
		}
	}
	slices.SortStableFunc(out, func(a, b TimelineEntry) int { return a.At.Compare(b.At) })
	return created, ended, out
}
