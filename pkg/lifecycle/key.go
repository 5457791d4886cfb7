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
	Calls             map[string]int64 // by eventName
	LastUsedAt        time.Time
	LastUsedBy        string
	FirstServiceUseAt time.Time // calls by the Bedrock service itself
	LastServiceUseAt  time.Time
	RecentEventIDs    []string
	Alerts            []Alert
	// UncheckedUses are Bedrock service calls (at most one per minute, at most MaxUncheckedUses) that the sweep has
	// not yet checked for use-after-retire; stores index keys that have some, so the sweep finds them even when no
	// grant on them is active.
	UncheckedUses []time.Time
	Version       int64
}

// Unchecked reports whether the usage holds Bedrock service calls the sweep has not checked yet.
func (u Usage) Unchecked() bool { return len(u.UncheckedUses) > 0 }

// Due reports whether the sweep must visit the key for its usage record: Bedrock service calls not yet checked, or a
// key-level notice claimed and not yet confirmed sent (notify.go). Stores index keys whose usage is due.
func (u Usage) Due() bool {
	return u.Unchecked() || slices.ContainsFunc(u.Alerts, func(a Alert) bool { return a.Unconfirmed != "" })
}

// Clone returns a deep copy.
func (u Usage) Clone() Usage {
	u.Calls = maps.Clone(u.Calls)
	u.RecentEventIDs = slices.Clone(u.RecentEventIDs)
	u.Alerts = slices.Clone(u.Alerts)
	u.UncheckedUses = slices.Clone(u.UncheckedUses)
	return u
}

// Key is the aggregate the rules work on: what a store loaded of one KMS key (Loaded says how much,
// workingset.go): its grants, its usage and its meta record.
type Key struct {
	ARN               string
	Grants            map[string]Grant
	Usage             Usage
	Meta              Meta
	ArchivedPrimaries ArchivedPrimaries // loaded with Load.Primaries (and ScopeAll)
	Loaded            Load
}

// NewKey returns an empty key that holds everything there is to know about it (ScopeAll): a key nothing is stored
// for, or one a caller builds in memory.
func NewKey(arn string) Key {
	return Key{ARN: arn, Grants: map[string]Grant{}, Loaded: Load{Scope: ScopeAll}}
}

// Clone returns a deep copy.
func (k Key) Clone() Key {
	c := Key{ARN: k.ARN, Grants: make(map[string]Grant, len(k.Grants)), Usage: k.Usage.Clone(), Meta: k.Meta.Clone(),
		ArchivedPrimaries: k.ArchivedPrimaries.Clone(),
		Loaded:            Load{Scope: k.Loaded.Scope, Grants: slices.Clone(k.Loaded.Grants), Primaries: k.Loaded.Primaries}}
	for id, g := range k.Grants {
		c.Grants[id] = g.Clone()
	}
	return c
}

// Reported returns the loaded grants grantwatch shows (not pending ends), ordered by creation time then id.
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

// Result is what Apply, Sweep and the other operations changed. Stores write exactly the grants in Changed (from
// where they were to where Archived says, for those in Moved), the usage if UsageChanged, the meta record if
// MetaChanged and the archived primaries' record if PrimariesChanged. A Result with Need set is incomplete and writes nothing: discard the key (it may be part-changed),
// load it again with Need and run the operation again.
type Result struct {
	Outcome          Outcome
	Reason           string   // why an event was ignored or a duplicate
	Changed          []string // ids of grants whose record changed
	Moved            []string // of those, the ids whose place (working set or archive) changed
	UsageChanged     bool
	MetaChanged      bool
	PrimariesChanged bool
	Alerts           []Alert // alerts raised by this call, already recorded on their grant or on the usage
	Resolved         []Alert // alerts this call resolved because their grant ended (notify.go)
	Need             Load    // what more the operation needs loaded; zero when it was enough
}

// Writes reports whether r has anything to store.
func (r Result) Writes() bool {
	return r.Need.Zero() && (len(r.Changed) > 0 || r.UsageChanged || r.MetaChanged)
}

func (r *Result) touch(id string) {
	if !slices.Contains(r.Changed, id) {
		r.Changed = append(r.Changed, id)
	}
}

// needs returns a Result asking for what k lacks of l, or false when k holds it.
func (k *Key) needs(l Load) (Result, bool) {
	if k.Loaded.Covers(l) {
		return Result{}, false
	}
	return Result{Need: k.Loaded.Union(l)}, true
}

