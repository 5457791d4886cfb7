package trail_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// The verbatim AWS samples (copied byte for byte from the project's shared samples; sources in testdata/aws-samples/SOURCES.md).
var samplesDir = filepath.Join("testdata", "aws-samples")

const (
	modelCopySample    = "kms-creategrant-bedrock-primary-modelcopy-assumedrole.json"
	dataAutoSample     = "kms-creategrant-bedrock-data-automation-primary-ec-constraint.json"
	iamGrantSample     = "kms-creategrant-iamuser-encryptioncontextsubset-constraint.json"
	retireSample       = "kms-retiregrant-iamuser-additionaleventdata-grantid.json"
	revokeSample       = "kms-revokegrant-iamuser.json"
	decryptSample      = "kms-decrypt-iamuser-standard-archived.json"
	dataKeySample      = "kms-generatedatakey-iamuser-archived.json"
	s3EnvelopeSample   = "eventbridge-aws-api-call-via-cloudtrail-envelope-s3-createbucket.json"
	jobStateSample     = "eventbridge-bedrock-model-customization-job-state-change.json"
	lookupEventsSample = "cloudtrail-lookupevents-response-cli-example-cloudtrailevent-is-string.json"

	bedrockKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE"
	aliceKey   = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	sampleGID  = "0ab0ac0d0b000f00ea00cc0a0e00fc00bce000c000f0000000c0bc0a0000aaafSAMPLE"
	aliceGID   = "abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a"
)

// batchJobEvent is Bedrock's native "Batch Inference Job State Change" event in the shape the EventBridge reference
// publishes, with its non-ISO top-level time (grant-lifecycle.md §1). Derived: the ids are ours.
const batchJobEvent = `{"version": "0", "id": "11111111-2222-3333-4444-555555555555",
 "detail-type": "Batch Inference Job State Change", "source": "aws.bedrock", "account": "123456789012",
 "time": "Wed Aug 28 22:58:30 UTC 2024", "region": "us-east-1",
 "resources": ["arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghwxyz"],
 "detail": {"batchJobName": "dummy-batch-job-name", "status": "Completed"}}`

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		tb.Fatalf("read sample: %v", err)
	}
	return data
}

// variant returns a copy of the named sample with the top-level fields of the JSON object fields replaced.
// Inputs built this way are derived test data, not AWS samples.
func variant(tb testing.TB, name, fields string) []byte {
	tb.Helper()
	var rec, patch map[string]json.RawMessage
	if err := json.Unmarshal(readSample(tb, name), &rec); err != nil {
		tb.Fatalf("variant of %s: %v", name, err)
	}
	if err := json.Unmarshal([]byte(fields), &patch); err != nil {
		tb.Fatalf("variant of %s: fields: %v", name, err)
	}
	for k, v := range patch {
		rec[k] = v
	}
	out, err := json.Marshal(rec)
	if err != nil {
		tb.Fatalf("variant of %s: %v", name, err)
	}
	return out
}

