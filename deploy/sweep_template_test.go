package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestSweepFunction checks the sweep's wiring: schedule, environment, exact permissions.
func TestSweepFunction(t *testing.T) {
	tpl := loadTemplate(t)
	p := resourceProps(t, tpl, "SweepFunction")
	wantEqual(t, "SweepSchedule default", at(t, tpl, "Parameters", "SweepSchedule", "Default"), "rate(15 minutes)")
	ev := at(t, p, "Events", "Schedule").(map[string]any)
	wantEqual(t, "sweep event Type", ev["Type"], "Schedule")
	wantEqual(t, "sweep Schedule", at(t, ev, "Properties", "Schedule"), ref("SweepSchedule"))
	vars := at(t, p, "Environment", "Variables").(map[string]any)
	for name, want := range map[string]any{"TABLE_NAME": ref("Table"), "ALERT_TOPIC_ARN": ref("AlertTopic"),
		"SECONDARY_MAX_AGE": ref("SecondaryMaxAge"), "REMIND_INTERVAL": ref("RemindInterval"), "JOB_GRACE": ref("JobGrace")} {
		wantEqual(t, "sweep "+name, vars[name], want)
	}
	topicKey := map[string]any{"Fn::If": []any{"CreateAlertTopicKey", getAtt("AlertTopicKey", "Arn"), ref("AlertTopicKmsKeyArn")}}
	got := map[string][]string{}
	for _, pol := range p["Policies"].([]any) {
		for _, s := range asList(t, "Statement", pol.(map[string]any)["Statement"]) {
			st := s.(map[string]any)
			acts := stringsOf(st["Action"])
			sort.Strings(acts)
			switch st["Sid"] {
			case "GrantTable":
				wantEqual(t, "GrantTable Resource", st["Resource"], getAtt("Table", "Arn"))
			case "ActiveGrantsIndex":
				wantEqual(t, "ActiveGrantsIndex Resource", st["Resource"], map[string]any{"Fn::Sub": "${Table.Arn}/index/ActiveGrants"})
			case "AlertTopic":
				wantEqual(t, "AlertTopic Resource", st["Resource"], ref("AlertTopic"))
			case "AlertTopicKey":
				wantEqual(t, "AlertTopicKey Resource", st["Resource"], topicKey)
			case "TableFormat": // TestTableFormatScan checks it
			default:
				t.Errorf("unexpected sweep statement %v", st)
			}
			got[st["Sid"].(string)] = acts
		}
	}
	wantEqual(t, "sweep permissions", got, writerActions(map[string][]string{"ActiveGrantsIndex": {"dynamodb:Query"}}))
}

// TestAlertTopicAndAlarms: the topic is encrypted, the e-mail subscription optional, and every alarm notifies it.
func TestAlertTopicAndAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	topic := resourceProps(t, tpl, "AlertTopic")
	if topic["KmsMasterKeyId"] == nil {
		t.Error("AlertTopic has no KmsMasterKeyId: it must be encrypted")
	}
	sub := at(t, tpl, "Resources", "AlertEmailSubscription").(map[string]any)
	wantEqual(t, "AlertEmailSubscription Condition", sub["Condition"], "HasAlertEmail")
	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	for _, want := range []string{"DeadLetterQueueAlarm", "IngestFunctionErrorsAlarm", "SweepFunctionErrorsAlarm", "SweepKeysFailedAlarm", "NoticesPastLeaseAlarm"} {
		a, ok := alarms[want]
		if !ok {
			t.Errorf("alarm %s missing", want)
			continue
		}
		wantEqual(t, want+" AlarmActions", props(t, a)["AlarmActions"], []any{ref("AlertTopic")})
	}
	// The delivery alarms: any failed key, any notice found past its lease, in each 15-minute sweep period.
	for name, metric := range map[string]string{"SweepKeysFailedAlarm": "KeysFailed", "NoticesPastLeaseAlarm": "NoticesPastLease"} {
		p := props(t, alarms[name])
		for k, want := range map[string]any{"Namespace": "grantwatch", "MetricName": metric, "Threshold": 0, "Period": 900,
			"ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching"} {
			wantEqual(t, name+" "+k, p[k], want)
		}
	}
}

// TestAlarmsReadWrittenMetrics: every alarm on the grantwatch namespace names a metric a handler writes, so a
// renamed metric cannot leave an alarm watching nothing.
func TestAlarmsReadWrittenMetrics(t *testing.T) {
	tpl := loadTemplate(t)
	files, err := filepath.Glob(filepath.Join("..", "pkg", "handler", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("handler sources: %v", err)
	}
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	n := 0
	for name, a := range resources(t, tpl, "AWS::CloudWatch::Alarm") {
		p := props(t, a)
		if p["Namespace"] != "grantwatch" {
			continue
		}
		n++
		if metric, _ := p["MetricName"].(string); metric == "" || !strings.Contains(src.String(), `count("`+metric+`"`) {
			t.Errorf("alarm %s watches metric %v, which no handler writes", name, p["MetricName"])
		}
	}
	if n < 3 {
		t.Errorf("%d alarms on the grantwatch namespace; want KeysNotListed, KeysFailed and NoticesPastLease", n)
	}
}

// TestNoticeDeliveryPermissions: every function that publishes notices may write the items that confirm them (a
// conditional PutItem of one grant or usage item, after a GetItem or BatchGetItem) on the table, and needs nothing
// for its metrics: EMF goes to stdout, so no function may call CloudWatch or CloudWatch Logs itself.
func TestNoticeDeliveryPermissions(t *testing.T) {
	tpl := loadTemplate(t)
	publishers := 0
	for id, fn := range resources(t, tpl, "AWS::Serverless::Function") {
		tableActions := map[string]bool{}
		publishes := false
		for _, pol := range policyItems(t, props(t, fn)) {
			for _, s := range asList(t, "Statement", pol.(map[string]any)["Statement"]) {
				st := s.(map[string]any)
				for _, a := range stringsOf(st["Action"]) {
					if strings.HasPrefix(a, "cloudwatch:") || strings.HasPrefix(a, "logs:") {
						t.Errorf("%s may call %s; metrics are EMF on stdout and need no permission", id, a)
					}
					if a == "sns:Publish" {
						publishes = true
					}
					if reflect.DeepEqual(st["Resource"], getAtt("Table", "Arn")) {
						tableActions[a] = true
					}
				}
			}
		}
		if !publishes {
			continue
		}
		publishers++
		for _, need := range []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"} {
			if !tableActions[need] {
				t.Errorf("%s publishes notices but may not %s on the table: it could not confirm them", id, need)
			}
		}
		if tableActions["dynamodb:UpdateItem"] {
			t.Errorf("%s may UpdateItem; confirmations are conditional PutItems", id)
		}
	}
	if publishers != 4 {
		t.Errorf("%d functions publish notices; want ingest, sweep, backfill and reconcile", publishers)
	}
}
