package lifecycle

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// The job registry is stored as small records, never as one growing document. Each event writes exactly one
// record, found by an identifier the event itself carries (JobRefOf), so ingest reads and writes one record
// whatever the number of jobs. The calls that stop a job or delete a model name neither the key nor the
// other identifiers: the records are joined when the sweep reads them all (JobsAt), which also makes the
// registry independent of the order events arrive in.
//
// Retention. JobsAt gives every record the time after which no rule can need it (Expires; stores turn it into
// a TTL and leave expired records out of every read). Bounds count from event times, never from when a sweep
// ran, so every store and every replay agrees; each bound includes LateJobEvents, so that a late or repeated
// event always finds its record still there:
//   - a job, for long-lived-secondary: a secondary is judged by jobs only while younger than SecondaryMaxAge
//     (older ones have the age alert already), and a job is a candidate only for secondaries created before
//     its end + JobLinkWindow, or, never seen to end, before its start + OpenJobHorizon. Kept until then +
//     SecondaryMaxAge + JobLinkWindow + JobGrace + LateJobEvents.
//   - a customization or copy job that made (or may have made) a custom model, for orphaned-primary: its primary
//     lives as long as the model, so the job is kept until the model's deletion is seen, and then for
//     DeletionRetention after it. Jobs on one key created within 2×JobLinkWindow of each other are kept as long
//     as the longest-kept of them: a primary between them matches both, and forgetting one would turn "two
//     jobs could have made it" (no verdict) into a verdict.
//   - a deletion: DeletionRetention, and at least as long as the jobs it names.
//   - a provisioned throughput: it never ends, so as an open job.
//   - a record no create call was seen for (a state change, a stop) can only complete a job whose create call
//     arrives late: kept for the job bound after its last event.

// LateJobEvents is how late an event may arrive: EventBridge retries an event for up to 24 hours.
const LateJobEvents = 24 * time.Hour

// DeletionRetention is how long a model deletion (and the job that made the model) is kept: CloudTrail's 90-day
// lookup window, so that a primary's CreateGrant backfilled from LookupEvents still meets the deletion.
const DeletionRetention = 90 * 24 * time.Hour

// JobRecordKind says what a record is about and which identifier finds it.
type JobRecordKind string

// The record kinds.
const (
	JobByARN           JobRecordKind = "job"         // a job, by its ARN
	JobByName          JobRecordKind = "job-name"    // a job named by an event without its ARN (a stop by name)
	ProvisionedByARN   JobRecordKind = "provisioned" // a CreateProvisionedModelThroughput, by the provisioned model's ARN
	ModelDeletionEvent JobRecordKind = "deletion"    // one DeleteCustomModel, by its event id
)

// JobRef finds one record.
type JobRef struct {
	Kind JobRecordKind
	ID   string
}

// JobRefOf returns the record ev is merged into: its job's ARN when the event names it, else the job's name; a
// provisioned throughput by its ARN; a deletion by its event id (several calls may delete models of one name).
// The zero JobRef when ev is not a job event or names nothing.
func JobRefOf(ev JobEvent) JobRef {
	switch ev.Name {
	case DeleteCustomModel:
		return JobRef{Kind: ModelDeletionEvent, ID: ev.ID}
	case CreateProvisionedModelThroughput:
		return JobRef{Kind: ProvisionedByARN, ID: cmp.Or(ev.JobARN, ev.JobName, ev.ID)}
	case CreateModelCustomizationJob, CreateModelCopyJob, JobStateChange, StopModelCustomizationJob:
	default:
		return JobRef{}
	}
	arn, name := ev.JobARN, ev.JobName
	if ev.Name == StopModelCustomizationJob {
		arn, name = splitJobID(ev.JobID)
	}
	switch {
	case arn != "":
		return JobRef{Kind: JobByARN, ID: arn}
	case name != "":
		return JobRef{Kind: JobByName, ID: name}
	}
	return JobRef{}
}

// splitJobID reads a jobIdentifier, which is a job ARN or a job name.
func splitJobID(id string) (arn, name string) {
	if strings.HasPrefix(id, "arn:") {
		return id, ""
	}
	return "", id
}