// kmsEnvelope wraps the primary model-copy CreateGrant in the S3 EventBridge envelope sample, with source aws.kms,
// keeping the sample's key order (detail-type before detail, as EventBridge writes). No public sample of a KMS
// EventBridge event exists; its detail is the same CloudTrail record (testdata/aws-samples/SOURCES.md).
func kmsEnvelope(tb testing.TB) []byte {
	tb.Helper()
	env := string(readSample(tb, s3EnvelopeSample))
	i := strings.Index(env, `"detail": {`)
	if i < 0 || !strings.Contains(env, `"source": "aws.s3"`) {
		tb.Fatal("envelope sample changed shape")
	}
	env = strings.Replace(env[:i], `"source": "aws.s3"`, `"source": "aws.kms"`, 1)
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(env+`"detail": `+string(readSample(tb, modelCopySample))+"}")); err != nil {
		tb.Fatalf("envelope: %v", err)
	}
	return b.Bytes()
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The events the unmodified samples map to, read by hand from the sample files.
var (
	modelCopyEvent = lifecycle.Event{
		ID:      "ff000af-00eb-00ce-0e00-ea000fb0fba0SAMPLE",
		Name:    lifecycle.CreateGrant,
		Time:    at("2024-05-07T21:49:44Z"),
		KeyARN:  bedrockKey,
		GrantID: sampleGID,
		Region:  "us-east-1",
		Account: "111122223333",
		Caller: lifecycle.Caller{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/RoleForModelCopy/SampleUser01",
			AccountID: "111122223333", InvokedBy: "bedrock.amazonaws.com"},
		SourceIP:          "bedrock.amazonaws.com",
		UserAgent:         "bedrock.amazonaws.com",
		RequestID:         "ff000af-00eb-00ce-0e00-ea000fb0fba0SAMPLE",
		Grantee:           "bedrock.amazonaws.com",
		RetiringPrincipal: "bedrock.amazonaws.com",
		Operations:        []string{"Decrypt", "CreateGrant", "GenerateDataKey", "DescribeKey"},
	}
	alice       = lifecycle.Caller{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/Alice", AccountID: "111122223333"}
	retireEvent = lifecycle.Event{
		ID: "0771bcfb-3e24-4332-9ac8-e1c06563eecf", Name: lifecycle.RetireGrant, Time: at("2022-09-01T19:39:33Z"),
		KeyARN: aliceKey, GrantID: aliceGID, Region: "us-west-2", Account: "111122223333", Caller: alice,
		SourceIP: "192.0.2.0", UserAgent: "AWS Internal", RequestID: "1d274d57-5697-462c-a004-f25fcc29fa26",
	}
	revokeEvent = lifecycle.Event{
		ID: "07a23a39-6526-4ae2-b31e-d35fbe9e24ee", Name: lifecycle.RevokeGrant, Time: at("2022-09-01T19:35:17Z"),
		KeyARN: aliceKey, GrantID: aliceGID, Region: "us-west-2", Account: "111122223333", Caller: alice,
		SourceIP: "192.0.2.0", UserAgent: "AWS Internal", RequestID: "59d94c03-c5b7-428d-ae6e-f2c4b47d2917",
	}
	decryptEvent = lifecycle.Event{
		ID: "abcde202-ba1a-467c-b4ba-f729d45ae521", Name: lifecycle.Decrypt, Time: at("2020-07-27T22:58:24Z"),
		KeyARN: aliceKey, Region: "us-west-2", Account: "111122223333", Caller: alice,
		SourceIP: "192.0.2.0", UserAgent: "AWS Internal", RequestID: "12345126-30d5-4b28-98b9-9153da559963",
	}
	// The sample says awsRegion us-east-1 but lists a us-west-2 key: the listed ARN wins.
	dataKeyEvent = lifecycle.Event{
		ID: "a9dea4f9-8395-46c0-942c-f509c02c2b71", Name: lifecycle.GenerateDataKey, Time: at("2014-11-04T00:52:40Z"),
		KeyARN: aliceKey, Region: "us-east-1", Account: "111122223333", Caller: alice,
		SourceIP: "192.0.2.0", UserAgent: "AWS Internal", RequestID: "e0eb83e3-63bc-11e4-bc2b-4198b6150d5c",
	}
	iamGrantEvent = lifecycle.Event{
		ID: "5d529779-2d27-42b5-92da-91aaea1fc4b5", Name: lifecycle.CreateGrant, Time: at("2014-11-04T00:53:12Z"),
		KeyARN: aliceKey, GrantID: "f020fe75197b93991dc8491d6f19dd3cebb24ee62277a05914386724f3d48758",
		Region: "us-east-1", Account: "111122223333", Caller: alice,
		SourceIP: "192.0.2.0", UserAgent: "AWS Internal", RequestID: "f3c08808-63bc-11e4-bc2b-4198b6150d5c",
		Grantee: "{{service-name}}.amazonaws.com", Operations: []string{"Encrypt", "RetireGrant"},
		ConstraintKeys: []string{"ContextKey1"},
	}
)

// with returns a copy of ev changed by f.
func with(ev lifecycle.Event, f func(*lifecycle.Event)) lifecycle.Event {
	ev.Operations = append([]string(nil), ev.Operations...)
	ev.ConstraintKeys = append([]string(nil), ev.ConstraintKeys...)
	f(&ev)
	return ev
}

// outcome is what a test expects from Record.Event.
type outcome int

const (
	ok       outcome = iota // an event
	ignored                 // an error wrapping ErrIgnored
	unusable                // another error
)

func (o outcome) String() string { return [...]string{"ok", "ignored", "unusable"}[o] }

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, trail.ErrIgnored):
		return ignored
	}
	return unusable
}

