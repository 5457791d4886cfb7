//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/alert"
)

// subscribed is an SNS topic on moto with an SQS queue subscribed to it, the way a subscriber reads alerts.
type subscribed struct {
	topic, queueURL string
	sqs             *sqs.Client
}

func newSubscribed(t *testing.T, ctx context.Context) subscribed {
	t.Helper()
	cfg := testenv.AWSConfig()
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("grantwatch-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("alert-subscriber")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}); err != nil {
		t.Fatal(err)
	}
	return subscribed{topic: aws.ToString(topic.TopicArn), queueURL: aws.ToString(q.QueueUrl), sqs: sqsc}
}

// drain receives and deletes everything in the queue and returns the alert documents, one per message.
func (s subscribed) drain(t *testing.T, ctx context.Context) []alert.Document {
	t.Helper()
	var docs []alert.Document
	for {
		out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return docs
		}
		for _, m := range out.Messages {
			var n struct{ Type, Subject, Message string }
			var doc alert.Document
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil || n.Type != "Notification" || json.Unmarshal([]byte(n.Message), &doc) != nil {
				t.Fatalf("queue message %.300s is not an SNS notification carrying the alert document", aws.ToString(m.Body))
			}
			if !strings.HasSuffix(n.Subject, " #"+doc.NoticeID) || doc.NoticeID == "" {
				t.Errorf("subject %q does not end with the document's notice id %q", n.Subject, doc.NoticeID)
			}
			docs = append(docs, doc)
			if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func noticeIDs(docs []alert.Document) []string {
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.NoticeID)
	}
	slices.Sort(ids)
	return ids
}

var wouldSend = regexp.MustCompile(`(?m)^would send \[[A-Z]+\] .* #([0-9a-f]{16})$`)

// cliOn runs grantwatch in this process against a fresh moto.
func cliOn(t *testing.T, ctx context.Context) func(args ...string) (string, string, int) {
	t.Helper()
	testenv.Start(t)
	testenv.Reset(t)
	testenv.SetEnv(t)
	return func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}
}

// replayed creates table and replays scenarios 02 (a long-lived secondary, raised by replay's sweep) and 12 (two
// scope escalations, raised on ingest) into it: three alerts, recorded and never notified.
func replayed(t *testing.T, cli func(args ...string) (string, string, int), table string) {
	t.Helper()
	if out, errOut, code := cli("table", "create", "--table", table); code != 0 {
		t.Fatalf("table create = %d: %s %s", code, out, errOut)
	}
	if out, errOut, code := cli("replay", "--table", table, "--at", at, filepath.Join(scenarios, "02-long-lived-secondary"),
		filepath.Join(scenarios, "12-scope-escalation")); code != 0 {
		t.Fatalf("replay --table = %d: %s %s", code, out, errOut)
	}
}

// TestSweepDryRunThenDeliver: after `replay --table`, `sweep` without --topic prints the notices it would send and
// claims nothing (twice, the same); `sweep --topic` then delivers exactly those to the SQS subscriber, once each,
// under the ids the dry run printed; a further `sweep --topic` sends nothing.
func TestSweepDryRunThenDeliver(t *testing.T) {
	ctx := context.Background()
	cli := cliOn(t, ctx)
	sub := newSubscribed(t, ctx)
	replayed(t, cli, "sweep-dry")

	var dry [][]string
	for range 2 {
		out, errOut, code := cli("sweep", "--table", "sweep-dry", "--at", at)
		if code != 0 || !strings.Contains(out, "3 notices would be sent; nothing was written") {
			t.Fatalf("dry sweep = %d:\n%s\n%s", code, out, errOut)
		}
		var ids []string
		for _, m := range wouldSend.FindAllStringSubmatch(out, -1) {
			ids = append(ids, m[1])
		}
		slices.Sort(ids)
		dry = append(dry, ids)
	}
	if len(dry[0]) != 3 || !slices.Equal(dry[0], dry[1]) {
		t.Fatalf("dry runs printed %v then %v; want the same three notices", dry[0], dry[1])
	}
	if got := sub.drain(t, ctx); len(got) != 0 {
		t.Fatalf("the dry runs sent %d messages; want none", len(got))
	}

	out, errOut, code := cli("sweep", "--table", "sweep-dry", "--topic", sub.topic, "--at", at)
	if code != 0 || !strings.Contains(out, "3 notices sent") {
		t.Fatalf("sweep --topic = %d:\n%s\n%s", code, out, errOut)
	}
	if got := noticeIDs(sub.drain(t, ctx)); !slices.Equal(got, dry[0]) {
		t.Errorf("subscriber got notices %v; want exactly the dry run's %v, once each", got, dry[0])
	}
	out, _, code = cli("sweep", "--table", "sweep-dry", "--topic", sub.topic, "--at", at)
	if got := sub.drain(t, ctx); code != 0 || len(got) != 0 || !strings.Contains(out, "0 notices sent") {
		t.Errorf("second sweep --topic = %d, sent %d messages (%s); want none", code, len(got), out)
	}
}

// TestSweepGoesOnPastABadKey: one key's items cannot be read (an item of an unknown format in its working set).
// `sweep --topic` still sweeps and notifies every other key, names the key on stderr and exits 1; once the item is
// gone the next sweep delivers that key's notices too.
func TestSweepGoesOnPastABadKey(t *testing.T) {
	ctx := context.Background()
	cli := cliOn(t, ctx)
	sub := newSubscribed(t, ctx)
	replayed(t, cli, "sweep-bad")
	ddb := dynamodb.NewFromConfig(testenv.AWSConfig())
	bad := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-120000000001" // scenario 12's key
	item := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "KEY#" + bad},
		"sk": &ddbtypes.AttributeValueMemberS{Value: "GRANT#from-the-future"}, "fv": &ddbtypes.AttributeValueMemberN{Value: "99"},
		"gsi1pk": &ddbtypes.AttributeValueMemberS{Value: "ACTIVE"}, "gsi1sk": &ddbtypes.AttributeValueMemberS{Value: "W"}}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("sweep-bad"), Item: item}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := cli("sweep", "--table", "sweep-bad", "--topic", sub.topic, "--at", at)
	got := sub.drain(t, ctx)
	if code != exitRejected || !strings.Contains(errOut, bad) || !strings.Contains(errOut, "1 key(s) not swept") {
		t.Errorf("sweep with a bad key = %d; want 1 with the key on stderr:\n%s\n%s", code, out, errOut)
	}
	if len(got) != 1 || got[0].Type != "long-lived-secondary" || !strings.Contains(out, "swept 1 keys") {
		t.Errorf("sent %v (%s); want the other key swept and its one alert delivered", noticeIDs(got), out)
	}

	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("sweep-bad"),
		Key: map[string]ddbtypes.AttributeValue{"pk": item["pk"], "sk": item["sk"]}}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = cli("sweep", "--table", "sweep-bad", "--topic", sub.topic, "--at", at)
	got = sub.drain(t, ctx)
	if code != 0 || len(got) != 2 || got[0].Type != "scope-escalation" || got[1].Type != "scope-escalation" {
		t.Errorf("sweep after the fault = %d, sent %d (%s %s); want the key's two scope escalations", code, len(got), out, errOut)
	}
}