// Apply applies one event to the key. It is idempotent by event id and order-independent: the final state after a
// set of events is the same whatever order they arrive in, and an ended grant never becomes active again.
// ev.KeyARN must be k.ARN. When k holds less than the event needs, Apply says so in Result.Need (see Result).
func (k *Key) Apply(ev Event, cfg Config) (Result, error) {
	if ev.KeyARN != k.ARN {
		return Result{}, fmt.Errorf("lifecycle: event %s is for key %s, not %s", ev.ID, ev.KeyARN, k.ARN)
	}
	if k.Grants == nil {
		k.Grants = map[string]Grant{}
	}
	if r, short := k.needs(LoadFor(ev)); short {
		return r, nil
	}
	switch {
	case ev.Name == CreateGrant:
		return k.create(ev, cfg), nil
	case IsEnd(ev.Name):
		return k.end(ev, cfg), nil
	case IsUse(ev.Name):
		return k.use(ev), nil
	}
	return Result{Outcome: Ignored, Reason: fmt.Sprintf("%s is not a call grantwatch tracks", ev.Name)}, nil
}

func (k *Key) create(ev Event, cfg Config) Result {
	old, exists := k.Grants[ev.GrantID]
	if !ev.InvolvesBedrock() {
		return Result{Outcome: Ignored, Reason: "CreateGrant does not involve Bedrock"}
	}
	if exists && old.hasEvent(ev.ID) {
		return Result{Outcome: Duplicate, Reason: "event " + ev.ID + " already applied"}
	}
	g := old.Clone()
	if !exists {
		g = Grant{ID: ev.GrantID, KeyARN: ev.KeyARN}
	}
	// The earliest CreateGrant defines the grant (a named CreateGrant may be repeated with the same grant id).
	if !g.Created() || earlier(ev.Time, ev.ID, g.CreatedAt, g.CreateEventID) {
		g.Kind, _ = Classify(ev)
		g.CreatedAt, g.CreateEventID, g.CreatedBy = ev.Time, ev.ID, ev.Caller
		g.Grantee, g.RetiringPrincipal = ev.Grantee, ev.RetiringPrincipal
		g.Operations, g.ConstraintKeys = slices.Clone(ev.Operations), slices.Clone(ev.ConstraintKeys)
		g.Name, g.ThroughBedrock = ev.GrantName, ev.ThroughBedrock()
	}
	g.Pending = false
	g.addHistory(ev)
	return k.change(old, g, Result{Outcome: Applied}, ev.Time, cfg)
}

func (k *Key) end(ev Event, cfg Config) Result {
	old, exists := k.Grants[ev.GrantID]
	involves := ev.InvolvesBedrock()
	if exists && old.hasEvent(ev.ID) {
		if old.Pending {
			return Result{Outcome: Ignored, Reason: "end of a grant not known to involve Bedrock"}
		}
		return Result{Outcome: Duplicate, Reason: "event " + ev.ID + " already applied"}
	}
	g := old.Clone()
	if !exists {
		g = Grant{ID: ev.GrantID, KeyARN: ev.KeyARN, Pending: true}
	}
	if involves && g.Pending {
		// An end made by Bedrock is kept as an end-before-start record, reported as a Bedrock grant.
		g.Pending = false
		if !g.Created() {
			g.Kind = OtherBedrock
		}
	}
	// The earliest end wins, so the order of a RetireGrant and a RevokeGrant does not matter.
	if !g.Ended() || earlier(ev.Time, ev.ID, g.EndedAt, g.EndEventID) {
		g.EndedAt, g.EndedBy, g.EndEventID, g.EndedByBedrock = ev.Time, ev.Name, ev.ID, involves
	}
	g.addHistory(ev)
	r := Result{Outcome: Applied}
	if g.Pending {
		// Kept only as a tombstone, so a CreateGrant that arrives later cannot resurrect the grant.
		r = Result{Outcome: Ignored, Reason: "end of a grant not known to involve Bedrock (kept as a tombstone)"}
	}
	return k.change(old, g, r, ev.Time, cfg)
}

