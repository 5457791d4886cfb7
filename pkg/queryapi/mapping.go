package queryapi

import (
	"slices"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Every response is built here, field by field, from the use cases' results. Slices and maps that the document
// declares as always present are never nil, so they print as [] and {}, not null. Times are UTC.

// NewGrantList returns a page of grants; next is the page token of the rest, or empty.
func NewGrantList(grants []lifecycle.Grant, next string) GrantList {
	return GrantList{Grants: summaries(grants), NextToken: next}
}

// NewGrantSummary returns the list view of g.
func NewGrantSummary(g lifecycle.Grant) GrantSummary {
	s := GrantSummary{GrantID: g.ID, KeyARN: g.KeyARN, Kind: string(g.Kind), State: string(g.State()), ParentGrantID: g.ParentID,
		CreatedBy: g.CreatedBy.Name(), EndedBy: g.EndedBy}
	if g.Created() {
		s.CreatedAt = g.CreatedAt.UTC()
	}
	if g.Ended() {
		s.EndedAt = g.EndedAt.UTC()
	}
	return s
}

func summaries(gs []lifecycle.Grant) []GrantSummary {
	out := make([]GrantSummary, 0, len(gs))
	for _, g := range gs {
		out = append(out, NewGrantSummary(g))
	}
	return out
}

// NewGrantHistory returns the history view of h.
func NewGrantHistory(h app.GrantHistory) GrantHistory {
	out := GrantHistory{Grant: newGrant(h.Grant), State: string(h.Grant.State()), Children: summaries(h.Children),
		Usage: newKeyUsage(h.Usage), Timeline: make([]TimelineEntry, 0, len(h.Timeline))}
	if c := h.Created; c != nil {
		out.Created = &Creation{At: c.At.UTC(), By: c.By, CallerType: c.CallerType, InvokedBy: c.InvokedBy, SourceIP: c.SourceIP, EventID: c.EventID}
	}
	if e := h.Ended; e != nil {
		out.Ended = &Ending{At: e.At.UTC(), How: e.How, By: e.By, SourceIP: e.SourceIP, ByBedrock: e.ByBedrock, EventID: e.EventID}
	}
	if h.Parent != nil {
		p := NewGrantSummary(*h.Parent)
		out.Parent = &p
	}
	for _, e := range h.Timeline {
		out.Timeline = append(out.Timeline, TimelineEntry{At: e.At.UTC(), What: e.What, By: e.By, SourceIP: e.SourceIP, Detail: e.Detail})
	}
	return out
}

func newKeyUsage(u lifecycle.Usage) KeyUsage {
	out := KeyUsage{Calls: map[string]int64{}, LastUsedAt: u.LastUsedAt.UTC(), LastUsedBy: u.LastUsedBy, Alerts: alerts(u.Alerts)}
	for name, n := range u.Calls {
		out.Calls[name] = n
	}
	if out.Alerts == nil {
		out.Alerts = []Alert{}
	}
	return out
}

func newGrant(g lifecycle.Grant) Grant {
	out := Grant{GrantID: g.ID, KeyARN: g.KeyARN, Kind: string(g.Kind), KindReason: g.KindReason(), CreatedAt: g.CreatedAt.UTC(),
		CreateEventID: g.CreateEventID, CreatedBy: Caller{Type: g.CreatedBy.Type, ARN: g.CreatedBy.ARN, AccountID: g.CreatedBy.AccountID,
			InvokedBy: g.CreatedBy.InvokedBy},
		Grantee: g.Grantee, RetiringPrincipal: g.RetiringPrincipal, Operations: slices.Clone(g.Operations),
		ConstraintKeys: slices.Clone(g.ConstraintKeys), Name: g.Name, ThroughBedrock: g.ThroughBedrock, ParentGrantID: g.ParentID,
		EndedAt: g.EndedAt.UTC(), EndedBy: g.EndedBy, EndEventID: g.EndEventID, EndedByBedrock: g.EndedByBedrock, Alerts: alerts(g.Alerts)}
	for _, e := range g.History {
		out.History = append(out.History, HistoryEntry{EventID: e.EventID, EventName: e.Name, EventTime: e.Time.UTC(), Caller: e.Caller,
			SourceIP: e.SourceIP, RequestID: e.RequestID})
	}
	return out
}

// alerts maps a domain alert list; nil stays nil (Grant.alerts is omitted when empty).
func alerts(as []lifecycle.Alert) []Alert {
	var out []Alert
	for _, a := range as {
		out = append(out, NewAlert(a))
	}
	return out
}

// NewAlert returns the wire view of a.
func NewAlert(a lifecycle.Alert) Alert {
	return Alert{Type: string(a.Type), Severity: string(a.Severity), GrantID: a.GrantID, KeyARN: a.KeyARN, Message: a.Message,
		RaisedAt: a.RaisedAt.UTC(), NotifiedAt: a.NotifiedAt.UTC(), RemindedAt: a.RemindedAt.UTC(), ResolvedAt: a.ResolvedAt.UTC(),
		Resolution: a.Resolution, ResolutionNotifiedAt: a.ResolutionNotifiedAt.UTC()}
}

// NewKeyList returns the keys inventory, naming accounts by names (id → name; nil names none).
func NewKeyList(keys []app.KeySummary, names map[string]string) KeyList {
	out := KeyList{Keys: make([]KeySummary, 0, len(keys)), Accounts: []AccountSummary{}}
	for _, a := range app.Accounts(keys) {
		out.Accounts = append(out.Accounts, AccountSummary{Account: a.Account, Name: names[a.Account], Regions: slices.Clone(a.Regions),
			Keys: a.Keys, Active: a.Active, Total: a.Total})
	}
	for _, k := range keys {
		ks := KeySummary{KeyARN: k.KeyARN, Account: k.Account, Region: k.Region, Grants: map[string]map[string]int{}, Active: k.Active,
			Total: k.Total, QuotaShare: k.QuotaShare}
		for kind, byState := range k.Grants {
			m := map[string]int{}
			for st, n := range byState {
				m[string(st)] = n
			}
			ks.Grants[string(kind)] = m
		}
		if k.OldestActiveSecondary != nil {
			s := NewGrantSummary(*k.OldestActiveSecondary)
			ks.OldestActiveSecondary = &s
		}
		out.Keys = append(out.Keys, ks)
	}
	return out
}
