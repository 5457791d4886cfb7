package lifecycle_test

import (
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
		{name: "tolerant: two jobs could have made the primary", jobs: []lifecycle.JobEvent{createJob("a", j0), createJob("b", j0.Add(time.Minute)),
			{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(10 * time.Hour), ModelID: "model-a"}},
			at: j0.Add(12 * time.Hour), grants: "primary"},
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
			var jobs lifecycle.Jobs
			for _, ev := range tt.jobs {
				jobs.Apply(ev)
			}
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

// TestJobsApplyIsOrderIndependent: the registry ends the same whatever order the events arrive in.
func TestJobsApplyIsOrderIndependent(t *testing.T) {
	evs := []lifecycle.JobEvent{createJob("a", j0), jobDone("a", j0.Add(time.Hour), "Completed"),
		{ID: "del", Name: lifecycle.DeleteCustomModel, Time: j0.Add(2 * time.Hour), ModelID: "model-a"}}
	var fwd, rev lifecycle.Jobs
	for i := range evs {
		fwd.Apply(evs[i])
		rev.Apply(evs[len(evs)-1-i])
	}
	if fwd.Apply(evs[0]) {
		t.Error("re-applying an event changed the registry")
	}
	if a, b := fwd.ForKey(jobKey), rev.ForKey(jobKey); len(a.Jobs) != 1 || len(b.Jobs) != 1 || a.Jobs[0] != b.Jobs[0] {
		t.Errorf("forward %+v, reverse %+v; want one identical job", a.Jobs, b.Jobs)
	}
}
