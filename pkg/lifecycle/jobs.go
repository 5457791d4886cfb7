package lifecycle

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// Bedrock job awareness. Bedrock's control-plane calls and job state changes say when the work a grant
// was made for is over; the sweep then holds grants to that, not only to the fixed age cap. Correlation is
// tolerant: a grant is judged by a job only when every job that could explain it is known to have ended, and a
// primary only when exactly one job created it. Anything less falls back to the age cap, never to an alarm.

// Bedrock control-plane calls grantwatch consumes, as CloudTrail names them, and the native job event.
const (
	CreateModelCustomizationJob      = "CreateModelCustomizationJob"
	CreateModelCopyJob               = "CreateModelCopyJob"
	CreateProvisionedModelThroughput = "CreateProvisionedModelThroughput"
	StopModelCustomizationJob        = "StopModelCustomizationJob"
	DeleteCustomModel                = "DeleteCustomModel"
	JobStateChange                   = "Model Customization Job State Change" // EventBridge detail-type, source aws.bedrock
)

// IsJobEvent reports whether name is a Bedrock event grantwatch consumes.
func IsJobEvent(name string) bool {
	switch name {
	case CreateModelCustomizationJob, CreateModelCopyJob, CreateProvisionedModelThroughput, StopModelCustomizationJob,
		DeleteCustomModel, JobStateChange:
		return true
	}
	return false
}

// The job types.
const (
	CustomizationJob      = "model-customization"
	CopyJob               = "model-copy"
	ProvisionedThroughput = "provisioned-throughput"
)

// JobLinkWindow is how close in time a grant and a job must be to be linked: a primary's CreateGrant follows its
// job's create call within seconds; the window allows for clock skew and slow starts.
const JobLinkWindow = 10 * time.Minute

// OpenJobHorizon bounds how long a job whose end grantwatch never saw can explain a secondary grant: a copy job
// and a provisioned throughput have no end event at all, and a customization job's final state change is delivered
// best effort. A grant created more than this after such a job began is not held to it. Customization jobs take
// hours, copies and provisioned throughput minutes: a job open for a week has most likely ended unseen.
const OpenJobHorizon = 7 * 24 * time.Hour

// JobEvent is one Bedrock control-plane call or job state change, reduced to what links jobs and models to keys.
type JobEvent struct {
	ID        string
	Name      string // one of the constants above
	Time      time.Time
	Region    string
	Account   string
	Caller    Caller
	KeyARN    string // the key a create call names (customModelKmsKeyId, modelKmsKeyId); "" otherwise
	JobARN    string
	JobName   string
	JobID     string // StopModelCustomizationJob's jobIdentifier: an ARN or a name
	ModelARN  string // the custom model: output of a customization (state change), source of PT or copy
	ModelName string // the custom model's name (customModelName, targetModelName, outputModelName)
	ModelID   string // DeleteCustomModel's modelIdentifier, CreateProvisionedModelThroughput's modelId: ARN or name
	Status    string // state change: InProgress, Completed, Failed, Stopping, Stopped
	EndedAt   time.Time
}

// Job is what grantwatch knows about one Bedrock job or provisioned throughput: the registry's view of it, joined
// from its records (jobrecord.go).
type Job struct {
	ARN       string
	Name      string
	Type      string
	KeyARN    string
	CreatedAt time.Time
	CreatedBy string // caller ARN
	Status    string
	EndedAt   time.Time // when it completed, failed or stopped
	ModelARN  string
	ModelName string
}

// ModelDeletion is one DeleteCustomModel.
type ModelDeletion struct {
	ModelID string // as the call named it: ARN or name
	At      time.Time
	EventID string
}

// Jobs is the registry as the rules read it: the jobs and deletions that some rule can still need at one time.
// JobsAt builds it from the stored records.
type Jobs struct {
	Jobs      []Job
	Deletions []ModelDeletion

	byKey map[string]Jobs // ForKey's answers, when Indexed made them
}

// Ended reports whether the job is known to be over.
func (j Job) Ended() bool { return !j.EndedAt.IsZero() }

func terminal(status string) bool {
	return status == "Completed" || status == "Failed" || status == "Stopped"
}

// servesModel reports whether the job produced the model id (an ARN or a name).
func (o Job) servesModel(id string) bool {
	return id != "" && (id == o.ModelARN || id == o.ModelName)
}

// modelDeletedAt returns when the job's model was deleted, or zero.
func (j Jobs) modelDeletedAt(o Job) time.Time {
	for _, d := range j.Deletions {
		if o.servesModel(d.ModelID) {
			return d.At
		}
	}
	return time.Time{}
}

// ForKey returns the jobs on one key and the deletions of their models.
func (j Jobs) ForKey(arn string) Jobs {
	if j.byKey != nil {
		return j.byKey[arn]
	}
	var out Jobs
	models := map[string]bool{}
	for _, o := range j.Jobs {
		if o.KeyARN == arn {
			out.Jobs = append(out.Jobs, o)
			models[o.ModelARN], models[o.ModelName] = true, true
		}
	}
	// Only deletions of the key's models can match its jobs: the rules then look through those alone.
	for _, d := range j.Deletions {
		if d.ModelID != "" && models[d.ModelID] {
			out.Deletions = append(out.Deletions, d)
		}
	}
	return out
}

// Indexed returns j with ForKey's answer for every key computed at once, for a caller that asks per key (the
// sweep). j must not change afterwards.
func (j Jobs) Indexed() Jobs {
	idx := map[string]Jobs{}
	models := map[string][]string{} // model id -> keys of the jobs that serve it
	for _, o := range j.Jobs {
		v := idx[o.KeyARN]
		v.Jobs = append(v.Jobs, o)
		idx[o.KeyARN] = v
		for _, id := range []string{o.ModelARN, o.ModelName} {
			if id != "" && !slices.Contains(models[id], o.KeyARN) {
				models[id] = append(models[id], o.KeyARN)
			}
		}
	}
	for _, d := range j.Deletions {
		for _, key := range models[d.ModelID] {
			v := idx[key]
			v.Deletions = append(v.Deletions, d)
			idx[key] = v
		}
	}
	j.byKey = idx
	return j
}

