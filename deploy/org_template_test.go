package deploy

// A whole organization: template.yaml's central event bus and the member accounts' deploy/member.yaml, checked
// against each other and against IngestFunction's rules, the one source of the event patterns.

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The names that tie the central stack's backfill and reconcile to the member accounts' read-only role: the
// member role trusts only central roles under centralRolePath, and the central roles may assume only the role at
// memberReaderPath + memberReaderName, in any account of the organization.
const (
	centralRolePath  = "/grantwatch/central/"
	memberReaderPath = "/grantwatch/"
	memberReaderName = "grantwatch-member-reader"
)

// patternSources maps each copy of an event pattern to the IngestFunction event it copies.
var patternSources = []struct{ file, rule, event string }{
	{templatePath, "CentralBusCloudTrailRule", "CloudTrail"},
	{templatePath, "CentralBusBedrockRule", "Bedrock"},
}

// samEvent returns IngestFunction's EventBridgeRule event name, as template.yaml declares it.
func samEvent(t *testing.T, tpl map[string]any, name string) map[string]any {
	t.Helper()
	ev := at(t, tpl, "Resources", "IngestFunction", "Properties", "Events", name).(map[string]any)
	wantEqual(t, name+" Type", ev["Type"], "EventBridgeRule")
	return ev["Properties"].(map[string]any)
}

// ruleState is the state SAM gives the rule of an EventBridgeRule event (ENABLED when it names none).
func ruleState(ev map[string]any) any {
	if s, ok := ev["State"]; ok {
		return s
	}
	return "ENABLED"
}

// TestPatternCopiesAreIdentical: CloudFormation cannot share a pattern between rules (YAML aliases are refused, and
// member.yaml is another template), so the central-bus and member rules copy IngestFunction's. Every rule with a
// pattern in either template must be such a copy, with the same pattern and state.
func TestPatternCopiesAreIdentical(t *testing.T) {
	tpl := loadTemplate(t)
	templates := map[string]map[string]any{templatePath: tpl}
	for file, doc := range templates {
		for id, r := range resources(t, doc, "AWS::Events::Rule") {
			if _, ok := props(t, r)["EventPattern"]; ok && !slices.ContainsFunc(patternSources, func(c struct{ file, rule, event string }) bool {
				return c.file == file && c.rule == id
			}) {
				t.Errorf("%s: rule %s has a pattern that copies no IngestFunction rule", file, id)
			}
		}
	}
	for _, c := range patternSources {
		src := samEvent(t, tpl, c.event)
		p := props(t, at(t, templates[c.file], "Resources", c.rule).(map[string]any))
		wantEqual(t, c.file+" "+c.rule+" EventPattern (IngestFunction's "+c.event+")", p["EventPattern"], src["Pattern"])
		wantEqual(t, c.file+" "+c.rule+" State", p["State"], ruleState(src))
	}
}

func TestOrganizationIdParameter(t *testing.T) {
	tpl := loadTemplate(t)
	p := at(t, tpl, "Parameters", "OrganizationId").(map[string]any)
	wantEqual(t, "OrganizationId Default", p["Default"], "")
	wantEqual(t, "IsOrganization", at(t, tpl, "Conditions", "IsOrganization"),
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("OrganizationId"), ""}}}})
	central := regexp.MustCompile(p["AllowedPattern"].(string))
	for _, id := range []string{"o-a1b2c3d4e5", "o-abcdefghijklmnopqrstuvwxyz012345"} {
		if !central.MatchString(id) {
			t.Errorf("OrganizationId patterns reject %q", id)
		}
	}
	for _, id := range []string{"o-a1b2", "O-A1B2C3D4E5", "123456789012", " o-a1b2c3d4e5", "o-a1b2c3d4e5 ", "r-a1b2"} {
		if central.MatchString(id) {
			t.Errorf("OrganizationId patterns admit %q", id)
		}
	}
	if !central.MatchString("") {
		t.Error("OrganizationId: empty must mean one account")
	}
}

// TestOrganizationResourcesAreConditional: a single-account stack (OrganizationId empty) is the stack it was.
func TestOrganizationResourcesAreConditional(t *testing.T) {
	tpl := loadTemplate(t)
	want := []string{"CentralBusBedrockRule", "CentralBusBedrockRulePermission", "CentralBusCloudTrailRule",
		"CentralBusCloudTrailRulePermission", "CentralEventBus", "CentralEventBusPolicy"}
	var got []string
	for id, r := range at(t, tpl, "Resources").(map[string]any) {
		if r.(map[string]any)["Condition"] == "IsOrganization" {
			got = append(got, id)
		}
	}
	slices.Sort(got)
	wantEqual(t, "resources with Condition IsOrganization", got, want)
	wantEqual(t, "CentralEventBusArn output Condition", at(t, tpl, "Outputs", "CentralEventBusArn", "Condition"), "IsOrganization")
	wantEqual(t, "CentralEventBusArn output", at(t, tpl, "Outputs", "CentralEventBusArn", "Value"), getAtt("CentralEventBus", "Arn"))
}