// change records g (which was old) on the key and runs what follows from it: parent links, the rules at time at,
// resolutions and the meta record. It first checks that k holds every grant those can touch; if not, it returns the
// Need.
func (k *Key) change(old, g Grant, r Result, at time.Time, cfg Config) Result {
	relinkSelf := g.isSecondary() && (!old.isSecondary() || !old.CreatedAt.Equal(g.CreatedAt))
	from, relinkOthers := relinkFrom(old, g)
	var need Load
	if relinkSelf && g.CreatedAt.Before(k.Meta.Archive.PrimaryLatestEnd) {
		need = Load{Primaries: true} // an archived primary may have been active when g was created
	}
	if relinkOthers {
		need = need.Union(Load{Scope: ScopeWorking})
		if s := k.Meta.Archive.SecondaryLatestCreate; !s.IsZero() && !s.Before(from) {
			need = Load{Scope: ScopeAll} // archived secondaries may change parent
		}
	}
	if nr, short := k.needs(need); short {
		return nr
	}
	k.Grants[g.ID] = g
	r.touch(g.ID)
	if relinkSelf {
		k.link(&r, g.ID, k.refs())
	}
	if relinkOthers {
		refs := k.refs()
		for _, id := range slices.Sorted(maps.Keys(k.Grants)) {
			if s := k.Grants[id]; s.isSecondary() && !s.CreatedAt.Before(from) {
				k.link(&r, id, refs)
			}
		}
	}
	if nr, short := k.evaluate(&r, r.Changed, at, cfg); short {
		return nr
	}
	k.resolve(&r, r.Changed)
	k.syncMeta(&r, r.Changed)
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

// Sweep evaluates every rule for every grant of the working set at time at, and use-after-retire for the key's
// recorded Bedrock service use once it is older than cfg.UseSettle. It needs the whole working set; a service call
// older than the latest end in the archive needs the archive too. It returns the alerts that are new.
func (k *Key) Sweep(at time.Time, cfg Config) Result {
	need := Load{Scope: ScopeWorking}
	for _, t := range k.Usage.UncheckedUses {
		if at.Sub(t) > cfg.UseSettle && t.Before(k.Meta.Archive.LatestEnd) {
			need = Load{Scope: ScopeAll} // grants that were live at t may be archived
		}
	}
	if nr, short := k.needs(need); short {
		return nr
	}
	r := Result{Outcome: Applied}
	// Parent links are kept by the events; the sweep repairs a link two racing writers both missed (a primary and
	// its secondary stored at the same moment), wherever the working set decides it.
	refs := k.refs()
	whole := k.Loaded.Covers(Load{Primaries: true}) // every primary is known: any link can be judged
	for _, id := range slices.Sorted(maps.Keys(k.Grants)) {
		if s := k.Grants[id]; s.isSecondary() && (whole || !s.CreatedAt.Before(k.Meta.Archive.PrimaryLatestEnd)) {
			k.link(&r, id, refs)
		}
	}
	ids := slices.Sorted(maps.Keys(k.Grants))
	if nr, short := k.evaluate(&r, ids, at, cfg); short {
		return nr
	}
	k.resolve(&r, ids)
	k.checkServiceUse(&r, at, cfg)
	k.checkQuota(&r, at)
	k.syncMeta(&r, ids)
	return r
}

// link sets the parent of the secondary id: the most recently created primary on the key (of refs, k.refs()) that
// was active when the secondary was created.
func (k *Key) link(r *Result, id string, refs map[string]PrimaryRef) {
	s := k.Grants[id]
	if p := parentFor(s, refs); p != s.ParentID {
		s.ParentID = p
		k.Grants[id] = s
		r.touch(id)
	}
}

func parentFor(s Grant, refs map[string]PrimaryRef) string {
	var best PrimaryRef
	for _, p := range refs {
		if !p.ActiveAt(s.CreatedAt) {
			continue
		}
		if best.ID == "" || p.CreatedAt.After(best.CreatedAt) || (p.CreatedAt.Equal(best.CreatedAt) && p.ID > best.ID) {
			best = p
		}
	}
	return best.ID
}

// refs returns the primaries a parent link may choose from, by id: every primary grant loaded (archived ones
// included), the working set's from the meta record when the working set is not loaded, and the archive's from their
// record when it is loaded; a loaded grant's own record wins over the meta record's, which wins over the archive's.
func (k *Key) refs() map[string]PrimaryRef {
	out := map[string]PrimaryRef{}
	if k.Loaded.Primaries {
		for _, p := range k.ArchivedPrimaries.Refs {
			out[p.ID] = p
		}
	}
	if k.Loaded.Scope < ScopeWorking {
		for _, p := range k.Meta.Primaries {
			if g, loaded := k.Grants[p.ID]; !loaded || g.isPrimary() {
				out[p.ID] = p
			}
		}
	}
	for _, g := range k.Grants {
		if g.isPrimary() {
			out[g.ID] = refOf(g)
		}
	}
	return out
}

// evaluate raises the per-grant rules for the grants in ids at time at, once per type and grant. An active secondary
// whose parent k does not hold (archived and not loaded) is a Need: the orphan rule must see its parent.
func (k *Key) evaluate(r *Result, ids []string, at time.Time, cfg Config) (Result, bool) {
	refs := k.refs()
	var missing []string
	for _, id := range ids {
		g := k.Grants[id]
		if _, ok := refs[g.ParentID]; !ok && g.ParentID != "" && g.isSecondary() && g.ActiveAt(at) {
			missing = append(missing, g.ParentID)
		}
	}
	if len(missing) > 0 {
		if nr, short := k.needs(Load{Scope: k.Loaded.Scope, Grants: missing}); short {
			return nr, true
		}
	}
	for _, id := range ids {
		g := k.Grants[id]
		var parent *PrimaryRef
		if p, ok := refs[g.ParentID]; ok {
			parent = &p
		}
		for _, a := range grantAlerts(g, parent, at, cfg) {
			if g.hasAlert(a.Type) {
				continue
			}
			g.Alerts = append(g.Alerts, a)
			k.Grants[id] = g
			r.Alerts = append(r.Alerts, a)
			r.touch(id)
		}
	}
	return Result{}, false
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
// Bedrock grants and all of them had ended more than the grace period before the call. Archived grants all ended
// by t (Sweep loads the archive otherwise), so the archive summary stands for them.
func (k *Key) raiseUseAfterRetire(r *Result, t time.Time, cfg Config) {
	if slices.ContainsFunc(k.Usage.Alerts, func(a Alert) bool { return a.Type == UseAfterRetire }) {
		return
	}
	var latest time.Time
	known := false
	if k.Loaded.Scope != ScopeAll && k.Meta.Archive.Reported {
		known, latest = true, k.Meta.Archive.LatestEnd
	}
	for _, g := range k.Grants {
		if g.Pending || (g.Created() && g.CreatedAt.After(t)) {
			continue // not a Bedrock grant, or it did not exist yet at the call
		}
		if !g.Ended() || g.EndedAt.After(t) {
			return // a grant could have authorised the call
		}
		known = true
		latest = later(latest, g.EndedAt)
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
	return classify(ev.Caller, ev.ThroughBedrock(), ev.Operations, ev.ConstraintKeys)
}

func classify(c Caller, through bool, ops, constraintKeys []string) (Kind, string) {
	switch {
	case slices.Contains(constraintKeys, DataAutomationContextKey):
		return DataAutomation, dataAutomationReason(ops)
	case c.Type == "AWSService":
		return Secondary, "created by the Bedrock service itself (userIdentity.type AWSService, invokedBy " + c.InvokedBy + ")"
	case through && slices.Contains(ops, CreateGrant):
		return Primary, "created by customer principal " + c.Name() + " through Bedrock, with CreateGrant among its operations"
	case through:
		return KnowledgeBase, "created by customer principal " + c.Name() + " through Bedrock, without CreateGrant among its operations"
	}
	return OtherBedrock, "names Bedrock as grantee or retiring principal but was not created through Bedrock"
}

// dataAutomationReason says why a grant is a Data Automation grant, and which of BDA's two it is: the
// InvokeDataAutomationAsync grant, which BDA retires after 30 hours, or the library/project grant (BDA's "primary
// grant", with CreateGrant), which lives until its library is deleted and so is never alerted for its age.
func dataAutomationReason(ops []string) string {
	why := "its constraints name the encryption-context key " + DataAutomationContextKey
	if slices.Contains(ops, CreateGrant) {
		return why + "; with CreateGrant among its operations it is a library or project grant, which lives until " +
			"its library is deleted and is not alerted for age"
	}
	return why + "; without CreateGrant among its operations it is an InvokeDataAutomationAsync grant, which " +
		"Bedrock Data Automation retires after 30 hours"
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