func TestEvent(t *testing.T) {
	tests := []struct {
		name    string
		record  []byte
		want    outcome
		event   lifecycle.Event // when want == ok
		errPart string          // part of the error message, when want != ok
	}{
		{name: "primary CreateGrant sample", record: readSample(t, modelCopySample), event: modelCopyEvent},
		{name: "IAM user CreateGrant sample, untyped resources", record: readSample(t, iamGrantSample), event: iamGrantEvent},
		{name: "RetireGrant sample, null requestParameters", record: readSample(t, retireSample), event: retireEvent},
		{name: "RevokeGrant sample", record: readSample(t, revokeSample), event: revokeEvent},
		{name: "Decrypt sample", record: readSample(t, decryptSample), event: decryptEvent},
		{name: "GenerateDataKey sample, untyped resource wins over awsRegion", record: readSample(t, dataKeySample), event: dataKeyEvent},

		// CreateGrant variants.
		{
			name: "service-principal fields and both constraint kinds",
			record: variant(t, dataAutoSample, `{"requestParameters": {
				"granteeServicePrincipal": "bedrock.us-east-1.amazonaws.com", "retiringServicePrincipal": "bedrock.amazonaws.com",
				"keyId": "1234abcd-12ab-34cd-56ef-123456SAMPLE", "name": "copy-job-7", "operations": ["Decrypt", "GenerateDataKey"],
				"constraints": {"encryptionContextEquals": {"zeta": "secret-1", "aws:bedrock:data-automation-customer-account-id": "000000000000"},
					"encryptionContextSubset": {"alpha": "secret-2", "zeta": "secret-3"},
					"sourceArn": "arn:aws:bedrock:us-east-1:111122223333:custom-model/x"}}}`),
			event: with(modelCopyEvent, func(e *lifecycle.Event) {
				e.Caller.ARN = "arn:aws:sts::111122223333:assumed-role/RoleForDataAutomation/SampleUser01"
				e.Grantee = "bedrock.us-east-1.amazonaws.com"
				e.Operations = []string{"Decrypt", "GenerateDataKey"}
				e.ConstraintKeys = []string{"alpha", "aws:bedrock:data-automation-customer-account-id", "zeta"}
				e.GrantName = "copy-job-7"
			}),
		},
		{
			name: "principal fields win over service-principal fields",
			record: variant(t, modelCopySample, `{"requestParameters": {"granteePrincipal": "a", "granteeServicePrincipal": "b",
				"retiringPrincipal": "c", "retiringServicePrincipal": "d"}}`),
			event: with(modelCopyEvent, func(e *lifecycle.Event) {
				e.Grantee, e.RetiringPrincipal, e.Operations = "a", "c", nil
			}),
		},
		{
			name: "Bedrock service as caller (secondary grant, derived)",
			record: variant(t, modelCopySample, `{"userIdentity": {"type": "AWSService", "invokedBy": "bedrock.amazonaws.com"},
				"sharedEventID": "5a4c0b2e-0000-4000-8000-000000000000"}`),
			event: with(modelCopyEvent, func(e *lifecycle.Event) {
				e.Caller = lifecycle.Caller{Type: "AWSService", InvokedBy: "bedrock.amazonaws.com"}
			}),
		},
		{
			name:   "responseElements.keyId when resources are absent",
			record: variant(t, iamGrantSample, `{"resources": null}`),
			event:  iamGrantEvent,
		},
		{
			name: "wrongly typed optional fields read as absent",
			record: variant(t, modelCopySample, `{"requestParameters": {"granteePrincipal": 5, "operations": "Decrypt",
				"constraints": ["x"], "name": {}, "retiringPrincipal": "bedrock.amazonaws.com"},
				"userIdentity": "AssumedRole", "userAgent": 1, "readOnly": "no", "sourceIPAddress": null}`),
			event: with(modelCopyEvent, func(e *lifecycle.Event) {
				e.Caller, e.UserAgent, e.SourceIP, e.Grantee, e.Operations = lifecycle.Caller{}, "", "", "", nil
			}),
		},
		{
			name:   "non-string operations are dropped",
			record: variant(t, modelCopySample, `{"requestParameters": {"operations": ["Decrypt", 7, null, "DescribeKey"]}}`),
			event: with(modelCopyEvent, func(e *lifecycle.Event) {
				e.Grantee, e.RetiringPrincipal, e.Operations = "", "", []string{"Decrypt", "DescribeKey"}
			}),
		},
		{
			name:   "eventTime with an offset is kept in UTC",
			record: variant(t, modelCopySample, `{"eventTime": "2024-05-07T23:49:44.250+02:00"}`),
			event:  with(modelCopyEvent, func(e *lifecycle.Event) { e.Time = at("2024-05-07T21:49:44.25Z") }),
		},
		{
			name: "dry run is ignored",
			record: variant(t, modelCopySample, `{"errorCode": "DryRunOperationException",
				"errorMessage": "The request would have succeeded, but the DryRun option is set.", "responseElements": null}`),
			want: ignored, errPart: "DryRunOperationException",
		},
		{name: "CreateGrant without grantId", record: variant(t, modelCopySample, `{"responseElements": null}`), want: unusable, errPart: "responseElements.grantId"},
		{name: "CreateGrant grantId not a string", record: variant(t, modelCopySample, `{"responseElements": {"grantId": 12}}`), want: unusable, errPart: "grantId"},

		// RetireGrant and RevokeGrant variants.
		{
			name:   "RetireGrant falls back to requestParameters.grantId",
			record: variant(t, retireSample, `{"additionalEventData": null, "requestParameters": {"grantId": "g-fallback"}}`),
			event:  with(retireEvent, func(e *lifecycle.Event) { e.GrantID = "g-fallback" }),
		},
		{
			name:   "RetireGrant prefers additionalEventData.grantId",
			record: variant(t, retireSample, `{"requestParameters": {"grantId": "g-other"}}`),
			event:  retireEvent,
		},
		{
			name:   "RetireGrant key from requestParameters.keyId ARN",
			record: variant(t, retireSample, `{"resources": null, "requestParameters": {"keyId": "`+bedrockKey+`"}}`),
			event:  with(retireEvent, func(e *lifecycle.Event) { e.KeyARN = bedrockKey }),
		},
		{
			name:   "RetireGrant grantId not a string",
			record: variant(t, retireSample, `{"additionalEventData": {"grantId": 7}}`),
			want:   unusable, errPart: "RetireGrant has no",
		},
		{
			name:   "RetireGrant denied is ignored",
			record: variant(t, retireSample, `{"errorCode": "AccessDeniedException", "additionalEventData": null}`),
			want:   ignored, errPart: "failed",
		},
		{
			name:   "RevokeGrant bare key id builds the ARN",
			record: variant(t, revokeSample, `{"resources": null, "awsRegion": "eu-west-1"}`),
			event: with(revokeEvent, func(e *lifecycle.Event) {
				e.KeyARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
				e.Region = "eu-west-1"
			}),
		},
		{
			name:   "RevokeGrant without grantId",
			record: variant(t, revokeSample, `{"requestParameters": {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}}`),
			want:   unusable, errPart: "requestParameters.grantId",
		},
		{
			name:   "RevokeGrant bare key id without account",
			record: variant(t, revokeSample, `{"resources": null, "recipientAccountId": null}`),
			want:   unusable, errPart: "names no KMS key",
		},

		// Key ARN rules.
		{
			name:   "Decrypt without keyId takes the key from resources",
			record: variant(t, decryptSample, `{"requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}}`),
			event:  decryptEvent,
		},
		{
			name:   "alias keyId is not used when resources name the key",
			record: variant(t, decryptSample, `{"requestParameters": {"keyId": "alias/ExampleAlias"}}`),
			event:  decryptEvent,
		},
		{
			name:   "alias keyId is never a key id",
			record: variant(t, decryptSample, `{"resources": [], "requestParameters": {"keyId": "alias/ExampleAlias"}}`),
			want:   unusable, errPart: "names no KMS key",
		},
		{
			name:   "alias ARN keyId is never a key ARN",
			record: variant(t, decryptSample, `{"resources": null, "requestParameters": {"keyId": "arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias"}}`),
			want:   unusable, errPart: "abcde202-ba1a-467c-b4ba-f729d45ae521",
		},
		{
			name:   "requestParameters not an object reads as absent",
			record: variant(t, decryptSample, `{"requestParameters": "keyId=alias/x"}`),
			event:  decryptEvent,
		},
		{
			name:   "GenerateDataKey without resources builds from the bare key id and awsRegion",
			record: variant(t, dataKeySample, `{"resources": "none"}`),
			event: with(dataKeyEvent, func(e *lifecycle.Event) {
				e.KeyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
			}),
		},
		{
			name: "typed key resource wins over an untyped one and over keyId",
			record: variant(t, decryptSample, `{"resources": [{"ARN": "`+bedrockKey+`"},
				{"type": "AWS::KMS::Alias", "ARN": "arn:aws:kms:us-west-2:111122223333:alias/a"},
				{"type": "AWS::KMS::Key", "ARN": "`+aliceKey+`"}]}`),
			event: decryptEvent,
		},
		{
			name:   "untyped resource that is not a key ARN is skipped",
			record: variant(t, decryptSample, `{"resources": [{"ARN": "arn:aws:s3:::bucket"}, {"type": "AWS::KMS::Key", "ARN": "key/1"}]}`),
			event:  decryptEvent, // from requestParameters.keyId
		},

		// Ignored and unusable records.
		{name: "other service", record: variant(t, decryptSample, `{"eventSource": "s3.amazonaws.com"}`), want: ignored, errPart: "s3.amazonaws.com"},
		{name: "KMS call not consumed", record: variant(t, decryptSample, `{"eventName": "Encrypt"}`), want: ignored, errPart: `"Encrypt"`},
		{name: "no eventID", record: variant(t, decryptSample, `{"eventID": null}`), want: unusable, errPart: "no eventID"},
		{name: "eventID not a string", record: variant(t, decryptSample, `{"eventID": 42}`), want: unusable, errPart: "no eventID"},
		{name: "no eventTime", record: variant(t, decryptSample, `{"eventTime": null}`), want: unusable, errPart: "no eventTime"},
		{
			name:   "eventTime not RFC 3339",
			record: variant(t, decryptSample, `{"eventTime": "Wed Aug 28 22:58:30 UTC 2024"}`),
			want:   unusable, errPart: "not RFC 3339",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := trail.Decode(tt.record)
			if err != nil {
				t.Fatalf("Decode() error = %v", err)
			}
			got, err := r.Event()
			if o := outcomeOf(err); o != tt.want {
				t.Fatalf("Event() = %s (error %v); want %s", o, err, tt.want)
			}
			if tt.want != ok {
				if !reflect.DeepEqual(got, lifecycle.Event{}) {
					t.Errorf("Event() = %+v with error; want a zero event", got)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "trail: ") || !strings.Contains(msg, tt.errPart) {
					t.Errorf("Event() error = %q; want it to start with %q and contain %q", msg, "trail: ", tt.errPart)
				}
				if r.EventID != "" && !strings.Contains(msg, r.EventID) {
					t.Errorf("Event() error = %q; want it to name eventID %s", msg, r.EventID)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.event) {
				t.Errorf("Event() =\n%s\nwant\n%s", show(got), show(tt.event))
			}
		})
	}
}

