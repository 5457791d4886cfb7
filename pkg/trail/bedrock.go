package trail

import (
	"cmp"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Bedrock control-plane records and Bedrock's own job events. No public CloudTrail record of these calls
// exists: the field names come from the Bedrock API reference (request and response syntax), which CloudTrail
// copies into requestParameters and responseElements; path parameters (jobIdentifier, modelIdentifier) appear in
// requestParameters under their API names. The samples in events/ are built that way.

// bedrockSource is the eventSource of Bedrock control-plane calls.
const bedrockSource = "bedrock.amazonaws.com"

// BedrockSource is the EventBridge source of Bedrock's own events and of its CloudTrail records.
const BedrockSource = "aws.bedrock"

// JobEvent maps a Bedrock control-plane record to a lifecycle.JobEvent. Other records, failed calls and calls
// grantwatch does not use return an error wrapping ErrIgnored; a record missing what links it (eventID, time, the
// job or model it names) returns another *Error.
func (r *Record) JobEvent() (lifecycle.JobEvent, error) {
	switch {
	case r.EventSource != bedrockSource:
		return lifecycle.JobEvent{}, r.ignored("eventSource " + quote(r.EventSource) + " is not " + bedrockSource)
	case !lifecycle.IsJobEvent(r.EventName) || r.EventName == lifecycle.JobStateChange:
		return lifecycle.JobEvent{}, r.ignored("eventName " + quote(r.EventName) + " is not a Bedrock call grantwatch consumes")
	case r.ErrorCode != "":
		return lifecycle.JobEvent{}, r.ignored(r.EventName + " failed with errorCode " + quote(r.ErrorCode) + ": it changed nothing")
	case r.EventID == "":
		return lifecycle.JobEvent{}, r.unusable(r.EventName + " record has no eventID")
	}
	at, err := parseTime(r.EventTime)
	if err != nil {
		return lifecycle.JobEvent{}, r.unusable(r.EventName + " has eventTime " + quote(r.EventTime) + ", not a time")
	}
	req, resp := &r.params, &r.response
	ev := lifecycle.JobEvent{
		ID: r.EventID, Name: r.EventName, Time: at, Region: r.AWSRegion, Account: r.RecipientAccountID,
		Caller: lifecycle.Caller{Type: r.UserIdentity.Type, ARN: r.UserIdentity.ARN, AccountID: r.UserIdentity.AccountID,
			InvokedBy: r.UserIdentity.InvokedBy},
	}
	switch r.EventName {
	case lifecycle.CreateModelCustomizationJob:
		ev.JobARN, ev.JobName, ev.ModelName = resp.JobARN, req.JobName, req.CustomModelName
		ev.KeyARN = r.bedrockKey(req.CustomModelKmsKeyID)
	case lifecycle.CreateModelCopyJob:
		ev.JobARN, ev.ModelName = resp.JobARN, req.TargetModelName
		ev.KeyARN = r.bedrockKey(req.ModelKmsKeyID)
	case lifecycle.CreateProvisionedModelThroughput:
		ev.JobARN, ev.JobName, ev.ModelID = resp.ProvisionedModelARN, req.ProvisionedName, req.ModelID
	case lifecycle.StopModelCustomizationJob:
		ev.JobID = req.JobIdentifier
		if ev.JobID == "" {
			return lifecycle.JobEvent{}, r.unusable("StopModelCustomizationJob has no requestParameters.jobIdentifier")
		}
	case lifecycle.DeleteCustomModel:
		ev.ModelID = req.ModelIdentifier
		if ev.ModelID == "" {
			return lifecycle.JobEvent{}, r.unusable("DeleteCustomModel has no requestParameters.modelIdentifier")
		}
	}
	if (r.EventName == lifecycle.CreateModelCustomizationJob || r.EventName == lifecycle.CreateModelCopyJob) && ev.JobARN == "" && ev.JobName == "" {
		return lifecycle.JobEvent{}, r.unusable(r.EventName + " names no job: no responseElements.jobArn or requestParameters.jobName")
	}
	return ev, nil
}

// bedrockKey returns the key ARN a Bedrock call names: an ARN as given, a bare key id made into an ARN of the
// recipient account; an alias cannot be resolved from the record, so it links nothing (the age caps apply).
func (r *Record) bedrockKey(id string) string {
	if isKeyARN(id) {
		return id
	}
	if isToken(id) && !strings.HasPrefix(id, "alias") {
		if arn := "arn:aws:kms:" + r.AWSRegion + ":" + r.RecipientAccountID + ":key/" + id; isKeyARN(arn) {
			return arn
		}
	}
	return ""
}

// jobState is what a "Model Customization Job State Change" event says: its envelope and detail fields.
type jobState struct {
	ID, Account, Region, Time                                            string
	JobName, JobARN, OutputModelName, OutputModelARN, JobStatus, EndTime string
	LastModifiedTime                                                     string
}

func (w *walker) jobDetail(j *jobState) error {
	return w.object(func(name []byte) *string {
		switch string(name) {
		case "jobName":
			return &j.JobName
		case "jobArn":
			return &j.JobARN
		case "outputModelName":
			return &j.OutputModelName
		case "outputModelArn":
			return &j.OutputModelARN
		case "jobStatus":
			return &j.JobStatus
		case "endTime":
			return &j.EndTime
		case "lastModifiedTime":
			return &j.LastModifiedTime
		}
		return nil
	}, nil)
}

// event maps Bedrock's native job state change to a lifecycle.JobEvent.
func (j *jobState) event() (lifecycle.JobEvent, error) {
	what := named("EventBridge event", j.ID)
	switch {
	case j.ID == "":
		return lifecycle.JobEvent{}, &Error{Reason: "job state change has no id"}
	case j.JobARN == "" && j.JobName == "":
		return lifecycle.JobEvent{}, &Error{Reason: what + " names no job: no detail.jobArn or detail.jobName"}
	case j.JobStatus == "":
		return lifecycle.JobEvent{}, &Error{Reason: what + " has no detail.jobStatus"}
	}
	at, err := parseTime(cmp.Or(j.LastModifiedTime, j.EndTime, j.Time))
	if err != nil {
		return lifecycle.JobEvent{}, &Error{Reason: what + " has no usable time (lastModifiedTime, endTime or time)"}
	}
	ev := lifecycle.JobEvent{ID: j.ID, Name: lifecycle.JobStateChange, Time: at, Region: j.Region, Account: j.Account,
		JobARN: j.JobARN, JobName: j.JobName, ModelARN: j.OutputModelARN, ModelName: j.OutputModelName, Status: j.JobStatus}
	if j.EndTime != "" {
		if end, err := parseTime(j.EndTime); err == nil {
			ev.EndedAt = end
		}
	}
	return ev, nil
}

// BedrockFromEventBridge decodes an EventBridge event of source aws.bedrock: a job state change or a CloudTrail
// record of a Bedrock call. ok is false for events of any other source. It is Classify seen from the Bedrock rule.
func BedrockFromEventBridge(raw []byte) (ev lifecycle.JobEvent, ok bool, err error) {
	d := Classify(raw)
	if d.EnvelopeSource != BedrockSource {
		return lifecycle.JobEvent{}, false, nil
	}
	return d.Job, true, d.Err
}

// parseTime reads RFC 3339 and the Unix date format some Bedrock events use ("Wed Aug 28 22:58:30 UTC 2024").
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.UnixDate, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