// TestCentralEventBusPolicy: PutEvents from the organization only, and only of the sources the rules read.
func TestCentralEventBusPolicy(t *testing.T) {
	tpl := loadTemplate(t)
	bus := props(t, at(t, tpl, "Resources", "CentralEventBus").(map[string]any))
	if name := fmt.Sprint(bus["Name"]); !strings.Contains(name, "${AWS::StackName}") {
		t.Errorf("CentralEventBus Name = %s; want one made from the stack name (bus names are per account and Region)", name)
	}
	if _, ok := bus["Policy"]; ok {
		t.Error("CentralEventBus has an inline Policy besides CentralEventBusPolicy")
	}
	pols := resources(t, tpl, "AWS::Events::EventBusPolicy")
	if len(pols) != 1 || pols["CentralEventBusPolicy"] == nil {
		t.Fatalf("event bus policies = %v; want CentralEventBusPolicy only", slices.Sorted(maps.Keys(pols)))
	}
	p := props(t, pols["CentralEventBusPolicy"])
	wantEqual(t, "policy EventBusName", p["EventBusName"], getAtt("CentralEventBus", "Name"))
	for _, legacy := range []string{"Action", "Principal", "Condition"} {
		if _, ok := p[legacy]; ok {
			t.Errorf("CentralEventBusPolicy sets %s beside Statement", legacy)
		}
	}
	st := p["Statement"].(map[string]any)
	cond := st["Condition"].(map[string]any)
	wantEqual(t, "bus policy statement", withoutKey(st, "Condition"), map[string]any{
		"Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": getAtt("CentralEventBus", "Arn"),
	})
	wantEqual(t, "bus policy condition keys", slices.Sorted(maps.Keys(cond)), []string{"ForAllValues:StringEquals", "StringEquals"})
	wantEqual(t, "bus policy organization", cond["StringEquals"], map[string]any{"aws:PrincipalOrgID": ref("OrganizationId")})
	var sources []string
	for _, ev := range []string{"CloudTrail", "Bedrock"} {
		sources = append(sources, stringsOf(samEvent(t, tpl, ev)["Pattern"].(map[string]any)["source"])...)
	}
	slices.Sort(sources)
	srcCond := cond["ForAllValues:StringEquals"].(map[string]any)
	wantEqual(t, "bus policy source condition keys", slices.Sorted(maps.Keys(srcCond)), []string{"events:source"})
	got := stringsOf(srcCond["events:source"])
	slices.Sort(got)
	wantEqual(t, "bus policy events:source (the rules' sources)", got, sources)
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := maps.Clone(m)
	delete(out, key)
	return out
}

// TestCentralBusRules: the central bus's rules deliver to IngestFunction as its own rules do: same retries, same
// dead-letter queue, and an invoke permission each, scoped to the rule.
func TestCentralBusRules(t *testing.T) {
	tpl := loadTemplate(t)
	onBus := map[string]bool{}
	for id, r := range resources(t, tpl, "AWS::Events::Rule") {
		if reflect.DeepEqual(props(t, r)["EventBusName"], getAtt("CentralEventBus", "Name")) {
			onBus[id] = true
		}
	}
	wantEqual(t, "rules on the central bus", slices.Sorted(maps.Keys(onBus)), []string{"CentralBusBedrockRule", "CentralBusCloudTrailRule"})
	perms := resources(t, tpl, "AWS::Lambda::Permission")
	for _, c := range patternSources {
		if c.file != templatePath {
			continue
		}
		src := samEvent(t, tpl, c.event)
		rule := at(t, tpl, "Resources", c.rule).(map[string]any)
		wantEqual(t, c.rule+" Condition", rule["Condition"], "IsOrganization")
		wantEqual(t, c.rule+" Targets", props(t, rule)["Targets"], []any{map[string]any{
			"Id": "IngestFunction", "Arn": getAtt("IngestFunction", "Arn"),
			"RetryPolicy": src["RetryPolicy"], "DeadLetterConfig": src["DeadLetterConfig"],
		}})
		perm, ok := perms[c.rule+"Permission"]
		if !ok {
			t.Errorf("no AWS::Lambda::Permission %sPermission: EventBridge could not invoke IngestFunction", c.rule)
			continue
		}
		wantEqual(t, c.rule+"Permission Condition", perm["Condition"], "IsOrganization")
		wantEqual(t, c.rule+"Permission", props(t, perm), map[string]any{
			"FunctionName": ref("IngestFunction"), "Action": "lambda:InvokeFunction",
			"Principal": "events.amazonaws.com", "SourceArn": getAtt(c.rule, "Arn"),
		})
	}
	if len(perms) != 2 {
		t.Errorf("Lambda permissions = %v; want the central-bus rules' two", slices.Sorted(maps.Keys(perms)))
	}
}