func show(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr bool
	}{
		{name: "minimal record", data: `{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt"}`},
		{name: "not JSON", data: `eventSource=kms`, wantErr: true},
		{name: "array", data: `[{"eventSource": "kms.amazonaws.com"}]`, wantErr: true},
		{name: "string", data: `"{}"`, wantErr: true},
		{name: "empty object is not a record", data: `{}`, wantErr: true},
		{name: "other object is not a record", data: `{"Records": 1}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trail.Decode([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode(%s) error = %v; want error %t", tt.data, err, tt.wantErr)
			}
			if err != nil && (errors.Is(err, trail.ErrIgnored) || !strings.HasPrefix(err.Error(), "trail: ")) {
				t.Errorf("Decode(%s) error = %q; want a non-ignored error starting with %q", tt.data, err, "trail: ")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	insight := `{"eventVersion":"1.08","eventTime":"2024-05-31T00:00:00Z","awsRegion":"us-east-1","eventID":"i1",` +
		`"eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"s1",` +
		`"insightDetails":{"state":"Start","eventSource":"kms.amazonaws.com","eventName":"CreateGrant","insightType":"ApiCallRateInsight"},` +
		`"eventCategory":"Insight"}`
	tests := []struct {
		name    string
		raw     []byte
		want    trail.Class
		eventID string
		errPart string
	}{
		{name: "KMS CloudTrail event", raw: kmsEnvelope(t), want: trail.KMSEvent, eventID: modelCopyEvent.ID},
		{name: "bare KMS record", raw: readSample(t, revokeSample), want: trail.KMSEvent, eventID: revokeEvent.ID},
		{name: "S3 CloudTrail event is ignored", raw: readSample(t, s3EnvelopeSample), want: trail.Ignored, errPart: "s3.amazonaws.com"},
		{name: "Bedrock job state change", raw: readSample(t, jobStateSample), want: trail.JobEvent},
		{name: "Bedrock batch job with a non-ISO time is ignored", raw: []byte(batchJobEvent), want: trail.Ignored, errPart: "11111111-2222-3333-4444-555555555555"},
		{name: "LookupEvents element", raw: []byte(lookupElem(t, retireSample)), want: trail.KMSEvent, eventID: retireEvent.ID},
		{name: "Insights record", raw: []byte(insight), want: trail.Ignored, errPart: "Insights"},
		{name: "digest file", raw: []byte(`{"awsAccountId":"111122223333","digestStartTime":"2024-05-31T00:00:00Z","logFiles":[]}`), want: trail.Ignored, errPart: "digest"},
		{name: "null detail", raw: []byte(`{"id": "e1", "detail-type": "AWS API Call via CloudTrail", "detail": null}`), want: trail.Rejected, errPart: "e1 has no detail"},
		{name: "detail not a record", raw: []byte(`{"id": "e2", "detail-type": "AWS API Call via CloudTrail", "detail": {"a": 1}}`), want: trail.Rejected, errPart: "e2 detail"},
		{name: "detail before detail-type", raw: []byte(`{"id": "e3", "detail": ` + compact(t, revokeSample) + `, "detail-type": "AWS API Call via CloudTrail"}`), want: trail.KMSEvent, eventID: revokeEvent.ID},
		{name: "not JSON", raw: []byte(`{"id": `), want: trail.Rejected, errPart: "invalid JSON"},
		{name: "trailing garbage", raw: append(readSample(t, revokeSample), " x"...), want: trail.Rejected, errPart: "invalid JSON"},
		{
			name: "non-Bedrock CreateGrant without a key is ignored",
			raw:  []byte(`{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"c1","eventTime":"2024-05-31T00:00:00Z","userIdentity":{"type":"IAMUser"}}`),
			want: trail.Ignored, errPart: "does not involve Bedrock",
		},
		{
			name: "non-Bedrock Decrypt with a bad time is ignored",
			raw:  []byte(`{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"d1","eventTime":"yesterday"}`),
			want: trail.Ignored, errPart: "does not involve Bedrock",
		},
		{
			name: "Bedrock CreateGrant without a grant id is rejected",
			raw:  []byte(`{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"c2","eventTime":"2024-05-31T00:00:00Z","userIdentity":{"invokedBy":"bedrock.amazonaws.com"},"resources":[{"ARN":"` + aliceKey + `"}]}`),
			want: trail.Rejected, errPart: "no responseElements.grantId",
		},
		{
			name: "RevokeGrant of a named grant without an eventID is rejected: it may end a Bedrock grant",
			raw:  []byte(`{"eventSource":"kms.amazonaws.com","eventName":"RevokeGrant","eventTime":"2024-05-31T00:00:00Z","requestParameters":{"grantId":"g","keyId":"` + aliceKey + `"}}`),
			want: trail.Rejected, errPart: "no eventID",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := trail.Classify(tt.raw)
			if d.Class != tt.want {
				t.Fatalf("Classify() = %s (error %v); want %s", d.Class, d.Err, tt.want)
			}
			if (d.Err == nil) != (tt.want == trail.KMSEvent || tt.want == trail.JobEvent) {
				t.Errorf("Classify() error = %v with class %s", d.Err, d.Class)
			}
			if d.Err != nil && !strings.Contains(d.Err.Error(), tt.errPart) {
				t.Errorf("Classify() error = %q; want it to contain %q", d.Err, tt.errPart)
			}
			if tt.eventID != "" && d.Event.ID != tt.eventID {
				t.Errorf("Classify() event ID = %q; want %q", d.Event.ID, tt.eventID)
			}
		})
	}

	t.Run("KMS event maps to the CreateGrant", func(t *testing.T) {
		d := trail.Classify(kmsEnvelope(t))
		if d.Class != trail.KMSEvent || !reflect.DeepEqual(d.Event, modelCopyEvent) {
			t.Errorf("Classify() = %s %s, %v; want %s", d.Class, show(d.Event), d.Err, show(modelCopyEvent))
		}
		if d.EnvelopeSource != "aws.kms" || d.EnvelopeID == "" {
			t.Errorf("Classify() envelope = %q %q; want the event's id and source aws.kms", d.EnvelopeID, d.EnvelopeSource)
		}
	})
}

func TestErrorType(t *testing.T) {
	items := trail.Split("in.json", []byte(`{"Records": [1]}`))
	var e *trail.Error
	if len(items) != 1 || !errors.As(items[0].Err, &e) || e.Source != "in.json" {
		t.Fatalf("Split() = %+v; want one item whose Err is a *trail.Error with Source in.json", items)
	}
}