// JobRecord is one stored piece of the registry: what the events that name one job identifier, one provisioned
// throughput or one deletion said. Every field merges so that the result does not depend on arrival order:
// the earliest create call, the earliest final state change, the earliest stop and the earliest deletion win.
type JobRecord struct {
	Ref JobRef

	ARN  string
	Name string

	// From the earliest create call.
	Type          string // CustomizationJob, CopyJob, ProvisionedThroughput; "" until a create call is seen
	CreatedAt     time.Time
	CreateEventID string
	CreatedBy     string
	KeyARN        string
	ModelName     string // the custom model the job makes (customModelName, targetModelName)
	ModelID       string // the model a provisioned throughput serves, or the model a deletion names (ARN or name)

	// From state changes and stop calls.
	OutputModelARN  string
	OutputModelName string
	Status          string    // the earliest state change that is not final (InProgress, Stopping)
	StatusAt        time.Time // its time
	EndedAt         time.Time // the earliest final state change (Completed, Failed, Stopped)
	EndStatus       string
	StoppedAt       time.Time // the earliest StopModelCustomizationJob

	DeletedAt time.Time // a deletion's time

	Version int64     // of the stored record; 0 when none is stored
	Expires time.Time // when no rule can need the record any more (JobsAt decides); zero: not decided, or never
}

// Apply merges one event into the record, which must be the one JobRefOf(ev) names (an empty record takes that
// identity). It reports whether anything changed: a repeated event changes nothing.
func (r *JobRecord) Apply(ev JobEvent) bool {
	f := factsOf(ev)
	if r.Ref == (JobRef{}) {
		r.Ref = f.Ref
	}
	return r.Merge(f)
}

// factsOf is the record one event alone would make.
func factsOf(ev JobEvent) JobRecord {
	at := ev.Time.UTC()
	f := JobRecord{Ref: JobRefOf(ev)}
	switch ev.Name {
	case CreateModelCustomizationJob, CreateModelCopyJob:
		f.ARN, f.Name = ev.JobARN, ev.JobName
		f.Type = map[string]string{CreateModelCustomizationJob: CustomizationJob, CreateModelCopyJob: CopyJob}[ev.Name]
		f.CreatedAt, f.CreateEventID, f.CreatedBy, f.KeyARN, f.ModelName = at, ev.ID, ev.Caller.Name(), ev.KeyARN, ev.ModelName
	case CreateProvisionedModelThroughput:
		f.ARN, f.Name, f.Type = ev.JobARN, ev.JobName, ProvisionedThroughput
		f.CreatedAt, f.CreateEventID, f.CreatedBy, f.ModelID = at, ev.ID, ev.Caller.Name(), ev.ModelID
	case StopModelCustomizationJob:
		// The final Stopped state change may never be delivered (best effort): the stop call ends the job.
		f.ARN, f.Name = splitJobID(ev.JobID)
		f.StoppedAt = at
	case JobStateChange:
		f.ARN, f.Name = ev.JobARN, ev.JobName
		f.OutputModelARN, f.OutputModelName = ev.ModelARN, ev.ModelName
		if terminal(ev.Status) {
			f.EndedAt, f.EndStatus = cmp.Or(ev.EndedAt, ev.Time).UTC(), ev.Status
		} else {
			f.Status, f.StatusAt = ev.Status, at
		}
	case DeleteCustomModel:
		f.ModelID, f.DeletedAt = ev.ModelID, at
	}
	return f
}

