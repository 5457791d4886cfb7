package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// PublishAPI is the part of *sns.Client that SNS uses.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var (
	_ PublishAPI   = (*sns.Client)(nil)
	_ app.Notifier = (*SNS)(nil)
)

// SNS publishes notices to one topic.
//
// Each message uses MessageStructure "json": e-mail and SMS subscribers (and the default) get the text a person
// reads; sqs, lambda, http, https and firehose subscribers get the JSON Document (which repeats the text in its
// "text" field). MessageAttributes type, severity, notice, keyArn, account, accountName and region let
// subscriptions filter; noticeId (also in the subject and the document) lets subscribers drop a notice delivered
// twice.
type SNS struct {
	api   PublishAPI
	topic string
	names AccountNames
}

// NewSNS returns an SNS notifier for the topic ARN.
func NewSNS(api PublishAPI, topicARN string) *SNS { return &SNS{api: api, topic: topicARN} }

// WithAccountNames returns s naming accounts by names in its messages.
func (s *SNS) WithAccountNames(names AccountNames) *SNS {
	c := *s
	c.names = names
	return &c
}

// machineProtocols get the JSON document; every other protocol the text.
var machineProtocols = []string{"sqs", "lambda", "http", "https", "firehose"}

// Notify publishes one notice.
func (s *SNS) Notify(ctx context.Context, n lifecycle.Notice) error {
	m := s.names.Render(n)
	doc, err := m.JSON()
	if err != nil {
		return fmt.Errorf("alert: render %s %s: %w", n.Alert.Type, n.Alert.GrantID, err)
	}
	per := map[string]string{"default": m.Text, "email": m.Text, "sms": m.Subject}
	for _, p := range machineProtocols {
		per[p] = string(doc)
	}
	body, err := json.Marshal(per)
	if err != nil {
		return fmt.Errorf("alert: render %s %s: %w", n.Alert.Type, n.Alert.GrantID, err)
	}
	attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes))
	for k, v := range m.Attributes {
		if v == "" {
			continue // SNS rejects empty attribute values
		}
		attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	_, err = s.api.Publish(ctx, &sns.PublishInput{
		TopicArn:          aws.String(s.topic),
		Subject:           aws.String(m.Subject),
		Message:           aws.String(string(body)),
		MessageStructure:  aws.String("json"),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("alert: publish %s %s on %s: %w", n.Kind, n.Alert.Type, n.Alert.KeyARN, err)
	}
	return nil
}

var _ app.Notifier = Log{}

// Notify logs the notice: the delivery used when no topic is configured.
func (l Log) Notify(ctx context.Context, n lifecycle.Notice) error {
	l.Logger.WarnContext(ctx, "notice", "noticeId", n.ID(), "kind", string(n.Kind), "type", string(n.Alert.Type),
		"severity", string(n.Alert.Severity), "grantId", n.Alert.GrantID, "keyArn", n.Alert.KeyARN, "message", n.Alert.Message)
	return nil
}

var _ app.Notifier = Preview{}

// Preview writes one line per notice to W: "would send " and the message's subject (severity, type, grant, key,
// account, region, notice id), naming accounts by Names. A dry run delivers through it.
type Preview struct {
	W     io.Writer
	Names AccountNames
}

// Notify writes the line.
func (p Preview) Notify(_ context.Context, n lifecycle.Notice) error {
	_, err := fmt.Fprintln(p.W, "would send", p.Names.Render(n).Subject)
	return err
}
