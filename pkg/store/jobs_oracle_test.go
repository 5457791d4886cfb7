package store_test

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// oracleJobs is the job registry as grantwatch kept it before it became records: one document holding every job
// and every deletion ever seen, merged by the algorithm of that time (lifecycle.Jobs.Apply), without its cap of 500
// jobs. It is the reference the bounded registry must agree with, and, marshalled with its json names, exactly the
// format-1 item MigrateJobs reads. Maps index the linear searches of the original (same results, first match
// wins) so that it can hold a hundred thousand events.
type oracleJobs struct {
	Jobs      []oracleJob      `json:"jobs,omitempty"`
	Deletions []oracleDeletion `json:"deletions,omitempty"`
	Version   int64            `json:"version"`

	byARN, byName, byModel map[string][]int // job indexes, in order
	deleted                map[string]bool  // deletion event ids
}

type oracleJob struct {
	ARN       string    `json:"arn,omitempty"`
	Name      string    `json:"name,omitempty"`
	Type      string    `json:"type,omitempty"`
	KeyARN    string    `json:"keyArn,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	CreatedBy string    `json:"createdBy,omitempty"`
	Status    string    `json:"status,omitempty"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	ModelARN  string    `json:"modelArn,omitempty"`
	ModelName string    `json:"modelName,omitempty"`
}

type oracleDeletion struct {
	ModelID string    `json:"modelId"`
	At      time.Time `json:"at"`
	EventID string    `json:"eventId"`
}

func (o oracleJob) servesModel(id string) bool {
	return id != "" && (id == o.ModelARN || id == o.ModelName)
}

func oracleTerminal(status string) bool {
	return status == "Completed" || status == "Failed" || status == "Stopped"
}

// Apply is the former lifecycle.Jobs.Apply, event for event.
func (j *oracleJobs) Apply(ev lifecycle.JobEvent) {
	switch ev.Name {
	case lifecycle.CreateModelCustomizationJob, lifecycle.CreateModelCopyJob:
		typ := map[string]string{lifecycle.CreateModelCustomizationJob: lifecycle.CustomizationJob,
			lifecycle.CreateModelCopyJob: lifecycle.CopyJob}[ev.Name]
		_, job := j.find(ev.JobARN, ev.JobName)
		if job.Type == "" {
			job.Type = typ
		}
		job.ARN, job.Name = cmp.Or(job.ARN, ev.JobARN), cmp.Or(job.Name, ev.JobName)
		if job.CreatedAt.IsZero() || ev.Time.Before(job.CreatedAt) {
			job.CreatedAt, job.CreatedBy, job.KeyARN = ev.Time, ev.Caller.Name(), ev.KeyARN
		}
		job.ModelName = cmp.Or(job.ModelName, ev.ModelName)
		j.put(job)
	case lifecycle.CreateProvisionedModelThroughput:
		key := ""
		for _, k := range j.byModel[ev.ModelID] { // in list order: the last match wins
			if o := j.Jobs[k]; o.KeyARN != "" && o.servesModel(ev.ModelID) {
				key = o.KeyARN
			}
		}
		_, job := j.find(ev.JobARN, "")
		job.Type, job.ARN, job.Name = lifecycle.ProvisionedThroughput, ev.JobARN, cmp.Or(job.Name, ev.JobName)
		if job.CreatedAt.IsZero() || ev.Time.Before(job.CreatedAt) {
			job.CreatedAt, job.CreatedBy = ev.Time, ev.Caller.Name()
		}
		job.KeyARN, job.ModelARN = cmp.Or(job.KeyARN, key), cmp.Or(job.ModelARN, ev.ModelID)
		j.put(job)
	case lifecycle.StopModelCustomizationJob:
		_, job := j.find(ev.JobID, ev.JobID)
		if job.ARN == "" && job.Name == "" {
			if strings.HasPrefix(ev.JobID, "arn:") {
				job.ARN = ev.JobID
			} else {
				job.Name = ev.JobID
			}
		}
		if job.EndedAt.IsZero() || ev.Time.Before(job.EndedAt) {
			job.EndedAt = ev.Time
			if job.Status == "" || job.Status == "InProgress" {
				job.Status = "Stopping"
			}
		}
		j.put(job)
	case lifecycle.JobStateChange:
		_, job := j.find(ev.JobARN, ev.JobName)
		job.ARN, job.Name = cmp.Or(job.ARN, ev.JobARN), cmp.Or(job.Name, ev.JobName)
		if job.Type == "" {
			job.Type = lifecycle.CustomizationJob
		}
		job.ModelARN, job.ModelName = cmp.Or(job.ModelARN, ev.ModelARN), cmp.Or(job.ModelName, ev.ModelName)
		if oracleTerminal(ev.Status) {
			end := cmp.Or(ev.EndedAt, ev.Time)
			if job.EndedAt.IsZero() || end.Before(job.EndedAt) || job.Status == "Stopping" {
				job.EndedAt = end
			}
			job.Status = ev.Status
		} else if job.Status == "" {
			job.Status = ev.Status
		}
		j.put(job)
	case lifecycle.DeleteCustomModel:
		if j.deleted == nil {
			j.deleted = map[string]bool{}
		}
		if !j.deleted[ev.ID] {
			j.deleted[ev.ID] = true
			j.Deletions = append(j.Deletions, oracleDeletion{ModelID: ev.ModelID, At: ev.Time, EventID: ev.ID})
		}
	}
}

