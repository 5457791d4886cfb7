//go:build integration

package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// markerPrefix tags each event through its resources[] (moto keeps them, the pattern ignores them), so a matched
// event is traced back to its sample even where published samples reuse eventIDs.
const markerPrefix = "urn:grantwatch:pattern-test:"

// case_ is one event sent through the rule, and whether the engine says the rule must deliver it.
type case_ struct {
	sample
	entry  ebtypes.PutEventsRequestEntry
	want   bool
	reason string
}

// TestRulePatternMatchesEngine puts every sample under events/ through the template's rule on moto's default bus
// (PutEvents → rule → SQS) and checks that the rule delivers exactly what the engine applies: a record matches iff
// it is a KMS call grantwatch consumes, with no errorCode, that ends a grant or involves Bedrock. Records the engine
// rejects as unusable (say, a Bedrock CreateGrant without a grant id) are judged on the same fields, so that the
// function still sees, and records, them. Moto ignores the rule State; TestIngestFunction checks it.
func TestRulePatternMatchesEngine(t *testing.T) {
	testenv.Reset(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cfg := testenv.AWSConfig()
	eb, sq := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	pattern, err := json.Marshal(ingestPattern(t, loadTemplate(t)))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("pattern-test")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name:         aws.String("grantwatch-ingest"),
		EventPattern: aws.String(string(pattern)),
		State:        ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents,
	}); err != nil {
		t.Fatalf("PutRule with the template's pattern: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String("grantwatch-ingest"),
		Targets: []ebtypes.Target{{
			Id:  aws.String("queue"),
			Arn: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			// The whole event, unchanged, plus its marker. Moto runs every input path through a freshly built
			// JSONPath parser (~0.1-0.3 s each, 8 by default): one path keeps the test fast.
			InputTransformer: &ebtypes.InputTransformer{
				InputPathsMap: map[string]string{"marker": "$.resources[0]"},
				InputTemplate: aws.String(`{"marker": "<marker>", "event": <aws.events.event.json>}`),
			},
		}},
	}); err != nil {
		t.Fatalf("PutTargets: %v", err)
	}

	cases, unsendable := buildCases(t, append(loadSamples(t), variants(t)...))
	for _, s := range unsendable {
		t.Logf("not sendable to EventBridge (not a JSON object): %s", s)
	}
	for start := 0; start < len(cases); start += 10 { // PutEvents takes at most 10 entries
		batch := cases[start:min(start+10, len(cases))]
		entries := make([]ebtypes.PutEventsRequestEntry, len(batch))
		for i, c := range batch {
			entries[i] = c.entry
		}
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			t.Fatalf("PutEvents: %v", err)
		}
		if out.FailedEntryCount != 0 {
			for i, e := range out.Entries {
				if e.ErrorCode != nil {
					t.Errorf("PutEvents %s: %s: %s", batch[i].Source, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
				}
			}
			t.FailNow()
		}
	}

	got := drain(ctx, t, sq, q.QueueUrl, cases)
	var matched, dropped int
	for i, c := range cases {
		switch {
		case c.want && !got[i]:
			t.Errorf("%s: the rule dropped an event the engine applies (%s)", c.Source, c.reason)
		case !c.want && got[i]:
			t.Errorf("%s: the rule delivered an event the engine ignores (%s)", c.Source, c.reason)
		}
		if c.want {
			matched++
		} else {
			dropped++
		}
	}
	t.Logf("%d events sent: %d must match, %d must not", len(cases), matched, dropped)
	if matched == 0 || dropped == 0 {
		t.Errorf("the samples exercise only one side of the rule (%d match, %d do not)", matched, dropped)
	}
}

