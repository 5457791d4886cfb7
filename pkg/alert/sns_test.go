package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

type publishFunc func(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)

func (f publishFunc) Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return f(ctx, in, optFns...)
}

const (
	keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	topic  = "arn:aws:sns:us-east-1:111122223333:grantwatch-alerts"
	grant  = "0f7a4b3c9e1d2f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
)

var t0 = time.Date(2024, 5, 30, 12, 0, 0, 0, time.UTC)

func secondary() lifecycle.Grant {
	return lifecycle.Grant{ID: grant, KeyARN: keyARN, Kind: lifecycle.Secondary, CreatedAt: t0, CreateEventID: "e1",
		Grantee: "bedrock.amazonaws.com", RetiringPrincipal: "bedrock.amazonaws.com", Operations: []string{"Decrypt"},
		ConstraintKeys: []string{"aws:bedrock:job-arn"},
		History:        []lifecycle.HistoryEntry{{EventID: "e1", Name: "CreateGrant", Time: t0, Caller: "AWSService/bedrock.amazonaws.com"}}}
}

func notice(kind lifecycle.NoticeKind) lifecycle.Notice {
	g := secondary()
	a := lifecycle.Alert{Type: lifecycle.LongLivedSecondary, Severity: lifecycle.High, GrantID: grant, KeyARN: keyARN,
		Message: "secondary grant has been active for 25h0m0s", RaisedAt: t0.Add(25 * time.Hour), NotifiedAt: t0.Add(25 * time.Hour)}
	if kind == lifecycle.NoticeResolved {
		g.EndedAt, g.EndedBy = t0.Add(31*time.Hour), lifecycle.RetireGrant
		a.ResolvedAt, a.Resolution = g.EndedAt, "retired after 31h0m0s"
	}
	g.Alerts = []lifecycle.Alert{a}
	return lifecycle.Notice{Kind: kind, Alert: a, Grant: g, At: t0.Add(25 * time.Hour)}
}

func TestNotifyPublishes(t *testing.T) {
	tests := []struct {
		name        string
		kind        lifecycle.NoticeKind
		subject     string
		textHas     []string
		textHasNot  []string
		wantCommand string
	}{
		{name: "alert", kind: lifecycle.NoticeAlert, subject: "[HIGH] long-lived-secondary grant 0f7a4b3c key 1234abcd 111122223333 us-east-1 #" + notice(lifecycle.NoticeAlert).ID(),
			textHas:     []string{"What happened", "Why it matters", "Timeline (UTC)", "2024-05-30 12:00:00Z  CreateGrant by AWSService/bedrock.amazonaws.com", "grantwatch history " + grant, "encryption context keys: aws:bedrock:job-arn"},
			wantCommand: "aws kms revoke-grant --key-id " + keyARN + " --grant-id " + grant},
		{name: "resolved", kind: lifecycle.NoticeResolved, subject: "[RESOLVED] long-lived-secondary grant 0f7a4b3c key 1234abcd 111122223333 us-east-1 #" + notice(lifecycle.NoticeResolved).ID(),
			textHas: []string{"RESOLVED: long-lived-secondary on grant " + grant + ": retired after 31h0m0s."}, textHasNot: []string{"What to do"}},
		// 100 characters with the Region: it goes whole, the account stays.
		{name: "reminder", kind: lifecycle.NoticeReminder, subject: "[HIGH] REMINDER long-lived-secondary grant 0f7a4b3c key 1234abcd 111122223333 #" + notice(lifecycle.NoticeReminder).ID(),
			textHas: []string{"REMINDER (HIGH)", "What to do"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *sns.PublishInput
			n := alert.NewSNS(publishFunc(func(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
				got = in
				return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
			}), topic)
			if err := n.Notify(context.Background(), notice(tt.kind)); err != nil {
				t.Fatalf("Notify() error = %v", err)
			}
			if s := aws.ToString(got.Subject); s != tt.subject || len(s) > alert.MaxSubject {
				t.Errorf("Subject = %q (%d chars); want %q", s, len(s), tt.subject)
			}
			if aws.ToString(got.MessageStructure) != "json" {
				t.Errorf("MessageStructure = %q; want json", aws.ToString(got.MessageStructure))
			}
			var per map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(got.Message)), &per); err != nil {
				t.Fatalf("Message is not per-protocol JSON: %v", err)
			}
			text := per["default"]
			for _, want := range append(tt.textHas, tt.wantCommand) {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
			for _, not := range tt.textHasNot {
				if strings.Contains(text, not) {
					t.Errorf("text has %q:\n%s", not, text)
				}
			}
			var doc alert.Document
			if err := json.Unmarshal([]byte(per["sqs"]), &doc); err != nil {
				t.Fatalf("sqs message is not the JSON document: %v", err)
			}
			id := notice(tt.kind).ID()
			if doc.Notice != string(tt.kind) || doc.NoticeID != id || doc.GrantID != grant || doc.Account != "111122223333" || doc.Region != "us-east-1" || doc.Text != text {
				t.Errorf("document = %+v; want notice %s %s for grant %s in 111122223333/us-east-1 with the text", doc, tt.kind, id, grant)
			}
			for k, want := range map[string]string{"type": "long-lived-secondary", "severity": "high", "keyArn": keyARN,
				"account": "111122223333", "region": "us-east-1", "notice": string(tt.kind), "noticeId": id} {
				if v := got.MessageAttributes[k]; aws.ToString(v.StringValue) != want || aws.ToString(v.DataType) != "String" {
					t.Errorf("MessageAttributes[%s] = %v/%v; want String %q", k, aws.ToString(v.DataType), aws.ToString(v.StringValue), want)
				}
			}
		})
	}
}