// Merge adds the facts of o (another record of the same job, or the record of one event) to r and reports whether
// r changed. It is commutative, associative and idempotent; Ref, Version and Expires are r's own.
func (r *JobRecord) Merge(o JobRecord) bool {
	changed := false
	if !o.CreatedAt.IsZero() && (r.CreatedAt.IsZero() || earlier(o.CreatedAt, o.CreateEventID, r.CreatedAt, r.CreateEventID)) {
		r.Type, r.CreatedAt, r.CreateEventID, r.CreatedBy, r.KeyARN = o.Type, o.CreatedAt, o.CreateEventID, o.CreatedBy, o.KeyARN
		r.ModelName = o.ModelName
		if o.DeletedAt.IsZero() {
			r.ModelID = o.ModelID
		}
		changed = true
	}
	if !o.DeletedAt.IsZero() && (r.DeletedAt.IsZero() || o.DeletedAt.Before(r.DeletedAt) ||
		(o.DeletedAt.Equal(r.DeletedAt) && o.ModelID < r.ModelID)) {
		r.DeletedAt, r.ModelID = o.DeletedAt, o.ModelID
		changed = true
	}
	for _, f := range []struct {
		to   *string
		from string
	}{{&r.ARN, o.ARN}, {&r.Name, o.Name},
		{&r.OutputModelARN, o.OutputModelARN}, {&r.OutputModelName, o.OutputModelName}} {
		changed = keepLeast(f.to, f.from) || changed
	}
	if !o.StatusAt.IsZero() && (r.StatusAt.IsZero() || o.StatusAt.Before(r.StatusAt) ||
		(o.StatusAt.Equal(r.StatusAt) && o.Status < r.Status)) {
		r.Status, r.StatusAt = o.Status, o.StatusAt
		changed = true
	}
	if !o.EndedAt.IsZero() && (r.EndedAt.IsZero() || o.EndedAt.Before(r.EndedAt) ||
		(o.EndedAt.Equal(r.EndedAt) && o.EndStatus < r.EndStatus)) {
		r.EndedAt, r.EndStatus = o.EndedAt, o.EndStatus
		changed = true
	}
	if !o.StoppedAt.IsZero() && (r.StoppedAt.IsZero() || o.StoppedAt.Before(r.StoppedAt)) {
		r.StoppedAt = o.StoppedAt
		changed = true
	}
	return changed
}

// keepLeast sets *to to from when *to is empty or from sorts before it: both name the same thing, and taking
// the least keeps the merge independent of order if they ever differ.
func keepLeast(to *string, from string) bool {
	if from == "" || (*to != "" && *to <= from) {
		return false
	}
	*to = from
	return true
}

// job is the view of a merged job record.
func (r JobRecord) job() Job {
	o := Job{ARN: r.ARN, Name: r.Name, Type: r.Type, KeyARN: r.KeyARN, CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		ModelARN: r.OutputModelARN, ModelName: cmp.Or(r.ModelName, r.OutputModelName)}
	if o.Type == "" && (!r.StatusAt.IsZero() || !r.EndedAt.IsZero()) {
		o.Type = CustomizationJob // only customization jobs have state changes
	}
	switch {
	case !r.EndedAt.IsZero(): // the final state change says when the job really ended, even after a stop call
		o.EndedAt, o.Status = r.EndedAt, r.EndStatus
	case !r.StoppedAt.IsZero():
		o.EndedAt, o.Status = r.StoppedAt, "Stopping"
	default:
		o.Status = r.Status
	}
	if r.Type == ProvisionedThroughput {
		o.ModelARN, o.ModelName = r.ModelID, ""
	}
	return o
}

// mayHaveModel reports whether a customization or copy job made, or may yet make, a custom model: a copy always
// (Bedrock publishes no end for it), a customization unless it failed or was stopped.
func (r JobRecord) mayHaveModel() bool {
	switch r.Type {
	case CopyJob:
		return true
	case CustomizationJob:
		if !r.EndedAt.IsZero() {
			return r.EndStatus == "Completed"
		}
		return r.StoppedAt.IsZero()
	}
	return false
}

// last returns the time of the latest event that made the record.
func (r JobRecord) last() time.Time {
	return slices.MaxFunc([]time.Time{r.CreatedAt, r.StatusAt, r.EndedAt, r.StoppedAt, r.DeletedAt}, time.Time.Compare)
}

// expiry is when no rule can need a record any more; never is true while one may.
type expiry struct {
	at    time.Time
	never bool
}

func until(t time.Time) expiry { return expiry{at: t} }

func (e expiry) max(o expiry) expiry {
	if e.never || o.never {
		return expiry{never: true}
	}
	if o.at.After(e.at) {
		return o
	}
	return e
}

// stored is the Expires a record carries: whole seconds (a TTL's precision), zero for never.
func (e expiry) stored() time.Time {
	if e.never {
		return time.Time{}
	}
	t := e.at.Truncate(time.Second)
	if t.Before(e.at) {
		t = t.Add(time.Second)
	}
	return t
}

