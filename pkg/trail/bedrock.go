package trail

import (
	"cmp"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// Bedrock control-plane records and Bedrock's own job events (issue 3). No public CloudTrail record of these calls
// exists: the field names come from the Bedrock API reference (request and response syntax), which CloudTrail
// copies into requestParameters and responseElements; path parameters (jobIdentifier, modelIdentifier) appear in
// requestParameters under their API names. The samples in events/ are built that way.

// bedrockSource is the eventSource of Bedrock control-plane calls.
const bedrockSource = "bedrock.amazonaws.com"

// BedrockSource is the EventBridge source of Bedrock's own events and of its CloudTrail records.
const BedrockSource = "aws.bedrock"

// bedrockRequest is what JobEvent reads from a Bedrock call's requestParameters.
type bedrockRequest struct {
	JobName             string `json:"jobName"`
	CustomModelName     string `json:"customModelName"`
	CustomModelKmsKeyID string `json:"customModelKmsKeyId"` // CreateModelCustomizationJob
	SourceModelARN      string `json:"sourceModelArn"`      // CreateModelCopyJob
	TargetModelName     string `json:"targetModelName"`
	ModelKmsKeyID       string `json:"modelKmsKeyId"`
	ModelID             string `json:"modelId"` // CreateProvisionedModelThroughput
	ProvisionedName     string `json:"provisionedModelName"`
	JobIdentifier       string `json:"jobIdentifier"`   // StopModelCustomizationJob
	ModelIdentifier     string `json:"modelIdentifier"` // DeleteCustomModel
}

type bedrockResponse struct {
	JobARN              string `json:"jobArn"`
	ProvisionedModelARN string `json:"provisionedModelArn"`
}

// JobEvent maps a Bedrock control-plane record to a lifecycle.JobEvent. Other records, failed calls and calls
// grantwatch does not use return an error wrapping ErrIgnored; a record missing what links it (eventID, time, the
// job or model it names) returns another *Error.
func (r Record) JobEvent() (lifecycle.JobEvent, error) {
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
	var req bedrockRequest
	var resp bedrockResponse
	readPart(r.RequestParameters, &req)
	readPart(r.ResponseElements, &resp)
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
func (r Record) bedrockKey(id string) string {
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

// jobStateEnvelope is a "Model Customization Job State Change" event.
type jobStateEnvelope struct {
	ID         string `json:"id"`
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
	Account    string `json:"account"`
	Region     string `json:"region"`
	Time       string `json:"time"` // not always RFC 3339 in Bedrock's events: see parseTime
	Detail     struct {
		JobName          string `json:"jobName"`
		JobARN           string `json:"jobArn"`
		OutputModelName  string `json:"outputModelName"`
		OutputModelARN   string `json:"outputModelArn"`
		JobStatus        string `json:"jobStatus"`
		EndTime          string `json:"endTime"`
		LastModifiedTime string `json:"lastModifiedTime"`
	} `json:"detail"`
}

// JobStateChange decodes Bedrock's native "Model Customization Job State Change" EventBridge event. Another
// detail-type returns an error wrapping ErrIgnored.
func JobStateChange(raw []byte) (lifecycle.JobEvent, error) {
	var env jobStateEnvelope
	if err := decodeObject(raw, &env); err != nil {
		return lifecycle.JobEvent{}, &Error{Reason: "undecodable EventBridge event", Err: err}
	}
	what := named("EventBridge event", env.ID)
	if env.DetailType != lifecycle.JobStateChange || env.Source != BedrockSource {
		return lifecycle.JobEvent{}, &Error{Reason: what + " is not a Bedrock job state change", Err: ErrIgnored}
	}
	d := env.Detail
	switch {
	case env.ID == "":
		return lifecycle.JobEvent{}, &Error{Reason: "job state change has no id"}
	case d.JobARN == "" && d.JobName == "":
		return lifecycle.JobEvent{}, &Error{Reason: what + " names no job: no detail.jobArn or detail.jobName"}
	case d.JobStatus == "":
		return lifecycle.JobEvent{}, &Error{Reason: what + " has no detail.jobStatus"}
	}
	at, err := parseTime(cmp.Or(d.LastModifiedTime, d.EndTime, env.Time))
	if err != nil {
		return lifecycle.JobEvent{}, &Error{Reason: what + " has no usable time (lastModifiedTime, endTime or time)"}
	}
	ev := lifecycle.JobEvent{ID: env.ID, Name: lifecycle.JobStateChange, Time: at, Region: env.Region, Account: env.Account,
		JobARN: d.JobARN, JobName: d.JobName, ModelARN: d.OutputModelARN, ModelName: d.OutputModelName, Status: d.JobStatus}
	if d.EndTime != "" {
		if end, err := parseTime(d.EndTime); err == nil {
			ev.EndedAt = end
		}
	}
	return ev, nil
}

// ItemJobEvent maps an item Split found to a Bedrock job event: a Bedrock control-plane record, or a native job
// state change (which Split reports as ignored, with the whole event in Raw). Anything else wraps ErrIgnored.
func ItemJobEvent(it Item) (lifecycle.JobEvent, error) {
	if it.Err == nil {
		return it.Record.JobEvent()
	}
	if errors.Is(it.Err, ErrIgnored) && len(it.Raw) > 0 {
		ev, err := JobStateChange(it.Raw)
		var e *Error
		if errors.As(err, &e) && e.Source == "" {
			e.Source = it.Source
		}
		return ev, err
	}
	return lifecycle.JobEvent{}, it.Err
}

// BedrockFromEventBridge decodes an EventBridge event of source aws.bedrock: a job state change or a CloudTrail
// record of a Bedrock call. ok is false for events of any other source, which the caller handles as before.
func BedrockFromEventBridge(raw []byte) (ev lifecycle.JobEvent, ok bool, err error) {
	var env struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Source != BedrockSource {
		return lifecycle.JobEvent{}, false, nil
	}
	if env.DetailType == lifecycle.JobStateChange {
		ev, err = JobStateChange(raw)
		return ev, true, err
	}
	rec, err := FromEventBridge(raw)
	if err != nil {
		return lifecycle.JobEvent{}, true, err
	}
	ev, err = rec.JobEvent()
	return ev, true, err
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