// deadLetterRules returns the logical ids of the rules whose targets dead-letter into DeadLetterQueue: SAM
// EventBridgeRule events (SAM names their rule FunctionId+EventName) and plain rules, the latter split by whether
// they exist only with OrganizationId. Both lists are sorted.
func deadLetterRules(t *testing.T, tpl map[string]any) (always, orgOnly []string) {
	t.Helper()
	dlq := map[string]any{"Arn": getAtt("DeadLetterQueue", "Arn")}
	for fn, r := range resources(t, tpl, "AWS::Serverless::Function") {
		events, _ := props(t, r)["Events"].(map[string]any)
		for name, e := range events {
			ev := e.(map[string]any)
			if ev["Type"] == "EventBridgeRule" && reflect.DeepEqual(ev["Properties"].(map[string]any)["DeadLetterConfig"], dlq) {
				always = append(always, fn+name)
			}
		}
	}
	for id, r := range resources(t, tpl, "AWS::Events::Rule") {
		targets, _ := props(t, r)["Targets"].([]any)
		if !slices.ContainsFunc(targets, func(tg any) bool { return reflect.DeepEqual(tg.(map[string]any)["DeadLetterConfig"], dlq) }) {
			continue
		}
		if r["Condition"] == "IsOrganization" {
			orgOnly = append(orgOnly, id)
		} else {
			always = append(always, id)
		}
	}
	slices.Sort(always)
	slices.Sort(orgOnly)
	return always, orgOnly
}

// ruleIDs returns the logical ids of a list of !GetAtt Rule.Arn, sorted.
func ruleIDs(t *testing.T, v any) []string {
	t.Helper()
	var out []string
	for _, a := range asList(t, "rule ARNs", v) {
		ga, _ := a.(map[string]any)["Fn::GetAtt"].([]any)
		if len(ga) != 2 || ga[1] != "Arn" {
			t.Errorf("%v is not !GetAtt <rule>.Arn", a)
			continue
		}
		out = append(out, ga[0].(string))
	}
	slices.Sort(out)
	return out
}

// TestCentralAssumesMemberReader: with OrganizationId, exactly BackfillFunction and ReconcileFunction may assume
// the member role, in the organization only; their roles are the only ones under the path members trust.
func TestCentralAssumesMemberReader(t *testing.T) {
	tpl := loadTemplate(t)
	want := map[string]any{"Fn::If": []any{"IsOrganization", map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid": "AssumeMemberReader", "Effect": "Allow", "Action": "sts:AssumeRole",
			"Resource":  map[string]any{"Fn::Sub": wildcardAllowList["sts:AssumeRole"]},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": ref("OrganizationId")}},
		}},
	}, ref("AWS::NoValue")}}
	for id, fn := range resources(t, tpl, "AWS::Serverless::Function") {
		p := props(t, fn)
		reads := id == "BackfillFunction" || id == "ReconcileFunction"
		if (p["RolePath"] == centralRolePath) != reads {
			t.Errorf("%s RolePath = %v; only BackfillFunction and ReconcileFunction may have %s, which member accounts trust", id, p["RolePath"], centralRolePath)
		}
		var assumes []any
		for _, pol := range asList(t, id+" Policies", p["Policies"]) {
			for _, doc := range ifBranches(pol) {
				sts, _ := doc.(map[string]any)["Statement"].([]any)
				for _, s := range sts {
					if slices.ContainsFunc(stringsOf(s.(map[string]any)["Action"]), func(a string) bool { return strings.HasPrefix(a, "sts:") }) {
						assumes = append(assumes, pol)
					}
				}
			}
		}
		if !reads {
			if len(assumes) > 0 {
				t.Errorf("%s may call STS: %v", id, assumes)
			}
			continue
		}
		wantEqual(t, id+" member reader policy", assumes, []any{want})
	}
}