// buildCases turns samples into PutEvents entries with the engine's verdict.
func buildCases(t *testing.T, samples []sample) (cases []case_, unsendable []string) {
	t.Helper()
	for _, s := range samples {
		c := case_{sample: s}
		marker := markerPrefix + strconv.Itoa(len(cases))
		switch {
		case isObject(s.Raw.Record):
			rec, err := trail.Decode(s.Raw.Record)
			source := "aws.unknown"
			if err == nil && rec.EventSource != "" {
				source = "aws." + strings.TrimSuffix(rec.EventSource, ".amazonaws.com")
			}
			c.want, c.reason = verdict(rec, err)
			c.entry = ebtypes.PutEventsRequestEntry{
				Source: aws.String(source), DetailType: aws.String(trail.DetailType),
				Detail: aws.String(string(s.Raw.Record)), Resources: []string{marker},
			}
		case isObject(s.Raw.Detail):
			// An EventBridge event that is not from CloudTrail (e.g. Bedrock's own): sent as it is.
			c.want, c.reason = false, "not a CloudTrail event: "+s.Raw.DetailType
			c.entry = ebtypes.PutEventsRequestEntry{
				Source: aws.String(cmp.Or(s.Raw.Source, "unknown")), DetailType: aws.String(cmp.Or(s.Raw.DetailType, "unknown")),
				Detail: aws.String(string(s.Raw.Detail)), Resources: []string{marker},
			}
		default:
			unsendable = append(unsendable, fmt.Sprintf("%s (%v)", s.Source, s.Item.Err))
			continue
		}
		cases = append(cases, c)
	}
	return cases, unsendable
}

// verdict says whether the rule must deliver a record, from the engine's own decisions: Record.Event, then
// lifecycle.IsEnd / Event.InvolvesBedrock. For a record the engine finds unusable, the same predicates are applied
// to the fields it has, so that the function gets to record the rejection.
func verdict(rec trail.Record, decodeErr error) (bool, string) {
	if decodeErr != nil {
		return false, "not a CloudTrail record: " + decodeErr.Error()
	}
	what := rec.EventName + " by " + cmp.Or(rec.UserIdentity.Type, "?")
	ev, err := rec.Event()
	switch {
	case errors.Is(err, trail.ErrIgnored):
		return false, "ignored: " + err.Error()
	case err != nil:
		ev = bestEffortEvent(rec)
		what += ", unusable (" + err.Error() + ")"
	}
	if lifecycle.IsEnd(ev.Name) {
		return true, what + ": ends a grant"
	}
	if ev.InvolvesBedrock() {
		return true, what + ": involves Bedrock"
	}
	return false, what + ": does not involve Bedrock"
}

// bestEffortEvent fills the fields the relevance predicates read from a record Event refused.
func bestEffortEvent(rec trail.Record) lifecycle.Event {
	var req struct {
		GranteePrincipal, GranteeServicePrincipal, RetiringPrincipal, RetiringServicePrincipal string
	}
	_ = json.Unmarshal(rec.RequestParameters, &req) // names match case-insensitively
	return lifecycle.Event{
		Name:              rec.EventName,
		Caller:            lifecycle.Caller{Type: rec.UserIdentity.Type, InvokedBy: rec.UserIdentity.InvokedBy},
		SourceIP:          rec.SourceIPAddress,
		UserAgent:         rec.UserAgent,
		Grantee:           cmp.Or(req.GranteePrincipal, req.GranteeServicePrincipal),
		RetiringPrincipal: cmp.Or(req.RetiringPrincipal, req.RetiringServicePrincipal),
	}
}

func isObject(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return strings.HasPrefix(s, "{") && json.Valid(raw)
}

