//go:build integration

package main

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/lambdatest"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// function is the real IngestFunction binary, built by the Makefile target sam build runs (for the host's
// architecture, so that it runs here), and the emulator that runs it as Lambda does.
var function lambdatest.Function

func TestMain(m *testing.M) { os.Exit(lambdatest.Main(m, "IngestFunction", &function)) }

const (
	keyARN      = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-c00000000001"
	primaryID   = "c0014f2d1444c1e4ba17a75c4c9b30690becb350a19c1ec58c65ed1e1bf68709"
	secondaryID = "c0024ed6fd5b7b28975f248d6e63a980048b0e09c11836a5a4102259be86c52e"
	malformed   = `{"detail-type":"AWS API Call via CloudTrail","detail":"oops"}`
)

func sampleEvent(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(fixture.Path("events", "cloudtrail", name))
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	return data
}

// invokeLimit is how long one invocation may take, a store that does not answer included.
const invokeLimit = 45 * time.Second

// TestBootstrapIngests runs the built function against moto the way Lambda would call it from the rule.
func TestBootstrapIngests(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const table = "grantwatch-bootstrap"
	rt, api := lambdatest.OnTable(t, function, table, "SECONDARY_MAX_AGE=24h")

	before := time.Now().UTC()
	for _, in := range []struct {
		name    string
		payload []byte
	}{
		{"primary CreateGrant", sampleEvent(t, "kms-CreateGrant-bedrock-primary.json")},
		{"secondary CreateGrant", sampleEvent(t, "kms-CreateGrant-bedrock-secondary.json")},
		{"Bedrock service Decrypt", sampleEvent(t, "kms-Decrypt-bedrock-service.json")},
		{"RetireGrant of the secondary", sampleEvent(t, "kms-RetireGrant-bedrock-secondary.json")},
		{"RetireGrant redelivered", sampleEvent(t, "kms-RetireGrant-bedrock-secondary.json")},
		{"unrelated S3 event", sampleEvent(t, "s3-CreateBucket.json")},
		{"Bedrock's own event", sampleEvent(t, "bedrock-ModelCustomizationJobStateChange.json")},
		{"malformed detail", []byte(malformed)},
	} {
		if _, fnErr := rt.Call(t, in.payload, invokeLimit); fnErr != nil {
			t.Errorf("%s: function error %v; want success (only store failures are retried)", in.name, fnErr)
		}
	}
	after := time.Now().UTC()

	key, err := store.New(api, table).LoadKey(ctx, keyARN, lifecycle.Load{Scope: lifecycle.ScopeAll})
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	for _, want := range []struct {
		id     string
		kind   lifecycle.Kind
		state  lifecycle.State
		parent string
	}{
		{primaryID, lifecycle.Primary, lifecycle.Active, ""},
		{secondaryID, lifecycle.Secondary, lifecycle.Retired, primaryID},
	} {
		g, ok := key.Grants[want.id]
		if !ok {
			t.Errorf("grant %.12s… not stored; key holds %d grants", want.id, len(key.Grants))
			continue
		}
		if g.Kind != want.kind || g.State() != want.state || g.ParentID != want.parent {
			t.Errorf("grant %.12s… = %s %s parent %q; want %s %s parent %q", want.id, g.Kind, g.State(), g.ParentID,
				want.kind, want.state, want.parent)
		}
	}
	if len(key.Grants) != 2 {
		t.Errorf("key holds %d grants; want 2", len(key.Grants))
	}

	rejected := rejections(ctx, t, api, table, before, after)
	if len(rejected) != 1 {
		t.Fatalf("rejections = %d items; want 1, for the malformed event only", len(rejected))
	}
	if raw := attr(rejected[0], "raw"); raw != malformed {
		t.Errorf("rejection raw = %q; want the malformed event %q", raw, malformed)
	}
	if e := attr(rejected[0], "error"); e == "" {
		t.Error("rejection has no error text")
	}
}

// rejections queries REJECTED#<day> for every UTC day in [from, to].
func rejections(ctx context.Context, t *testing.T, api *dynamodb.Client, table string, from, to time.Time) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	for day := from.Truncate(24 * time.Hour); !day.After(to); day = day.Add(24 * time.Hour) {
		out, err := api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(table),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "REJECTED#" + day.Format(time.DateOnly)}},
		})
		if err != nil {
			t.Fatalf("Query rejections: %v", err)
		}
		items = append(items, out.Items...)
	}
	return items
}

func attr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// TestBootstrapStoreFailureIsRetried: when the store is unreachable the invocation fails, so Lambda retries it
// (then the on-failure destination); events that need no store still succeed.
func TestBootstrapStoreFailureIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close() // nothing listens here any more: connection refused
	rt := lambdatest.Start(t, function, append(testenv.EnvAt(closed), "TABLE_NAME=grantwatch-unreachable", "AWS_MAX_ATTEMPTS=1"))

	if _, fnErr := rt.Call(t, sampleEvent(t, "kms-CreateGrant-bedrock-primary.json"), invokeLimit); fnErr == nil {
		t.Error("Bedrock CreateGrant with the store down: invocation succeeded; want a function error so Lambda retries")
	} else if !strings.Contains(fnErr.Message, "connection refused") && !strings.Contains(fnErr.Message, "connect") {
		t.Errorf("function error = %v; want the store's connection failure", fnErr)
	}
	if _, fnErr := rt.Call(t, []byte(malformed), invokeLimit); fnErr == nil {
		t.Error("malformed event with the store down: invocation succeeded; want an error, the rejection was not recorded")
	}
	if _, fnErr := rt.Call(t, sampleEvent(t, "s3-CreateBucket.json"), invokeLimit); fnErr != nil {
		t.Errorf("unrelated event with the store down: function error %v; want success (it needs no store)", fnErr)
	}
}

// TestBootstrapNeedsTableName: without TABLE_NAME the function fails at init instead of running half-configured.
func TestBootstrapNeedsTableName(t *testing.T) {
	rt := lambdatest.OnMoto(t, function)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, fnErr, err := rt.Invoke(ctx, sampleEvent(t, "kms-CreateGrant-bedrock-primary.json"))
	if err == nil || fnErr != nil {
		t.Fatalf("invoke without TABLE_NAME = fnErr %v, err %v; want the process to exit at init", fnErr, err)
	}
	if !strings.Contains(rt.Logs(), "TABLE_NAME") {
		t.Errorf("init failure log does not name TABLE_NAME:\n%s", rt.Logs())
	}
}
