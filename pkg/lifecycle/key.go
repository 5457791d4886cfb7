package lifecycle

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// RecentUseIDs is how many key-use event ids a key remembers to drop duplicates. Use calls are high volume, so the
// window is bounded: a duplicate that arrives after this many newer use calls is counted twice (usage only).
const RecentUseIDs = 16

// MaxUncheckedUses bounds the Bedrock service calls a key keeps for the next sweep. Calls within a minute of a kept
// one are not kept again (a minute is far below the 5-minute grace); when the list is full the latest call replaces
// the last one kept. The sweep runs every 15 minutes, so the bound is reached only with a sweep outage.
const MaxUncheckedUses = 32

// Usage is the key-level record of Bedrock-involved key use (Decrypt, GenerateDataKey*, DescribeKey) and of
// key-level alerts. Its size is bounded whatever the call volume.
type Usage struct {
	Calls             map[string]int64 `json:"calls,omitempty"` // by eventName
	LastUsedAt        time.Time        `json:"lastUsedAt,omitzero"`
	LastUsedBy        string           `json:"lastUsedBy,omitempty"`
	FirstServiceUseAt time.Time        `json:"firstServiceUseAt,omitzero"` // calls by the Bedrock service itself
	LastServiceUseAt  time.Time        `json:"lastServiceUseAt,omitzero"`
	RecentEventIDs    []string         `json:"recentEventIds,omitempty"`
	Alerts            []Alert          `json:"alerts,omitempty"`
	// UncheckedUses are Bedrock service calls (at most one per minute, at most MaxUncheckedUses) that the sweep has
	// not yet checked for use-after-retire; stores index keys that have some, so the sweep finds them even when no
	// grant on them is active.
	UncheckedUses []time.Time `json:"uncheckedUses,omitempty"`
	Version       int64       `json:"version"`
}

// Unchecked reports whether the usage holds Bedrock service calls the sweep has not checked yet.
func (u Usage) Unchecked() bool { return len(u.UncheckedUses) > 0 }

// Clone returns a deep copy.
func (u Usage) Clone() Usage {
	if u.Calls != nil {
		calls := make(map[string]int64, len(u.Calls))
		for k, v := range u.Calls {
			calls[k] = v
		}
		u.Calls = calls
	}
	u.RecentEventIDs = slices.Clone(u.RecentEventIDs)
	u.Alerts = slices.Clone(u.Alerts)
	u.UncheckedUses = slices.Clone(u.UncheckedUses)
	return u
}

// Key is the aggregate the rules work on: every grant grantwatch knows on one KMS key, and the key's usage.
type Key struct {
	ARN    string
	Grants map[string]Grant
	Usage  Usage
}

// NewKey returns an empty key.
func NewKey(arn string) Key { return Key{ARN: arn, Grants: map[string]Grant{}} }

// Clone returns a deep copy.
func (k Key) Clone() Key {
	c := Key{ARN: k.ARN, Grants: make(map[string]Grant, len(k.Grants)), Usage: k.Usage.Clone()}
	for id, g := range k.Grants {
		c.Grants[id] = g.Clone()
	}
	return c
}

