package lifecycle_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

const jobKey = "arn:aws:kms:us-east-1:111122223333:key/jobs"

var (
	j0   = time.Date(2024, 5, 31, 10, 0, 0, 0, time.UTC)
	role = lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/Customizer/alice", InvokedBy: "bedrock.amazonaws.com"}
	svc  = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
)

func grantEvent(id string, at time.Time, c lifecycle.Caller, ops ...string) lifecycle.Event {
	return lifecycle.Event{ID: "c-" + id, Name: lifecycle.CreateGrant, Time: at, KeyARN: jobKey, GrantID: id, Caller: c,
		SourceIP: "bedrock.amazonaws.com", Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: ops}
}

// records applies events to the records they name, as a store would.
func records(evs ...lifecycle.JobEvent) []lifecycle.JobRecord {
	byRef := map[lifecycle.JobRef]int{}
	var out []lifecycle.JobRecord
	for _, ev := range evs {
		ref := lifecycle.JobRefOf(ev)
		i, ok := byRef[ref]
		if !ok {
			i = len(out)
			byRef[ref] = i
			out = append(out, lifecycle.JobRecord{})
		}
		out[i].Apply(ev)
	}
	return out
}

func createJob(id string, at time.Time) lifecycle.JobEvent {
	return lifecycle.JobEvent{ID: id, Name: lifecycle.CreateModelCustomizationJob, Time: at, KeyARN: jobKey, JobARN: "arn:job/" + id,
		JobName: id, ModelName: "model-" + id, Caller: role}
}

func jobDone(id string, at time.Time, status string) lifecycle.JobEvent {
	return lifecycle.JobEvent{ID: "s-" + id, Name: lifecycle.JobStateChange, Time: at, JobARN: "arn:job/" + id, Status: status, EndedAt: at,
		ModelARN: "arn:model/" + id, ModelName: "model-" + id}
}

