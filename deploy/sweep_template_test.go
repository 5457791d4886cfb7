package deploy

import (
	"sort"
	"testing"
)

// TestSweepFunction checks issue 3's wiring: schedule, environment, exact permissions.
func TestSweepFunction(t *testing.T) {
	tpl := loadTemplate(t)
	p := props(t, at(t, tpl, "Resources", "SweepFunction").(map[string]any))
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
	wantEqual(t, "sweep permissions", got, map[string][]string{
		"GrantTable":        {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
		"TableFormat":       {"dynamodb:Scan"},
		"ActiveGrantsIndex": {"dynamodb:Query"},
		"AlertTopic":        {"sns:Publish"},
		"AlertTopicKey":     {"kms:Decrypt", "kms:GenerateDataKey"},
	})
}

// TestAlertTopicAndAlarms: the topic is encrypted, the e-mail subscription optional, and every alarm notifies it.
func TestAlertTopicAndAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	topic := props(t, at(t, tpl, "Resources", "AlertTopic").(map[string]any))
	if topic["KmsMasterKeyId"] == nil {
		t.Error("AlertTopic has no KmsMasterKeyId: it must be encrypted")
	}
	sub := at(t, tpl, "Resources", "AlertEmailSubscription").(map[string]any)
	wantEqual(t, "AlertEmailSubscription Condition", sub["Condition"], "HasAlertEmail")
	alarms := resources(t, tpl, "AWS::CloudWatch::Alarm")
	for _, want := range []string{"DeadLetterQueueAlarm", "IngestFunctionErrorsAlarm", "SweepFunctionErrorsAlarm"} {
		a, ok := alarms[want]
		if !ok {
			t.Errorf("alarm %s missing", want)
			continue
		}
		wantEqual(t, want+" AlarmActions", props(t, a)["AlarmActions"], []any{ref("AlertTopic")})
	}
}