// Reported returns the grants grantwatch shows (not pending ends), ordered by creation time then id.
func (k Key) Reported() []Grant {
	var out []Grant
	for _, g := range k.Grants {
		if g.Reported() {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b Grant) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Outcome says what an event did.
type Outcome string

// The outcomes; they feed the applied / duplicates / ignored counters.
const (
	Applied   Outcome = "applied"
	Duplicate Outcome = "duplicate"
	Ignored   Outcome = "ignored"
)

// Result is what Apply or Sweep changed. Stores write exactly the grants in Changed and, if UsageChanged, the usage.
type Result struct {
	Outcome      Outcome
	Reason       string   // why an event was ignored or a duplicate
	Changed      []string // ids of grants whose record changed
	UsageChanged bool
	Alerts       []Alert // alerts raised by this call, already recorded on their grant or on the usage
	Resolved     []Alert // alerts this call resolved because their grant ended (notify.go)
}

func (r *Result) touch(id string) {
	if !slices.Contains(r.Changed, id) {
		r.Changed = append(r.Changed, id)
	}
}

// Apply applies one event to the key. It is idempotent by event id and order-independent: the final state after a
// set of events is the same whatever order they arrive in, and an ended grant never becomes active again.
// ev.KeyARN must be k.ARN.
func (k *Key) Apply(ev Event, cfg Config) (Result, error) {
	if ev.KeyARN != k.ARN {
		return Result{}, fmt.Errorf("lifecycle: event %s is for key %s, not %s", ev.ID, ev.KeyARN, k.ARN)
	}
	if k.Grants == nil {
		k.Grants = map[string]Grant{}
	}
	var r Result
	switch {
	case ev.Name == CreateGrant:
		r = k.create(ev)
	case IsEnd(ev.Name):
		r = k.end(ev)
	case IsUse(ev.Name):
		r = k.use(ev)
	default:
		return Result{Outcome: Ignored, Reason: fmt.Sprintf("%s is not a call grantwatch tracks", ev.Name)}, nil
	}
	if len(r.Changed) > 0 && !IsUse(ev.Name) {
		k.relink(&r)
		k.evaluate(&r, r.Changed, ev.Time, cfg)
		k.resolve(&r, r.Changed) // issue 3: alerts of a grant that ended are resolved (notify.go)
	}
	return r, nil
}

// Sweep evaluates every rule for every grant at time at, and use-after-retire for the key's recorded Bedrock
// service use once it is older than cfg.UseSettle. It returns the alerts that are new.
func (k *Key) Sweep(at time.Time, cfg Config) Result {
	r := Result{Outcome: Applied}
	k.relink(&r)
	ids := slices.Sorted(maps.Keys(k.Grants))
	k.evaluate(&r, ids, at, cfg)
	k.resolve(&r, ids) // issue 3 (notify.go)
	k.checkServiceUse(&r, at, cfg)
	k.checkQuota(&r, at) // issue 3 (quota.go)
	return r
}

func (k *Key) create(ev Event) Result {
	g, exists := k.Grants[ev.GrantID]
	if !ev.InvolvesBedrock() {
		return Result{Outcome: Ignored, Reason: "CreateGrant does not involve Bedrock"}
	}
	if exists && g.hasEvent(ev.ID) {
		return Result{Outcome: Duplicate, Reason: "event " + ev.ID + " already applied"}
	}
	if !exists {
		g = Grant{ID: ev.GrantID, KeyARN: ev.KeyARN}
	}
	// The earliest CreateGrant defines the grant (a named CreateGrant may be repeated with the same grant id).
	if !g.Created() || earlier(ev.Time, ev.ID, g.CreatedAt, g.CreateEventID) {
		g.Kind, g.KindReason = Classify(ev)
		g.CreatedAt, g.CreateEventID, g.CreatedBy = ev.Time, ev.ID, ev.Caller
		g.Grantee, g.RetiringPrincipal = ev.Grantee, ev.RetiringPrincipal
		g.Operations, g.ConstraintKeys = slices.Clone(ev.Operations), slices.Clone(ev.ConstraintKeys)
		g.Name, g.ThroughBedrock = ev.GrantName, ev.ThroughBedrock()
	}
	g.Pending = false
	g.addHistory(ev)
	k.Grants[g.ID] = g
	r := Result{Outcome: Applied}
	r.touch(g.ID)
	return r
}

func (k *Key) end(ev Event) Result {
	g, exists := k.Grants[ev.GrantID]
	involves := ev.InvolvesBedrock()
	if exists && g.hasEvent(ev.ID) {
		if g.Pending {
			return Result{Outcome: Ignored, Reason: "end of a grant not known to involve Bedrock"}
		}
		return Result{Outcome: Duplicate, Reason: "event " + ev.ID + " already applied"}
	}
	if !exists {
		g = Grant{ID: ev.GrantID, KeyARN: ev.KeyARN, Pending: true}
	}
	if involves && g.Pending {
		// An end made by Bedrock is kept as an end-before-start record, reported as a Bedrock grant.
		g.Pending = false
		if !g.Created() {
			g.Kind, g.KindReason = OtherBedrock, "only its "+ev.Name+" (made through Bedrock) has been seen; the kind is set when its CreateGrant arrives"
		}
	}
	// The earliest end wins, so the order of a RetireGrant and a RevokeGrant does not matter.
	if !g.Ended() || earlier(ev.Time, ev.ID, g.EndedAt, g.EndEventID) {
		g.EndedAt, g.EndedBy, g.EndEventID, g.EndedByBedrock = ev.Time, ev.Name, ev.ID, involves
	}
	g.addHistory(ev)
	k.Grants[g.ID] = g
	r := Result{Outcome: Applied}
	if g.Pending {
		// Kept only as a tombstone, so a CreateGrant that arrives later cannot resurrect the grant.
		r = Result{Outcome: Ignored, Reason: "end of a grant not known to involve Bedrock (kept as a tombstone)"}
	}
	r.touch(g.ID)
	return r
}

func (k *Key) use(ev Event) Result {
	if !ev.ThroughBedrock() {
		return Result{Outcome: Ignored, Reason: ev.Name + " was not made by or through Bedrock"}
	}
	u := &k.Usage
	if slices.Contains(u.RecentEventIDs, ev.ID) {
		return Result{Outcome: Duplicate, Reason: "event " + ev.ID + " already applied"}
	}
	if u.Calls == nil {
		u.Calls = map[string]int64{}
	}
	u.Calls[ev.Name]++
	if !ev.Time.Before(u.LastUsedAt) {
		u.LastUsedAt, u.LastUsedBy = ev.Time, ev.Caller.Name()
	}
	if ev.Caller.IsBedrockService() {
		if u.FirstServiceUseAt.IsZero() || ev.Time.Before(u.FirstServiceUseAt) {
			u.FirstServiceUseAt = ev.Time
		}
		if ev.Time.After(u.LastServiceUseAt) {
			u.LastServiceUseAt = ev.Time
		}
	}
	u.RecentEventIDs = append(u.RecentEventIDs, ev.ID)
	if n := len(u.RecentEventIDs); n > RecentUseIDs {
		u.RecentEventIDs = slices.Clone(u.RecentEventIDs[n-RecentUseIDs:])
	}
	if ev.Caller.IsBedrockService() {
		u.keepUnchecked(ev.Time)
	}
	return Result{Outcome: Applied, UsageChanged: true}
}

// relink sets every secondary's parent: the most recently created primary on the key that was active when the
// secondary was created. It runs after every grant change, so a primary that arrives late still becomes the parent.
func (k *Key) relink(r *Result) {
	for id, g := range k.Grants {
		if g.Kind != Secondary || !g.Created() {
			continue
		}
		if p := k.parentFor(g); p != g.ParentID {
			g.ParentID = p
			k.Grants[id] = g
			r.touch(id)
		}
	}
}

func (k *Key) parentFor(s Grant) string {
	var best Grant
	for _, p := range k.Grants {
		if p.Kind != Primary || p.Pending || !p.ActiveAt(s.CreatedAt) {
			continue
		}
		if best.ID == "" || p.CreatedAt.After(best.CreatedAt) || (p.CreatedAt.Equal(best.CreatedAt) && p.ID > best.ID) {
			best = p
		}
	}
	return best.ID
}

// evaluate raises the per-grant rules for the grants in ids at time at, once per type and grant.
func (k *Key) evaluate(r *Result, ids []string, at time.Time, cfg Config) {
	for _, id := range ids {
		g := k.Grants[id]
		for _, a := range grantAlerts(g, k.Grants[g.ParentID], at, cfg) {
			if g.hasAlert(a.Type) {
				continue
			}
			g.Alerts = append(g.Alerts, a)
			k.Grants[id] = g
			r.Alerts = append(r.Alerts, a)
			r.touch(id)
		}
	}
}

// keepUnchecked remembers a Bedrock service call for the sweep's use-after-retire check.
func (u *Usage) keepUnchecked(t time.Time) {
	if slices.ContainsFunc(u.UncheckedUses, func(k time.Time) bool { d := t.Sub(k); return d > -time.Minute && d < time.Minute }) {
		return
	}
	if len(u.UncheckedUses) == MaxUncheckedUses {
		u.UncheckedUses = u.UncheckedUses[:MaxUncheckedUses-1]
	}
	u.UncheckedUses = append(u.UncheckedUses, t)
	slices.SortFunc(u.UncheckedUses, time.Time.Compare)
}

// checkServiceUse checks the remembered Bedrock service calls for use-after-retire once each is older than
// cfg.UseSettle at time at, and forgets the checked ones. Not on arrival: a Bedrock call and the CreateGrant that
// authorises it are minutes apart and EventBridge does not order them, so checking at once would raise a critical
// false alarm whenever the call arrives first. The settle window lets the grant events arrive.
func (k *Key) checkServiceUse(r *Result, at time.Time, cfg Config) {
	u := &k.Usage
	if !u.Unchecked() {
		return
	}
	var keep []time.Time
	for _, t := range u.UncheckedUses {
		if at.Sub(t) <= cfg.UseSettle {
			keep = append(keep, t)
			continue
		}
		k.raiseUseAfterRetire(r, t, cfg)
	}
	if len(keep) != len(u.UncheckedUses) {
		u.UncheckedUses = keep
		r.UsageChanged = true
	}
}

// raiseUseAfterRetire raises use-after-retire when, at the time t of a Bedrock service call, the key had recorded
// Bedrock grants and all of them had ended more than the grace period before the call.
func (k *Key) raiseUseAfterRetire(r *Result, t time.Time, cfg Config) {
	if slices.ContainsFunc(k.Usage.Alerts, func(a Alert) bool { return a.Type == UseAfterRetire }) {
		return
	}
	var latest time.Time
	known := false
	for _, g := range k.Grants {
		if g.Pending || (g.Created() && g.CreatedAt.After(t)) {
			continue // not a Bedrock grant, or it did not exist yet at the call
		}
		if !g.Ended() || g.EndedAt.After(t) {
			return // a grant could have authorised the call
		}
		known = true
		if g.EndedAt.After(latest) {
			latest = g.EndedAt
		}
	}
	if !known || t.Sub(latest) <= cfg.UseAfterRetireGrace {
		return
	}
	a := Alert{Type: UseAfterRetire, Severity: severities[UseAfterRetire], KeyARN: k.ARN, RaisedAt: t,
		Message: fmt.Sprintf("the Bedrock service used key %s more than %s after every recorded Bedrock grant on it had ended", k.ARN, cfg.UseAfterRetireGrace)}
	k.Usage.Alerts = append(k.Usage.Alerts, a)
	r.Alerts = append(r.Alerts, a)
	r.UsageChanged = true
}

// Classify returns the kind of the grant a Bedrock CreateGrant makes and why (§8 "Kinds", first rule that matches).
func Classify(ev Event) (Kind, string) {
	through := ev.ThroughBedrock()
	switch {
	case slices.Contains(ev.ConstraintKeys, DataAutomationKey):
		return DataAutomation, "its constraints name the encryption-context key " + DataAutomationKey
	case ev.Caller.Type == "AWSService":
		return Secondary, "created by the Bedrock service itself (userIdentity.type AWSService, invokedBy " + ev.Caller.InvokedBy + ")"
	case through && slices.Contains(ev.Operations, CreateGrant):
		return Primary, "created by customer principal " + ev.Caller.Name() + " through Bedrock, with CreateGrant among its operations"
	case through:
		return KnowledgeBase, "created by customer principal " + ev.Caller.Name() + " through Bedrock, without CreateGrant among its operations"
	}
	return OtherBedrock, "names Bedrock as grantee or retiring principal but was not created through Bedrock"
}

func (g *Grant) addHistory(ev Event) {
	g.History = append(g.History, HistoryEntry{EventID: ev.ID, Name: ev.Name, Time: ev.Time,
		Caller: ev.Caller.Name(), SourceIP: ev.SourceIP, RequestID: ev.RequestID})
	slices.SortStableFunc(g.History, func(a, b HistoryEntry) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.EventID, b.EventID))
	})
}

// earlier orders events by time, then by event id, so that ties resolve the same way in any arrival order.
func earlier(t time.Time, id string, than time.Time, thanID string) bool {
	return t.Before(than) || (t.Equal(than) && id < thanID)
}
