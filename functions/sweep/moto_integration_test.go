//go:build integration

package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/handler"
)

// moto is what the sweep's integration tests deliver through: a fresh moto with a grant table and an SNS topic
// that a local HTTP subscriber is subscribed to.
type moto struct {
	ddb   *dynamodb.Client
	sns   *sns.Client
	topic string
	sub   *subscriber
}

func newMoto(t *testing.T, ctx context.Context, table string) moto {
	t.Helper()
	m := moto{ddb: testenv.Table(t, table), sns: sns.NewFromConfig(testenv.AWSConfig()), sub: &subscriber{}}
	topic, err := m.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(table + "-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.sub) // 127.0.0.1
	t.Cleanup(srv.Close)
	if _, err := m.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(srv.URL)}); err != nil {
		t.Fatal(err)
	}
	m.topic = aws.ToString(topic.TopicArn)
	return m
}

// feed hands every file matching the patterns to the ingest handler, as EventBridge would.
func feed(t *testing.T, ctx context.Context, h *handler.Ingest, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		if len(files) == 0 {
			t.Fatalf("no events at %s", p)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Handle(ctx, raw); err != nil {
				t.Fatalf("ingest %s: %v", f, err)
			}
		}
	}
}