// TestAccountNames: a configured name is in the subject instead of the id (cut to fit), and beside the id in the
// text, the document and the attributes; an account without a name is named by its id alone.
func TestAccountNames(t *testing.T) {
	var got *sns.PublishInput
	api := publishFunc(func(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
		got = in
		return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
	})
	n := notice(lifecycle.NoticeAlert)
	s := alert.NewSNS(api, topic).WithAccountNames(alert.AccountNames{"111122223333": "prod-ml", "444455556666": "other"})
	if err := s.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if want := "[HIGH] long-lived-secondary grant 0f7a4b3c key 1234abcd prod-ml us-east-1 #" + n.ID(); aws.ToString(got.Subject) != want {
		t.Errorf("Subject = %q; want %q", aws.ToString(got.Subject), want)
	}
	var per map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(got.Message)), &per); err != nil {
		t.Fatal(err)
	}
	var doc alert.Document
	if err := json.Unmarshal([]byte(per["sqs"]), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(per["email"], "account: 111122223333 (prod-ml)  region: us-east-1") || doc.Account != "111122223333" || doc.AccountName != "prod-ml" ||
		aws.ToString(got.MessageAttributes["accountName"].StringValue) != "prod-ml" {
		t.Errorf("text, document or attributes do not name the account prod-ml:\n%s\n%+v\n%v", per["email"], doc, got.MessageAttributes)
	}
	long := alert.AccountNames{"111122223333": "machine-learning-production-eu"}.Render(n)
	if !strings.HasSuffix(long.Subject, " machine-learning-product #"+n.ID()) || long.Document.AccountName != "machine-learning-production-eu" {
		t.Errorf("long name: subject %q, document %q; want the name cut to 24 in the subject only (the Region left out to fit)", long.Subject, long.Document.AccountName)
	}
	if _, ok := alert.Render(n).Attributes["accountName"]; ok && alert.Render(n).Attributes["accountName"] != "" {
		t.Errorf("no names: accountName attribute %q", alert.Render(n).Attributes["accountName"])
	}
	if err := alert.NewSNS(api, topic).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.MessageAttributes["accountName"]; ok {
		t.Errorf("an account without a name has an accountName attribute: %v", got.MessageAttributes["accountName"])
	}
}

func TestSubjectFitsSNS(t *testing.T) {
	n := notice(lifecycle.NoticeReminder)
	n.Alert.Type = lifecycle.AlertType(strings.Repeat("x", 120) + "\n\u00e9")
	m := alert.Render(n)
	if len(m.Subject) > alert.MaxSubject || strings.ContainsAny(m.Subject, "\n\u00e9") {
		t.Errorf("Subject = %q (%d chars); want at most %d printable ASCII characters", m.Subject, len(m.Subject), alert.MaxSubject)
	}
	if !strings.HasSuffix(m.Subject, " #"+n.ID()) {
		t.Errorf("Subject = %q; want the notice id %s kept whole at its end", m.Subject, n.ID())
	}
}

func TestRemediationPerType(t *testing.T) {
	retireAs := "arn:aws:iam::111122223333:role/ops"
	tests := []struct {
		name   string
		edit   func(*lifecycle.Notice)
		prefix string
	}{
		{"bedrock retires: key admin revokes", func(*lifecycle.Notice) {}, "aws kms revoke-grant"},
		{"customer retiring principal retires", func(n *lifecycle.Notice) { n.Grant.RetiringPrincipal = retireAs }, "aws kms retire-grant"},
		{"key-level alert lists grants", func(n *lifecycle.Notice) { n.Alert.GrantID = ""; n.Grant = lifecycle.Grant{} }, "aws kms list-grants"},
		{"a primary warns", func(n *lifecycle.Notice) { n.Grant.Kind = lifecycle.Primary }, "aws kms revoke-grant"},
		{"grant quota frees grants", func(n *lifecycle.Notice) {
			n.Alert.Type, n.Alert.GrantID, n.Grant = lifecycle.GrantQuota, "", lifecycle.Grant{}
		}, "aws kms list-grants --key-id " + keyARN + "   # then retire or revoke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := notice(lifecycle.NoticeAlert)
			tt.edit(&n)
			if got := alert.Render(n).Document.Remediation; !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("Remediation = %q; want prefix %q", got, tt.prefix)
			}
		})
	}
}

func TestNotifyReturnsPublishErrors(t *testing.T) {
	n := alert.NewSNS(publishFunc(func(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
		return nil, errors.New("throttled")
	}), topic)
	if err := n.Notify(context.Background(), notice(lifecycle.NoticeAlert)); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("Notify() error = %v; want the publish error", err)
	}
}

// TestNotifyOverAWSQuery speaks SNS's awsquery protocol to the real client (toolchain.md §5).
func TestNotifyOverAWSQuery(t *testing.T) {
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(body))
		if form.Get("Action") != "Publish" {
			w.WriteHeader(400)
			io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>no</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`)
	}))
	defer srv.Close()
	client := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if err := alert.NewSNS(client, topic).Notify(context.Background(), notice(lifecycle.NoticeAlert)); err != nil {
		t.Fatalf("Notify() error = %v", err)
	}
	attrs := map[string]string{}
	for i := 1; form.Get("MessageAttributes.entry."+strconv.Itoa(i)+".Name") != ""; i++ {
		p := "MessageAttributes.entry." + strconv.Itoa(i)
		attrs[form.Get(p+".Name")] = form.Get(p + ".Value.StringValue")
	}
	if form.Get("TopicArn") != topic || form.Get("MessageStructure") != "json" || attrs["severity"] != "high" || attrs["keyArn"] != keyARN {
		t.Errorf("form TopicArn=%q MessageStructure=%q attributes=%v; want the topic, json, severity high and the key", form.Get("TopicArn"), form.Get("MessageStructure"), attrs)
	}
}