// drain receives everything the rule delivered (bounded), checks each message is an intact copy of what was sent,
// and returns which cases arrived.
func drain(ctx context.Context, t *testing.T, sq *sqs.Client, url *string, cases []case_) map[int]bool {
	t.Helper()
	got := map[int]bool{}
	empty := 0
	for round := 0; round < len(cases)/10+20 && empty < 2; round++ {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		var done []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			var msg struct {
				Marker string `json:"marker"`
				Event  struct {
					Source    string          `json:"source"`
					Resources []string        `json:"resources"`
					Detail    json.RawMessage `json:"detail"`
				} `json:"event"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &msg); err != nil {
				t.Fatalf("message %.200s is not one of the test's events: %v", aws.ToString(m.Body), err)
			}
			ev := msg.Event
			n, err := strconv.Atoi(strings.TrimPrefix(msg.Marker, markerPrefix))
			if err != nil || n < 0 || n >= len(cases) || !slices.Equal(ev.Resources, []string{msg.Marker}) {
				t.Fatalf("message with marker %q, resources %v is not one of the test's events", msg.Marker, ev.Resources)
			}
			if got[n] {
				t.Errorf("%s delivered twice", cases[n].Source)
			}
			got[n] = true
			if !sameJSON(ev.Detail, []byte(aws.ToString(cases[n].entry.Detail))) || ev.Source != aws.ToString(cases[n].entry.Source) {
				t.Errorf("%s arrived altered: source %s, detail %.200s", cases[n].Source, ev.Source, ev.Detail)
			}
			done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := sq.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: done}); err != nil {
			t.Fatalf("DeleteMessageBatch: %v", err)
		}
	}
	if empty < 2 {
		t.Fatalf("the queue was still delivering after %d rounds", len(cases)/10+20)
	}
	return got
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// variants derives records from two samples so that each branch of the pattern is exercised on its own: the
// published-style samples set invokedBy, sourceIPAddress and userAgent together. Expectations still come from
// the engine (verdict), never from the pattern.
func variants(t *testing.T) []sample {
	t.Helper()
	type edit map[string]any // dotted path → value; nil deletes
	bases := map[string]string{
		"decrypt": "cloudtrail/kms-Decrypt-bedrock-service.json",
		"grant":   "cloudtrail/kms-CreateGrant-iamuser.json",
	}
	const bedrock, regional = "bedrock.amazonaws.com", "bedrock.eu-central-1.amazonaws.com"
	edits := []struct {
		name, base string
		edit       edit
	}{
		{"decrypt-only-invokedBy", "decrypt", edit{"sourceIPAddress": "AWS Internal", "userAgent": "AWS Internal"}},
		{"decrypt-only-sourceIPAddress", "decrypt", edit{"userIdentity.invokedBy": nil, "userAgent": "aws-sdk-go-v2/1.0"}},
		{"decrypt-only-userAgent", "decrypt", edit{"userIdentity.invokedBy": nil, "sourceIPAddress": "192.0.2.7"}},
		{"decrypt-regional", "decrypt", edit{"userIdentity.invokedBy": regional, "sourceIPAddress": regional, "userAgent": regional}},
		{"decrypt-not-bedrock", "decrypt", edit{"userIdentity.invokedBy": "ec2.amazonaws.com", "sourceIPAddress": "192.0.2.7", "userAgent": "aws-cli/2"}},
		{"decrypt-failed", "decrypt", edit{"errorCode": "AccessDeniedException", "errorMessage": "denied"}},
		{"encrypt-by-bedrock", "decrypt", edit{"eventName": "Encrypt"}},
		{"decrypt-other-service-source", "decrypt", edit{"eventSource": "bedrock.amazonaws.com"}},
		{"grant-granteeServicePrincipal", "grant", edit{"requestParameters.granteePrincipal": nil, "requestParameters.granteeServicePrincipal": bedrock}},
		{"grant-retiringServicePrincipal", "grant", edit{"requestParameters.retiringServicePrincipal": bedrock}},
		{"grant-retiringPrincipal-regional", "grant", edit{"requestParameters.retiringPrincipal": regional}},
		{"grant-granteePrincipal-regional", "grant", edit{"requestParameters.granteePrincipal": regional}},
		{"grant-datazone", "grant", edit{"requestParameters.granteePrincipal": nil, "requestParameters.granteeServicePrincipal": "datazone.us-east-2.amazonaws.com"}},
		{"grant-bedrock-caller-granting-iam-role", "grant", edit{"userIdentity.invokedBy": bedrock}},
	}
	var out []sample
	for _, e := range edits {
		data, err := os.ReadFile(eventsDir + "/" + bases[e.base])
		if err != nil {
			t.Fatalf("variant %s: %v", e.name, err)
		}
		var env map[string]any
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatalf("variant %s: %v", e.name, err)
		}
		rec, ok := env["detail"].(map[string]any)
		if !ok {
			t.Fatalf("variant %s: %s is not an EventBridge event", e.name, bases[e.base])
		}
		for path, v := range e.edit {
			node := rec
			keys := strings.Split(path, ".")
			for _, k := range keys[:len(keys)-1] {
				if node, ok = node[k].(map[string]any); !ok {
					t.Fatalf("variant %s: %s has no %s", e.name, bases[e.base], path)
				}
			}
			if v == nil {
				delete(node, keys[len(keys)-1])
			} else {
				node[keys[len(keys)-1]] = v
			}
		}
		raw, _ := json.Marshal(rec)
		r, err := trail.Decode(raw)
		out = append(out, sample{Source: "variant:" + e.name, Item: trail.Item{Source: "variant:" + e.name, Record: r, Err: err}, Raw: rawItem{Record: raw}})
	}
	return out
}
