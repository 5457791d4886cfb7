//go:build integration

package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

// TestBedrockRuleMatchesEngine puts every aws.bedrock sample under events/, and variants, through the
// template's Bedrock rule on moto and checks that it delivers exactly the events the engine uses: those
// trail.BedrockFromEventBridge decodes (or rejects as unusable, so the function records them), never those it ignores.
func TestBedrockRuleMatchesEngine(t *testing.T) {
	testenv.Reset(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg := testenv.AWSConfig()
	eb, sq := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	tpl := loadTemplate(t)
	pattern, err := json.Marshal(at(t, tpl, "Resources", "IngestFunction", "Properties", "Events", "Bedrock", "Properties", "Pattern"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bedrock-pattern-test")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("grantwatch-bedrock"), EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatalf("PutRule with the template's Bedrock pattern: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("grantwatch-bedrock"), Targets: []ebtypes.Target{{
		Id: aws.String("queue"), Arn: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
		InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"marker": "$.resources[0]"},
			InputTemplate: aws.String(`{"marker": "<marker>", "event": <aws.events.event.json>}`)},
	}}}); err != nil {
		t.Fatalf("PutTargets: %v", err)
	}

	var cases []case_
	add := func(source, src, detailType string, detail json.RawMessage) {
		full, _ := json.Marshal(map[string]any{"id": "x", "source": src, "detail-type": detailType, "detail": detail})
		_, ok, err := trail.BedrockFromEventBridge(full)
		want := ok && !errors.Is(err, trail.ErrIgnored)
		marker := markerPrefix + strconv.Itoa(len(cases))
		cases = append(cases, case_{sample: sample{Source: source}, want: want, reason: "engine: " + errString(err),
			entry: ebtypes.PutEventsRequestEntry{Source: aws.String(src), DetailType: aws.String(detailType),
				Detail: aws.String(string(detail)), Resources: []string{marker}}})
	}
	for _, s := range loadSamples(t) {
		switch {
		case isObject(s.Raw.Record):
			rec, err := trail.Decode(s.Raw.Record)
			if err != nil || rec.EventSource != "bedrock.amazonaws.com" {
				continue
			}
			add(s.Source, trail.BedrockSource, trail.DetailType, s.Raw.Record)
			// Variants: a failed call and a call grantwatch does not use must not be delivered.
			var m map[string]any
			_ = json.Unmarshal(s.Raw.Record, &m)
			m["errorCode"] = "ValidationException"
			failed, _ := json.Marshal(m)
			add(s.Source+" (failed)", trail.BedrockSource, trail.DetailType, failed)
			delete(m, "errorCode")
			m["eventName"] = "ListCustomModels"
			other, _ := json.Marshal(m)
			add(s.Source+" (ListCustomModels)", trail.BedrockSource, trail.DetailType, other)
		case isObject(s.Raw.Detail) && s.Raw.Source == trail.BedrockSource:
			add(s.Source, s.Raw.Source, s.Raw.DetailType, s.Raw.Detail)
			add(s.Source+" (batch inference)", s.Raw.Source, "Batch Inference Job State Change", s.Raw.Detail)
		}
	}
	for start := 0; start < len(cases); start += 10 {
		batch := cases[start:min(start+10, len(cases))]
		entries := make([]ebtypes.PutEventsRequestEntry, len(batch))
		for i, c := range batch {
			entries[i] = c.entry
		}
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %v (%d failed)", err, out.FailedEntryCount)
		}
	}
	got := drain(ctx, t, sq, q.QueueUrl, cases)
	matched := 0
	for i, c := range cases {
		if c.want != got[i] {
			t.Errorf("%s: delivered = %v; the engine says %v (%s)", c.Source, got[i], c.want, c.reason)
		}
		if c.want {
			matched++
		}
	}
	t.Logf("%d Bedrock events sent, %d must match", len(cases), matched)
	if matched == 0 || matched == len(cases) {
		t.Errorf("the samples exercise only one side of the rule (%d of %d match)", matched, len(cases))
	}
}

func errString(err error) string {
	if err == nil {
		return "decoded"
	}
	return err.Error()
}