// TestJobAwareRules: one row per verdict; "tolerant" rows must raise nothing.
func TestJobAwareRules(t *testing.T) {
	tests := []struct {
		name   string
		jobs   []lifecycle.JobEvent
		at     time.Time
		want   lifecycle.AlertType // "" = no alert
		grants string              // which grant: "secondary" or "primary"
	}{
		{name: "job completed 2h ago", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed")},
			at: j0.Add(6 * time.Hour), want: lifecycle.LongLivedSecondary, grants: "secondary"},
		{name: "within the grace", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed")},
			at: j0.Add(4*time.Hour + 30*time.Minute), grants: "secondary"},
		{name: "tolerant: no job information", at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "tolerant: job still running", jobs: []lifecycle.JobEvent{createJob("a", j0)}, at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "tolerant: a second job on the key still running", jobs: []lifecycle.JobEvent{createJob("a", j0), createJob("b", j0.Add(-time.Hour)),
			jobDone("a", j0.Add(time.Hour), "Completed")}, at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "tolerant: state change without create", jobs: []lifecycle.JobEvent{jobDone("a", j0.Add(time.Hour), "Completed")},
			at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "stop call ends the job", jobs: []lifecycle.JobEvent{createJob("a", j0),
			{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "arn:job/a"}},
			at: j0.Add(3 * time.Hour), want: lifecycle.LongLivedSecondary, grants: "secondary"},
		{name: "model deleted 2h ago, delete seen first", jobs: []lifecycle.JobEvent{
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(10 * time.Hour), ModelID: "arn:model/a"},
			createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed")},
			at: j0.Add(12 * time.Hour), want: lifecycle.OrphanedPrimary, grants: "primary"},
		{name: "model deleted 30m ago", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed"),
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(10 * time.Hour), ModelID: "model-a"}},
			at: j0.Add(10*time.Hour + 30*time.Minute), grants: "primary"},
		{name: "stop call by name ends the job", jobs: []lifecycle.JobEvent{createJob("a", j0),
			{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "a"}},
			at: j0.Add(3 * time.Hour), want: lifecycle.LongLivedSecondary, grants: "secondary"},
		{name: "stop call before the create call", jobs: []lifecycle.JobEvent{
			{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "a"}, createJob("a", j0)},
			at: j0.Add(3 * time.Hour), want: lifecycle.LongLivedSecondary, grants: "secondary"},
		{name: "state change before the create call", jobs: []lifecycle.JobEvent{jobDone("a", j0.Add(4*time.Hour), "Completed"), createJob("a", j0)},
			at: j0.Add(6 * time.Hour), want: lifecycle.LongLivedSecondary, grants: "secondary"},
		{name: "tolerant: the stopped job's final state change is within the grace", jobs: []lifecycle.JobEvent{createJob("a", j0),
			{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "arn:job/a"},
			jobDone("a", j0.Add(2*time.Hour+30*time.Minute), "Stopped")},
			at: j0.Add(3 * time.Hour), grants: "secondary"},
		{name: "tolerant: a copy job on the key never ends", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(time.Hour), "Completed"),
			{ID: "copy", Name: lifecycle.CreateModelCopyJob, Time: j0.Add(-time.Hour), KeyARN: jobKey, JobARN: "arn:copy/c", ModelName: "copy-c", Caller: role}},
			at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "a copy job begun beyond the open-job horizon explains nothing", jobs: []lifecycle.JobEvent{createJob("a", j0),
			jobDone("a", j0.Add(time.Hour), "Completed"),
			{ID: "copy", Name: lifecycle.CreateModelCopyJob, Time: j0.Add(-lifecycle.OpenJobHorizon - time.Hour), KeyARN: jobKey,
				JobARN: "arn:copy/c", ModelName: "copy-c", Caller: role}},
			at: j0.Add(20 * time.Hour), want: lifecycle.LongLivedSecondary, grants: "secondary"},
		{name: "tolerant: a provisioned throughput on the model's key never ends", jobs: []lifecycle.JobEvent{
			createJob("a", j0.Add(-2*time.Hour)), jobDone("a", j0.Add(-time.Hour), "Completed"),
			{ID: "pt", Name: lifecycle.CreateProvisionedModelThroughput, Time: j0, JobARN: "arn:pt/p", JobName: "pt", ModelID: "arn:model/a", Caller: role}},
			at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "provisioned throughput before the state change that names its model", jobs: []lifecycle.JobEvent{
			{ID: "pt", Name: lifecycle.CreateProvisionedModelThroughput, Time: j0, JobARN: "arn:pt/p", JobName: "pt", ModelID: "arn:model/a", Caller: role},
			createJob("a", j0.Add(-2*time.Hour)), jobDone("a", j0.Add(-time.Hour), "Completed")},
			at: j0.Add(20 * time.Hour), grants: "secondary"},
		{name: "tolerant: two jobs could have made the primary", jobs: []lifecycle.JobEvent{createJob("a", j0), createJob("b", j0.Add(time.Minute)),
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(10 * time.Hour), ModelID: "model-a"}},
			at: j0.Add(12 * time.Hour), grants: "primary"},
		{name: "tolerant: a failed job could have made the primary too", jobs: []lifecycle.JobEvent{createJob("a", j0), createJob("b", j0.Add(time.Minute)),
			jobDone("a", j0.Add(4*time.Hour), "Completed"), jobDone("b", j0.Add(2*time.Minute), "Failed"),
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(100 * 24 * time.Hour), ModelID: "model-a"}},
			at: j0.Add(101 * 24 * time.Hour), grants: "primary"},
		{name: "model deleted 89 days ago", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed"),
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(10 * time.Hour), ModelID: "arn:model/a"}},
			at: j0.Add(10*time.Hour + 89*24*time.Hour), want: lifecycle.OrphanedPrimary, grants: "primary"},
		{name: "a model deleted beyond the retention is forgotten", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed"),
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(10 * time.Hour), ModelID: "arn:model/a"}},
			at: j0.Add(10*time.Hour + lifecycle.DeletionRetention + time.Second), grants: "primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := lifecycle.NewKey(jobKey)
			for _, ev := range []lifecycle.Event{grantEvent("p", j0.Add(30*time.Second), role, "Decrypt", "CreateGrant"),
				grantEvent("s", j0.Add(time.Minute), svc, "Decrypt")} {
				if _, err := k.Apply(ev, lifecycle.DefaultConfig()); err != nil {
					t.Fatal(err)
				}
			}
			jobs, _ := lifecycle.JobsAt(records(tt.jobs...), tt.at, lifecycle.DefaultConfig())
			r := k.CheckJobs(jobs, tt.at, lifecycle.DefaultConfig())
			var got lifecycle.AlertType
			for _, a := range r.Alerts {
				if a.GrantID == map[string]string{"secondary": "s", "primary": "p"}[tt.grants] {
					got = a.Type
				}
			}
			if got != tt.want {
				t.Errorf("CheckJobs() alerts = %+v; want %q on the %s", r.Alerts, tt.want, tt.grants)
			}
		})
	}
}