// find returns the index and a copy of the first job with the ARN or the name; -1 and a new job when none has.
func (j *oracleJobs) find(arn, name string) (int, oracleJob) {
	i := -1
	for _, ix := range [][]int{j.byARN[arn], j.byName[name]} {
		if len(ix) > 0 && (i < 0 || ix[0] < i) {
			i = ix[0]
		}
	}
	if arn == "" && name == "" || i < 0 {
		return -1, oracleJob{}
	}
	return i, j.Jobs[i]
}

// put replaces the first job with the job's ARN or name, or appends it, keeping the indexes.
func (j *oracleJobs) put(job oracleJob) {
	i, _ := j.find(job.ARN, job.Name)
	if i < 0 {
		i = len(j.Jobs)
		j.Jobs = append(j.Jobs, oracleJob{})
	}
	j.Jobs[i] = job
	if j.byARN == nil {
		j.byARN, j.byName, j.byModel = map[string][]int{}, map[string][]int{}, map[string][]int{}
	}
	for _, ix := range []struct {
		m  map[string][]int
		id string
	}{{j.byARN, job.ARN}, {j.byName, job.Name}, {j.byModel, job.ModelARN}, {j.byModel, job.ModelName}} {
		if ix.id != "" && !slices.Contains(ix.m[ix.id], i) {
			ix.m[ix.id] = append(ix.m[ix.id], i)
			slices.Sort(ix.m[ix.id])
		}
	}
}

// view is the registry as lifecycle.Key.CheckJobs reads it, everything included.
func (j *oracleJobs) view() lifecycle.Jobs {
	var v lifecycle.Jobs
	for _, o := range j.Jobs {
		v.Jobs = append(v.Jobs, lifecycle.Job{ARN: o.ARN, Name: o.Name, Type: o.Type, KeyARN: o.KeyARN, CreatedAt: o.CreatedAt,
			CreatedBy: o.CreatedBy, Status: o.Status, EndedAt: o.EndedAt, ModelARN: o.ModelARN, ModelName: o.ModelName})
	}
	for _, d := range j.Deletions {
		v.Deletions = append(v.Deletions, lifecycle.ModelDeletion{ModelID: d.ModelID, At: d.At, EventID: d.EventID})
	}
	slices.SortFunc(v.Deletions, func(a, b lifecycle.ModelDeletion) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.EventID, b.EventID))
	})
	return v
}

// clone returns a copy that applies events without changing j.
func (j *oracleJobs) clone() *oracleJobs {
	c := *j
	c.Jobs, c.Deletions = slices.Clone(j.Jobs), slices.Clone(j.Deletions)
	for _, m := range []*map[string][]int{&c.byARN, &c.byName, &c.byModel} {
		*m = maps.Clone(*m)
		for id, ix := range *m {
			(*m)[id] = slices.Clip(ix) // an append must not write into j's index
		}
	}
	c.deleted = maps.Clone(j.deleted)
	return &c
}

// inOrder sorts events the way they happened.
func inOrder(evs []lifecycle.JobEvent) {
	slices.SortStableFunc(evs, func(a, b lifecycle.JobEvent) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
	})
}

// oracleOf applies events in the order they happened: the order the former registry was written for.
func oracleOf(evs []lifecycle.JobEvent) *oracleJobs {
	sorted := slices.Clone(evs)
	inOrder(sorted)
	j := &oracleJobs{}
	for _, ev := range sorted {
		j.Apply(ev)
	}
	return j
}