func (e expiry) after(at time.Time) bool { return e.never || e.stored().After(at) }

// jobGroup is one job: the records that name it by ARN or name, merged.
type jobGroup struct {
	records []int
	merged  JobRecord
	view    Job
	keep    expiry
}

// JobsAt joins stored records into the registry view at time at, leaving out what no rule can need any more,
// and returns the records whose Expires must change (with the new value set): stores keep them so that expired
// records leave every read and the table's TTL removes them. Records already expired at at are ignored.
func JobsAt(records []JobRecord, at time.Time, cfg Config) (Jobs, []JobRecord) {
	// Nothing below depends on the order of the records: stores may return them in any.
	recs := make([]JobRecord, 0, len(records))
	for _, r := range records {
		if r.Expires.IsZero() || r.Expires.After(at) {
			recs = append(recs, r)
		}
	}
	keep := make([]expiry, len(recs))
	window := cfg.SecondaryMaxAge + JobLinkWindow + cfg.JobGrace + LateJobEvents

	var jobIdx, ptIdx, delIdx []int
	for i, r := range recs {
		switch r.Ref.Kind {
		case ProvisionedByARN:
			ptIdx = append(ptIdx, i)
		case ModelDeletionEvent:
			delIdx = append(delIdx, i)
		default:
			jobIdx = append(jobIdx, i)
		}
	}
	groups := groupJobs(recs, jobIdx)

	// Deletions by the model id they name; the earliest counts, as in modelDeletedAt.
	deleted := map[string]time.Time{}
	for _, i := range delIdx {
		if d, ok := deleted[recs[i].ModelID]; !ok || recs[i].DeletedAt.Before(d) {
			deleted[recs[i].ModelID] = recs[i].DeletedAt
		}
	}
	for gi := range groups {
		g := &groups[gi]
		m := g.merged
		switch {
		case m.CreatedAt.IsZero(): // waits for a create call that may still arrive
			g.keep = until(m.last().Add(window))
		default:
			end := m.CreatedAt.Add(OpenJobHorizon)
			if g.view.Ended() {
				end = g.view.EndedAt
			}
			g.keep = until(later(end, m.last()).Add(window))
			if m.KeyARN != "" && m.mayHaveModel() {
				if d := earliestDeletion(deleted, g.view); d.IsZero() {
					g.keep = expiry{never: true}
				} else {
					g.keep = g.keep.max(until(d.Add(DeletionRetention)))
				}
			}
		}
	}
	clusterModelJobs(groups)

	// Jobs by the model ids they serve, for deletions and provisioned throughput.
	serving := map[string][]int{}
	for gi, g := range groups {
		for _, id := range []string{g.view.ModelARN, g.view.ModelName} {
			if id != "" && !slices.Contains(serving[id], gi) {
				serving[id] = append(serving[id], gi)
			}
		}
	}
	for _, g := range groups {
		for _, i := range g.records {
			keep[i] = g.keep
		}
	}
	// A deletion is kept as long as any job whose model it names.
	for _, i := range delIdx {
		keep[i] = until(recs[i].DeletedAt.Add(DeletionRetention))
		for _, gi := range serving[recs[i].ModelID] {
			keep[i] = keep[i].max(groups[gi].keep)
		}
	}

	var view Jobs
	for _, g := range groups {
		if g.keep.after(at) {
			view.Jobs = append(view.Jobs, g.view)
		}
	}
	for _, i := range ptIdx {
		pt := recs[i]
		keep[i] = until(later(pt.CreatedAt.Add(OpenJobHorizon), pt.last()).Add(window))
		if !keep[i].after(at) {
			continue
		}
		o := pt.job()
		// Its secondary is made from the model's primary, on the model's key: link it through the model's job,
		// the latest one created before the throughput.
		var by *Job
		for _, gi := range serving[pt.ModelID] {
			m := &groups[gi].view
			if groups[gi].keep.after(at) && m.KeyARN != "" && (m.Type == CustomizationJob || m.Type == CopyJob) &&
				!m.CreatedAt.After(pt.CreatedAt) && (by == nil || m.CreatedAt.After(by.CreatedAt)) {
				by = m
			}
		}
		if by != nil {
			o.KeyARN = cmp.Or(o.KeyARN, by.KeyARN)
		}
		view.Jobs = append(view.Jobs, o)
	}
	slices.SortStableFunc(view.Jobs, func(a, b Job) int {
		return cmp.Or(firstOf(a).Compare(firstOf(b)), strings.Compare(a.ARN, b.ARN), strings.Compare(a.Name, b.Name))
	})
	for _, i := range delIdx {
		if keep[i].after(at) {
			view.Deletions = append(view.Deletions, ModelDeletion{ModelID: recs[i].ModelID, At: recs[i].DeletedAt, EventID: recs[i].Ref.ID})
		}
	}
	slices.SortFunc(view.Deletions, func(a, b ModelDeletion) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.EventID, b.EventID)) })
	view = view.Indexed()

	var changed []JobRecord
	for i, r := range recs {
		if e := keep[i].stored(); !e.Equal(r.Expires) {
			r.Expires = e
			changed = append(changed, r)
		}
	}
	return view, changed
}

