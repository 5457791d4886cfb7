package trail_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// TestBedrockSamples decodes every Bedrock sample in events/cloudtrail (built from the Bedrock API reference:
// events/README.md) and checks the fields that link jobs and models to keys.
func TestBedrockSamples(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-c00000000001"
	tests := []struct {
		file string
		want lifecycle.JobEvent
	}{
		{"bedrock-CreateModelCustomizationJob.json", lifecycle.JobEvent{Name: lifecycle.CreateModelCustomizationJob, KeyARN: key,
			JobARN: "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/amazon.titan-text-express-v1:0:8k/c0a1b2c3d4e5", JobName: "gw-c0-job", ModelName: "gw-c0-model"}},
		{"bedrock-CreateModelCopyJob.json", lifecycle.JobEvent{Name: lifecycle.CreateModelCopyJob, KeyARN: key,
			JobARN: "arn:aws:bedrock:us-east-1:111122223333:model-copy-job/c0c0c0c0c0c1", ModelName: "gw-c0-copy"}},
		{"bedrock-CreateProvisionedModelThroughput.json", lifecycle.JobEvent{Name: lifecycle.CreateProvisionedModelThroughput,
			JobARN: "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/c0p0p0p0p0p1", JobName: "gw-c0-pt",
			ModelID: "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.titan-text-express-v1:0:8k/c0a1b2c3d4e5"}},
		{"bedrock-StopModelCustomizationJob.json", lifecycle.JobEvent{Name: lifecycle.StopModelCustomizationJob,
			JobID: "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/amazon.titan-text-express-v1:0:8k/c0a1b2c3d4e5"}},
		{"bedrock-DeleteCustomModel.json", lifecycle.JobEvent{Name: lifecycle.DeleteCustomModel, ModelID: "gw-c0-model"}},
		{"bedrock-ModelCustomizationJobStateChange.json", lifecycle.JobEvent{Name: lifecycle.JobStateChange, Status: "Failed",
			JobARN: "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abcdefghwxyz", JobName: "abcd-wxyz",
			ModelARN: "arn:aws:bedrock:us-east-1:123456789012:dummy-output-model-name", ModelName: "dummy-output-model-name"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "events", "cloudtrail", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := trail.BedrockFromEventBridge(raw)
			if !ok || err != nil {
				t.Fatalf("BedrockFromEventBridge() ok = %v, err = %v; want a job event", ok, err)
			}
			if got.ID == "" || got.Time.IsZero() {
				t.Errorf("event id %q, time %v; want both set", got.ID, got.Time)
			}
			got.ID, got.Time, got.Region, got.Account, got.Caller, got.EndedAt = "", time.Time{}, "", "", lifecycle.Caller{}, time.Time{}
			if got != tt.want {
				t.Errorf("JobEvent =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestJobStateChangeTimes(t *testing.T) {
	tests := []struct {
		name, envTime, modified string
		want                    time.Time
	}{
		{"RFC 3339", "2024-05-31T18:00:05Z", "2024-05-31T18:00:00Z", time.Date(2024, 5, 31, 18, 0, 0, 0, time.UTC)},
		{"non-ISO envelope time falls back", "Fri May 31 18:00:05 UTC 2024", "", time.Date(2024, 5, 31, 18, 0, 5, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(`{"id":"e1","source":"aws.bedrock","detail-type":"Model Customization Job State Change","time":"` + tt.envTime +
				`","detail":{"jobArn":"arn:j","jobStatus":"Completed","lastModifiedTime":"` + tt.modified + `"}}`)
			d := trail.Classify(raw)
			if d.Class != trail.JobEvent || !d.Job.Time.Equal(tt.want) {
				t.Errorf("Classify() = %s, time %v, err %v; want a job event at %v", d.Class, d.Job.Time, d.Err, tt.want)
			}
		})
	}
}

func TestJobEventRejectsAndIgnores(t *testing.T) {
	tests := []struct {
		name, record string
		ignored      bool
	}{
		{"kms record", `{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"e","eventTime":"2024-05-31T00:00:00Z"}`, true},
		{"other bedrock call", `{"eventSource":"bedrock.amazonaws.com","eventName":"ListCustomModels","eventID":"e","eventTime":"2024-05-31T00:00:00Z"}`, true},
		{"failed call", `{"eventSource":"bedrock.amazonaws.com","eventName":"DeleteCustomModel","errorCode":"ValidationException","eventID":"e","eventTime":"2024-05-31T00:00:00Z"}`, true},
		{"delete without model", `{"eventSource":"bedrock.amazonaws.com","eventName":"DeleteCustomModel","eventID":"e","eventTime":"2024-05-31T00:00:00Z","requestParameters":{}}`, false},
		{"create without job", `{"eventSource":"bedrock.amazonaws.com","eventName":"CreateModelCustomizationJob","eventID":"e","eventTime":"2024-05-31T00:00:00Z"}`, false},
		{"bad time", `{"eventSource":"bedrock.amazonaws.com","eventName":"DeleteCustomModel","eventID":"e","eventTime":"yesterday","requestParameters":{"modelIdentifier":"m"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := trail.Decode([]byte(tt.record))
			if err != nil {
				t.Fatal(err)
			}
			_, err = rec.JobEvent()
			if err == nil || errors.Is(err, trail.ErrIgnored) != tt.ignored {
				t.Errorf("JobEvent() error = %v; want ignored = %v", err, tt.ignored)
			}
		})
	}
}