// TestJobsAtRetention: one row per retention rule (jobrecord.go), with the defaults: a job window is
// SecondaryMaxAge + JobLinkWindow + JobGrace + LateJobEvents = 49h10m. Zero means kept until a deletion is seen.
func TestJobsAtRetention(t *testing.T) {
	window := 49*time.Hour + 10*time.Minute
	del := func(id string, at time.Time, model string) lifecycle.JobEvent {
		return lifecycle.JobEvent{ID: id, Name: lifecycle.DeleteCustomModel, Time: at, ModelID: model}
	}
	keyless := createJob("k", j0)
	keyless.KeyARN = ""
	tests := []struct {
		name string
		jobs []lifecycle.JobEvent
		ref  lifecycle.JobRef
		want time.Time
	}{
		{name: "failed job: its window after the end", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Failed")},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/a"}, want: j0.Add(4*time.Hour + window)},
		{name: "stopped job: its window after the stop", jobs: []lifecycle.JobEvent{createJob("a", j0),
			{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "arn:job/a"}},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/a"}, want: j0.Add(time.Hour + window)},
		{name: "stop by name: kept with the job it names", jobs: []lifecycle.JobEvent{createJob("a", j0),
			{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "a"}},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByName, ID: "a"}, want: j0.Add(time.Hour + window)},
		{name: "stop by name without a create call: waits its window for one",
			jobs: []lifecycle.JobEvent{{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "a"}},
			ref:  lifecycle.JobRef{Kind: lifecycle.JobByName, ID: "a"}, want: j0.Add(time.Hour + window)},
		{name: "running customization job: its model may come", jobs: []lifecycle.JobEvent{createJob("a", j0)},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/a"}},
		{name: "completed job: kept while its model exists", jobs: []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(4*time.Hour), "Completed")},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/a"}},
		{name: "copy job: kept while its model exists", jobs: []lifecycle.JobEvent{
			{ID: "copy", Name: lifecycle.CreateModelCopyJob, Time: j0, KeyARN: jobKey, JobARN: "arn:copy/c", ModelName: "copy-c", Caller: role}},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:copy/c"}},
		{name: "job on a key given as an alias: an open job's window", jobs: []lifecycle.JobEvent{keyless},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/k"}, want: j0.Add(lifecycle.OpenJobHorizon + window)},
		{name: "completed job whose model was deleted: the deletion's retention", jobs: []lifecycle.JobEvent{createJob("a", j0),
			jobDone("a", j0.Add(4*time.Hour), "Completed"), del("del", j0.Add(10*time.Hour), "model-a")},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/a"}, want: j0.Add(10*time.Hour + lifecycle.DeletionRetention)},
		{name: "deletion of a model no job is known for", jobs: []lifecycle.JobEvent{del("del", j0, "arn:model/x")},
			ref: lifecycle.JobRef{Kind: lifecycle.ModelDeletionEvent, ID: "del"}, want: j0.Add(lifecycle.DeletionRetention)},
		{name: "deletion: as long as the job it names", jobs: []lifecycle.JobEvent{createJob("a", j0), createJob("b", j0.Add(5*time.Minute)),
			jobDone("a", j0.Add(4*time.Hour), "Completed"), del("del", j0.Add(10*time.Hour), "arn:model/a")},
			ref: lifecycle.JobRef{Kind: lifecycle.ModelDeletionEvent, ID: "del"}},
		{name: "failed job near a job whose model exists: kept as long", jobs: []lifecycle.JobEvent{createJob("a", j0),
			createJob("b", j0.Add(15*time.Minute)), jobDone("b", j0.Add(20*time.Minute), "Failed")},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/b"}},
		{name: "failed job far from the next: its own window", jobs: []lifecycle.JobEvent{createJob("a", j0),
			createJob("b", j0.Add(25*time.Minute)), jobDone("b", j0.Add(30*time.Minute), "Failed")},
			ref: lifecycle.JobRef{Kind: lifecycle.JobByARN, ID: "arn:job/b"}, want: j0.Add(30*time.Minute + window)},
		{name: "provisioned throughput: an open job's window", jobs: []lifecycle.JobEvent{
			{ID: "pt", Name: lifecycle.CreateProvisionedModelThroughput, Time: j0, JobARN: "arn:pt/p", ModelID: "model-a", Caller: role}},
			ref: lifecycle.JobRef{Kind: lifecycle.ProvisionedByARN, ID: "arn:pt/p"}, want: j0.Add(lifecycle.OpenJobHorizon + window)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := records(tt.jobs...)
			_, changed := lifecycle.JobsAt(recs, j0, lifecycle.DefaultConfig())
			var got *lifecycle.JobRecord
			for i := range changed {
				if changed[i].Ref == tt.ref {
					got = &changed[i]
				}
			}
			if tt.want.IsZero() {
				if got != nil {
					t.Fatalf("JobsAt() expires %v at %v; want it kept until a deletion is seen", tt.ref, got.Expires)
				}
				return
			}
			if got == nil || !got.Expires.Equal(tt.want) {
				t.Fatalf("JobsAt() expiry of %v = %+v; want %v", tt.ref, got, tt.want)
			}
			// Once stored, the same records need no further write.
			for i := range recs {
				for _, c := range changed {
					if c.Ref == recs[i].Ref {
						recs[i] = c
					}
				}
			}
			if _, again := lifecycle.JobsAt(recs, j0, lifecycle.DefaultConfig()); len(again) != 0 {
				t.Errorf("JobsAt() on records with their expiry stored changed %+v; want none", again)
			}
		})
	}
}

// TestJobsAtLeavesOutExpired: a record is in the view until its expiry and out of it from then on.
func TestJobsAtLeavesOutExpired(t *testing.T) {
	recs := records(createJob("a", j0), jobDone("a", j0.Add(time.Hour), "Failed"))
	_, changed := lifecycle.JobsAt(recs, j0, lifecycle.DefaultConfig())
	if len(changed) != 1 {
		t.Fatalf("JobsAt() changed %d records; want the job's expiry", len(changed))
	}
	until := changed[0].Expires
	for _, tt := range []struct {
		at   time.Time
		want int
	}{{until.Add(-time.Second), 1}, {until, 0}} {
		if got, _ := lifecycle.JobsAt(changed, tt.at, lifecycle.DefaultConfig()); len(got.Jobs) != tt.want {
			t.Errorf("JobsAt(at %v) has %d jobs; want %d", tt.at, len(got.Jobs), tt.want)
		}
		if got, _ := lifecycle.JobsAt(recs, tt.at, lifecycle.DefaultConfig()); len(got.Jobs) != tt.want {
			t.Errorf("JobsAt(at %v) of records without a stored expiry has %d jobs; want %d", tt.at, len(got.Jobs), tt.want)
		}
	}
}

// TestJobRecordsAreOrderIndependent: every order of a job's events, each delivered twice, gives the same records
// and the same view; a repeated event changes nothing.
func TestJobRecordsAreOrderIndependent(t *testing.T) {
	evs := []lifecycle.JobEvent{createJob("a", j0),
		{ID: "prog", Name: lifecycle.JobStateChange, Time: j0.Add(time.Minute), JobARN: "arn:job/a", JobName: "a", Status: "InProgress"},
		{ID: "stop", Name: lifecycle.StopModelCustomizationJob, Time: j0.Add(time.Hour), JobID: "a"},
		jobDone("a", j0.Add(2*time.Hour), "Stopped"),
		{ID: "copy", Name: lifecycle.CreateModelCopyJob, Time: j0.Add(3 * time.Hour), KeyARN: jobKey, JobARN: "arn:copy/c", ModelName: "copy-c", Caller: role},
		{ID: "pt", Name: lifecycle.CreateProvisionedModelThroughput, Time: j0.Add(4 * time.Hour), JobARN: "arn:pt/p", ModelID: "copy-c", Caller: role},
		{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(5 * time.Hour), ModelID: "copy-c"},
	}
	at := j0.Add(6 * time.Hour)
	want, _ := lifecycle.JobsAt(records(evs...), at, lifecycle.DefaultConfig())
	if len(want.Jobs) != 3 || want.Jobs[0].Status != "Stopped" || !want.Jobs[0].EndedAt.Equal(j0.Add(2*time.Hour)) ||
		want.Jobs[2].KeyARN != jobKey || len(want.Deletions) != 1 {
		t.Fatalf("JobsAt() = %+v; want the stopped job, the copy and its throughput on the key, one deletion", want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		doubled := append(slices.Clone(evs), evs...)
		rng.Shuffle(len(doubled), func(i, j int) { doubled[i], doubled[j] = doubled[j], doubled[i] })
		recs := records(doubled...)
		got, _ := lifecycle.JobsAt(recs, at, lifecycle.DefaultConfig())
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order %v: JobsAt() = %+v; want %+v", ids(doubled), got, want)
		}
		for _, ev := range evs {
			for i := range recs {
				if recs[i].Ref == lifecycle.JobRefOf(ev) && recs[i].Apply(ev) {
					t.Fatalf("re-applying %s changed its record", ev.ID)
				}
			}
		}
	}
}

func ids(evs []lifecycle.JobEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// TestJobsIndexed: the index gives every key what ForKey's scan gives it.
func TestJobsIndexed(t *testing.T) {
	other := "arn:aws:kms:us-east-1:111122223333:key/other"
	copyJob := lifecycle.JobEvent{ID: "copy", Name: lifecycle.CreateModelCopyJob, Time: j0, KeyARN: other, JobARN: "arn:copy/c", ModelName: "copy-c", Caller: role}
	view, _ := lifecycle.JobsAt(records(createJob("a", j0), jobDone("a", j0.Add(time.Hour), "Completed"), createJob("b", j0.Add(time.Hour)), copyJob,
		lifecycle.JobEvent{ID: "d1", Name: lifecycle.DeleteCustomModel, Time: j0.Add(2 * time.Hour), ModelID: "arn:model/a"},
		lifecycle.JobEvent{ID: "d2", Name: lifecycle.DeleteCustomModel, Time: j0.Add(3 * time.Hour), ModelID: "copy-c"},
		lifecycle.JobEvent{ID: "d3", Name: lifecycle.DeleteCustomModel, Time: j0.Add(3 * time.Hour), ModelID: "imported"}), j0.Add(4*time.Hour), lifecycle.DefaultConfig())
	scan := lifecycle.Jobs{Jobs: view.Jobs, Deletions: view.Deletions}
	for _, key := range []string{jobKey, other, "arn:aws:kms:us-east-1:111122223333:key/none"} {
		got, want := view.ForKey(key), scan.ForKey(key)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ForKey(%s) from the index = %+v; want %+v", key, got, want)
		}
	}
	if got := scan.ForKey(jobKey); len(got.Jobs) != 2 || len(got.Deletions) != 1 || got.Deletions[0].EventID != "d1" {
		t.Errorf("ForKey(%s) = %+v; want jobs a and b and the deletion of a's model", jobKey, got)
	}
}