// earliestDeletion returns when o's model was first deleted, or zero.
func earliestDeletion(deleted map[string]time.Time, o Job) time.Time {
	var out time.Time
	for _, id := range []string{o.ModelARN, o.ModelName} {
		if d, ok := deleted[id]; ok && id != "" && (out.IsZero() || d.Before(out)) {
			out = d
		}
	}
	return out
}

// firstOf orders the view the way events first named its jobs.
func firstOf(o Job) time.Time {
	if !o.CreatedAt.IsZero() {
		return o.CreatedAt
	}
	return o.EndedAt
}

// groupJobs joins the job records that share an ARN or a name (a stop by name and the create call that named
// both, say) and merges each group.
func groupJobs(recs []JobRecord, idx []int) []jobGroup {
	parent := make([]int, len(recs))
	var find func(int) int
	find = func(i int) int {
		if p := parent[i]; p != i {
			parent[i] = find(p)
		}
		return parent[i]
	}
	byARN, byName := make(map[string]int, len(idx)), make(map[string]int, len(idx))
	for _, i := range idx {
		parent[i] = i
		for _, by := range []struct {
			m  map[string]int
			id string
		}{{byARN, recs[i].ARN}, {byName, recs[i].Name}} {
			if by.id == "" {
				continue
			}
			if j, ok := by.m[by.id]; ok {
				if a, b := find(i), find(j); a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else {
				by.m[by.id] = i
			}
		}
	}
	group := make([]int, len(recs)) // root -> 1 + its group's index in out
	out := make([]jobGroup, 0, len(idx))
	for _, i := range idx {
		root := find(i)
		if group[root] == 0 {
			out = append(out, jobGroup{})
			group[root] = len(out)
		}
		g := &out[group[root]-1]
		g.records = append(g.records, i)
		g.merged.Merge(recs[i])
	}
	for i := range out {
		out[i].view = out[i].merged.job()
	}
	return out
}

// clusterModelJobs keeps customization and copy jobs on one key that were created within 2×JobLinkWindow of each
// other as long as the longest-kept of them: primaryAfterModel links a primary only when exactly one job is
// within JobLinkWindow of it, and that count must not change because one of them was forgotten.
func clusterModelJobs(groups []jobGroup) {
	byKey := map[string][]int{}
	for i, g := range groups {
		if v := g.view; v.KeyARN != "" && !v.CreatedAt.IsZero() && (v.Type == CustomizationJob || v.Type == CopyJob) {
			byKey[v.KeyARN] = append(byKey[v.KeyARN], i)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		idx := byKey[key]
		slices.SortFunc(idx, func(a, b int) int { return groups[a].view.CreatedAt.Compare(groups[b].view.CreatedAt) })
		for start := 0; start < len(idx); {
			end := start + 1
			for end < len(idx) && groups[idx[end]].view.CreatedAt.Sub(groups[idx[end-1]].view.CreatedAt) <= 2*JobLinkWindow {
				end++
			}
			keep := groups[idx[start]].keep
			for _, i := range idx[start:end] {
				keep = keep.max(groups[i].keep)
			}
			for _, i := range idx[start:end] {
				groups[i].keep = keep
			}
			start = end
		}
	}
}