// CheckJobs evaluates the job-aware rules for the key's grants at time at and records new alerts (one per type
// and grant, like every rule). jobs is the registry view at at (JobsAt); ForKey is applied here.
func (k *Key) CheckJobs(jobs Jobs, at time.Time, cfg Config) Result {
	r := Result{Outcome: Applied}
	jobs = jobs.ForKey(k.ARN)
	if len(jobs.Jobs) == 0 {
		return r
	}
	ids := slices.Sorted(maps.Keys(k.Grants))
	for _, id := range ids {
		g := k.Grants[id]
		if g.Pending || !g.ActiveAt(at) {
			continue
		}
		var a *Alert
		switch g.Kind {
		case Secondary:
			a = secondaryAfterJob(g, jobs, at, cfg)
		case Primary:
			a = primaryAfterModel(g, jobs, at, cfg)
		}
		if a == nil || g.hasAlert(a.Type) {
			continue
		}
		g.Alerts = append(g.Alerts, *a)
		k.Grants[id] = g
		r.Alerts = append(r.Alerts, *a)
		r.touch(id)
	}
	return r
}

// secondaryAfterJob raises long-lived-secondary when every job on the key that could have needed the secondary
// ended more than cfg.JobGrace before at. Candidates: jobs created before the secondary (within the link window)
// that had not ended before it was created, and, of the jobs never seen to end, those begun at most
// OpenJobHorizon before it. No candidate, or one still open, means no verdict.
func secondaryAfterJob(g Grant, jobs Jobs, at time.Time, cfg Config) *Alert {
	var cands []Job
	for _, o := range jobs.Jobs {
		if o.CreatedAt.IsZero() || o.CreatedAt.After(g.CreatedAt.Add(JobLinkWindow)) {
			continue // not created yet, or never seen created: cannot explain the grant
		}
		if o.Ended() && o.EndedAt.Before(g.CreatedAt.Add(-JobLinkWindow)) {
			continue // over before the grant existed
		}
		if !o.Ended() {
			if g.CreatedAt.After(o.CreatedAt.Add(OpenJobHorizon)) {
				continue // open too long to still be running: its end was lost, or it never has one
			}
			return nil // a job that could need it is still running, or its end was never seen
		}
		cands = append(cands, o)
	}
	if len(cands) == 0 {
		return nil
	}
	last := slices.MaxFunc(cands, func(a, b Job) int { return a.EndedAt.Compare(b.EndedAt) })
	if at.Sub(last.EndedAt) <= cfg.JobGrace {
		return nil
	}
	a := newAlert(LongLivedSecondary, g, at,
		"secondary grant %s is still active %s after %s job %s ended (%s at %s), beyond the %s grace: Bedrock retires a job's secondary grants when the job ends",
		g.ID, at.Sub(last.EndedAt), last.Type, jobLabel(last), endVerb(last.Status),
		last.EndedAt.UTC().Format(time.RFC3339), cfg.JobGrace)
	return &a
}

// primaryAfterModel raises orphaned-primary when the one job that created the primary made a custom model that
// was deleted more than cfg.ModelDeletedGrace before at. The job is linked by key, time (JobLinkWindow) and
// caller (the same role); several matches link none.
func primaryAfterModel(g Grant, jobs Jobs, at time.Time, cfg Config) *Alert {
	var match []Job
	for _, o := range jobs.Jobs {
		if o.Type != CustomizationJob && o.Type != CopyJob {
			continue
		}
		if d := g.CreatedAt.Sub(o.CreatedAt); d < -JobLinkWindow || d > JobLinkWindow {
			continue
		}
		if o.CreatedBy != "" && g.CreatedBy.ARN != "" && roleOf(o.CreatedBy) != roleOf(g.CreatedBy.ARN) {
			continue
		}
		match = append(match, o)
	}
	if len(match) != 1 {
		return nil
	}
	o := match[0]
	deleted := jobs.modelDeletedAt(o)
	if deleted.IsZero() || deleted.Before(g.CreatedAt) || at.Sub(deleted) <= cfg.ModelDeletedGrace {
		return nil
	}
	a := newAlert(OrphanedPrimary, g, at,
		"primary grant %s is still active %s after custom model %s (made by %s job %s) was deleted at %s: Bedrock retires a model's primary grant when the model is deleted",
		g.ID, at.Sub(deleted), cmp.Or(o.ModelName, o.ModelARN), o.Type, jobLabel(o), deleted.UTC().Format(time.RFC3339))
	return &a
}

// endVerb says how a job ended: a stop request (Stopping) counts as stopped.
func endVerb(status string) string {
	switch status {
	case "Completed", "Failed":
		return strings.ToLower(status)
	}
	return "stopped"
}

func jobLabel(o Job) string {
	switch {
	case o.Name != "" && o.ARN != "":
		return o.Name + " (" + o.ARN + ")"
	case o.Name != "":
		return o.Name
	}
	return o.ARN
}

// roleOf reduces an assumed-role session ARN to its role, so that two sessions of one role match.
func roleOf(arn string) string {
	if i := strings.Index(arn, ":assumed-role/"); i >= 0 {
		rest := arn[i+len(":assumed-role/"):]
		if role, _, ok := strings.Cut(rest, "/"); ok {
			return arn[:i] + ":assumed-role/" + role
		}
	}
	return arn
}
