package deploy

// A whole organization: template.yaml's central event bus and the member accounts' deploy/member.yaml, checked
// against each other and against IngestFunction's rules, the one source of the event patterns.

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/env"
	"github.com/grantwatch/grantwatch/pkg/org"
)

// patternSources maps each copy of an event pattern to the IngestFunction event it copies.
var patternSources = []struct{ file, rule, event string }{
	{templatePath, "CentralBusCloudTrailRule", "CloudTrail"},
	{templatePath, "CentralBusBedrockRule", "Bedrock"},
	{memberPath, "ForwardCloudTrailRule", "CloudTrail"},
	{memberPath, "ForwardBedrockRule", "Bedrock"},
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
	templates := map[string]map[string]any{templatePath: tpl, memberPath: loadMember(t)}
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

// TestPatternCopyCheckCatches breaks one copy by hand, so that TestPatternCopiesAreIdentical is known to fail then.
func TestPatternCopyCheckCatches(t *testing.T) {
	tpl := loadTemplate(t)
	src := samEvent(t, tpl, "CloudTrail")["Pattern"].(map[string]any)
	copied := props(t, at(t, loadMember(t), "Resources", "ForwardCloudTrailRule").(map[string]any))["EventPattern"].(map[string]any)
	if !reflect.DeepEqual(copied, src) {
		t.Fatal("member.yaml's CloudTrail pattern already differs")
	}
	at(t, copied, "detail").(map[string]any)["$or"].([]any)[0].(map[string]any)["eventName"] = []any{"RetireGrant"}
	if reflect.DeepEqual(copied, src) {
		t.Error("dropping RevokeGrant from a copy left it equal to IngestFunction's pattern")
	}
}

func TestOrganizationIdParameter(t *testing.T) {
	tpl := loadTemplate(t)
	p := at(t, tpl, "Parameters", "OrganizationId").(map[string]any)
	wantEqual(t, "OrganizationId Default", p["Default"], "")
	wantEqual(t, "IsOrganization", at(t, tpl, "Conditions", "IsOrganization"),
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("OrganizationId"), ""}}}})
	member := at(t, loadMember(t), "Parameters", "OrganizationId").(map[string]any)
	if _, ok := member["Default"]; ok {
		t.Error("member.yaml OrganizationId has a Default; the read-only role's trust needs the organization")
	}
	central := regexp.MustCompile(p["AllowedPattern"].(string))
	required := regexp.MustCompile(member["AllowedPattern"].(string))
	for _, id := range []string{"o-a1b2c3d4e5", "o-abcdefghijklmnopqrstuvwxyz012345"} {
		if !central.MatchString(id) || !required.MatchString(id) {
			t.Errorf("OrganizationId patterns reject %q", id)
		}
	}
	for _, id := range []string{"o-a1b2", "O-A1B2C3D4E5", "123456789012", " o-a1b2c3d4e5", "o-a1b2c3d4e5 ", "r-a1b2"} {
		if central.MatchString(id) || required.MatchString(id) {
			t.Errorf("OrganizationId patterns admit %q", id)
		}
	}
	if !central.MatchString("") || required.MatchString("") {
		t.Error("OrganizationId: empty must mean one account in template.yaml and be refused by member.yaml")
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
	bus := resourceProps(t, tpl, "CentralEventBus")
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
		if (p["RolePath"] == org.CentralRolePath) != reads {
			t.Errorf("%s RolePath = %v; only BackfillFunction and ReconcileFunction may have %s, which member accounts trust", id, p["RolePath"], org.CentralRolePath)
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
	// The member role is where the central roles look for it, and trusts those roles.
	reader := props(t, at(t, loadMember(t), "Resources", "ReaderRole").(map[string]any))
	wantEqual(t, "member ReaderRole Path", reader["Path"], org.MemberRolePath)
	wantEqual(t, "member ReaderRole RoleName", reader["RoleName"], org.MemberRoleName)
	principal := at(t, reader, "AssumeRolePolicyDocument", "Statement").([]any)[0].(map[string]any)
	wantEqual(t, "member ReaderRole aws:PrincipalArn", at(t, principal, "Condition", "ArnLike", "aws:PrincipalArn"), centralSub(
		"arn:${AWS::Partition}:iam::${CentralAccount}:role"+org.CentralRolePath+"*"))
}

// centralSub is member.yaml's !Sub of s with CentralAccount taken from CentralEventBusArn.
func centralSub(s string) map[string]any {
	return map[string]any{"Fn::Sub": []any{s, map[string]any{"CentralAccount": map[string]any{
		"Fn::Select": []any{4, map[string]any{"Fn::Split": []any{":", ref("CentralEventBusArn")}}}}}}}
}

// TestMemberParameters: StackSets give every stack instance the same parameters, so none may name an account.
func TestMemberParameters(t *testing.T) {
	tpl := loadMember(t)
	params := at(t, tpl, "Parameters").(map[string]any)
	wantEqual(t, "member.yaml parameters", slices.Sorted(maps.Keys(params)), []string{"CentralEventBusArn", "KeyAliasPattern", "OrganizationId"})
	bus := regexp.MustCompile(at(t, params, "CentralEventBusArn", "AllowedPattern").(string))
	for _, arn := range []string{"arn:aws:events:us-east-1:111122223333:event-bus/grantwatch-org",
		"arn:aws-us-gov:events:us-gov-west-1:111122223333:event-bus/gw.prod_1-org"} {
		if !bus.MatchString(arn) {
			t.Errorf("CentralEventBusArn pattern rejects %s", arn)
		}
	}
	for _, arn := range []string{"", "grantwatch-org", "arn:aws:events:us-east-1:111122223333:rule/grantwatch-org",
		"arn:aws:events:us-east-1:1111:event-bus/grantwatch-org", "arn:aws:sqs:us-east-1:111122223333:event-bus/x"} {
		if bus.MatchString(arn) {
			t.Errorf("CentralEventBusArn pattern admits %q", arn)
		}
	}
	alias := at(t, params, "KeyAliasPattern").(map[string]any)
	wantEqual(t, "KeyAliasPattern Default", alias["Default"], "")
	re := regexp.MustCompile(alias["AllowedPattern"].(string))
	for _, s := range []string{"", "alias/bedrock-*", "alias/team/ml?-prod"} {
		if !re.MatchString(s) {
			t.Errorf("KeyAliasPattern rejects %q", s)
		}
	}
	for _, s := range []string{"bedrock-*", "alias/a b", "alias/", "*"} {
		if re.MatchString(s) {
			t.Errorf("KeyAliasPattern admits %q", s)
		}
	}
}

// TestMemberForwarding: each rule sits on the member's default bus (CloudTrail's only) and puts what it matches
// on the central bus through ForwardRole, which may do that and nothing else.
func TestMemberForwarding(t *testing.T) {
	tpl := loadMember(t)
	for _, id := range []string{"ForwardCloudTrailRule", "ForwardBedrockRule"} {
		r := at(t, tpl, "Resources", id).(map[string]any)
		wantEqual(t, id+" Condition", r["Condition"], "Forwards")
		p := props(t, r)
		if _, ok := p["EventBusName"]; ok {
			t.Errorf("%s names a bus; CloudTrail events reach the default bus only", id)
		}
		wantEqual(t, id+" Targets", p["Targets"], []any{map[string]any{
			"Id": "CentralEventBus", "Arn": ref("CentralEventBusArn"), "RoleArn": getAtt("ForwardRole", "Arn"),
		}})
	}
	role := at(t, tpl, "Resources", "ForwardRole").(map[string]any)
	wantEqual(t, "ForwardRole Condition", role["Condition"], "Forwards")
	p := props(t, role)
	wantEqual(t, "ForwardRole properties", slices.Sorted(maps.Keys(p)), []string{"AssumeRolePolicyDocument", "Description", "Policies"})
	wantEqual(t, "ForwardRole trust", p["AssumeRolePolicyDocument"], map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")}},
	}}})
	wantEqual(t, "ForwardRole policies", p["Policies"], []any{map[string]any{"PolicyName": "grantwatch-forward", "PolicyDocument": map[string]any{
		"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Sid": "PutEventsOnCentralBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": ref("CentralEventBusArn"),
		}},
	}}})
}

// TestMemberReaderRole: one role per account (IAM is global), read-only, trusted by the central account's backfill
// and reconcile roles of the organization only.
func TestMemberReaderRole(t *testing.T) {
	tpl := loadMember(t)
	r := at(t, tpl, "Resources", "ReaderRole").(map[string]any)
	wantEqual(t, "ReaderRole Condition", r["Condition"], "CreatesReader")
	p := props(t, r)
	wantEqual(t, "ReaderRole properties", slices.Sorted(maps.Keys(p)),
		[]string{"AssumeRolePolicyDocument", "Description", "MaxSessionDuration", "Path", "Policies", "RoleName"})
	wantEqual(t, "ReaderRole MaxSessionDuration", p["MaxSessionDuration"], 3600)
	wantEqual(t, "ReaderRole trust", p["AssumeRolePolicyDocument"], map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"AWS": centralSub("arn:${AWS::Partition}:iam::${CentralAccount}:root")},
		"Action":    "sts:AssumeRole",
		"Condition": map[string]any{
			"ArnLike":      map[string]any{"aws:PrincipalArn": centralSub("arn:${AWS::Partition}:iam::${CentralAccount}:role" + org.CentralRolePath + "*")},
			"StringEquals": map[string]any{"aws:PrincipalOrgID": ref("OrganizationId")},
		},
	}}})
	callerAccount := map[string]any{"kms:CallerAccount": ref("AWS::AccountId")}
	wantEqual(t, "ReaderRole policies", p["Policies"], []any{map[string]any{"PolicyName": "grantwatch-read", "PolicyDocument": map[string]any{
		"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Sid": "CloudTrailLookup", "Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"},
			map[string]any{"Sid": "KmsListGrants", "Effect": "Allow", "Action": "kms:ListGrants",
				"Resource": map[string]any{"Fn::Sub": wildcardAllowList["kms:ListGrants"]},
				"Condition": map[string]any{"Fn::If": []any{"HasKeyAliasPattern",
					map[string]any{"StringEquals": callerAccount, "ForAnyValue:StringLike": map[string]any{"kms:ResourceAliases": ref("KeyAliasPattern")}},
					map[string]any{"StringEquals": callerAccount}}}},
		},
	}}})
}

// TestMemberLeastPrivilege: member.yaml creates rules and roles only (and the placeholder an otherwise empty stack
// needs); every role's statements pass the main template's checks, with the same wildcard allow-list, and no role
// attaches a managed policy or trusts everyone.
func TestMemberLeastPrivilege(t *testing.T) {
	tpl := loadMember(t)
	allowed := []string{"AWS::CloudFormation::WaitConditionHandle", "AWS::Events::Rule", "AWS::IAM::Role"}
	roles := 0
	for id, res := range at(t, tpl, "Resources").(map[string]any) {
		r := res.(map[string]any)
		if !slices.Contains(allowed, fmt.Sprint(r["Type"])) {
			t.Errorf("member.yaml %s is a %v; want only %v", id, r["Type"], allowed)
		}
		if r["Type"] != "AWS::IAM::Role" {
			continue
		}
		roles++
		p := props(t, r)
		for _, k := range []string{"ManagedPolicyArns", "PermissionsBoundary"} {
			if _, ok := p[k]; ok {
				t.Errorf("role %s sets %s", id, k)
			}
		}
		for _, s := range asList(t, id+" trust", at(t, p, "AssumeRolePolicyDocument", "Statement")) {
			st := s.(map[string]any)
			if pr := st["Principal"]; pr == "*" || reflect.DeepEqual(pr, map[string]any{"AWS": "*"}) || st["Condition"] == nil {
				t.Errorf("role %s trusts %v without a condition on who", id, pr)
			}
		}
		for i, pol := range asList(t, id+" Policies", p["Policies"]) {
			for j, s := range asList(t, "Statement", at(t, pol, "PolicyDocument", "Statement")) {
				checkStatement(t, fmt.Sprintf("member %s Policies[%d].Statement[%d]", id, i, j), s.(map[string]any))
			}
		}
	}
	if roles != 2 {
		t.Errorf("member.yaml has %d roles; want ForwardRole and ReaderRole", roles)
	}
}

// TestLeastPrivilegeCatchesWidenedReader widens the reader role's statements by hand: each must fail the check.
func TestLeastPrivilegeCatchesWidenedReader(t *testing.T) {
	sts := at(t, loadMember(t), "Resources", "ReaderRole", "Properties", "Policies").([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
	listGrants := sts[1].(map[string]any)
	if p := statementProblems(listGrants); len(p) != 0 {
		t.Fatalf("the reader role's ListGrants statement already fails: %v", p)
	}
	for name, widened := range map[string]map[string]any{
		"ListGrants on every key":                 {"Resource": "*"},
		"ListGrants without the account":          {"Condition": nil},
		"ListGrants with an alias pattern only":   {"Condition": map[string]any{"ForAnyValue:StringLike": map[string]any{"kms:ResourceAliases": "alias/*"}}},
		"every KMS read on the account's keys":    {"Action": "kms:List*"},
		"ListGrants and Decrypt":                  {"Action": []any{"kms:ListGrants", "kms:Decrypt"}},
		"everything but ListGrants, on every key": {"Action": nil, "NotAction": "kms:ListGrants"},
	} {
		st := maps.Clone(listGrants)
		for k, v := range widened {
			if v == nil {
				delete(st, k)
			} else {
				st[k] = v
			}
		}
		if len(statementProblems(st)) == 0 {
			t.Errorf("%s: the least-privilege check accepts it", name)
		}
	}
}

// TestLintCoversBothTemplates: make lint (run by make test and CI) lints both templates with cfn-lint.
func TestLintCoversBothTemplates(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	target := regexp.MustCompile(`(?m)^lint:[^\n]*\n((?:\t[^\n]*\n)*)`).FindSubmatch(makefile)
	if target == nil {
		t.Fatal("Makefile has no lint target")
	}
	if !regexp.MustCompile(`(?m)^\tcfn-lint template\.yaml deploy/member\.yaml$`).Match(target[1]) {
		t.Errorf("make lint does not run cfn-lint template.yaml deploy/member.yaml:\n%s", target[1])
	}
}

// TestOrganizationParameters: the member set and the account names reach exactly the functions that use them, and
// whatever their patterns admit, pkg/env accepts, so a deploy cannot break a cold start (pkg/env is more lenient:
// it ignores blanks around values and empty ones).
func TestOrganizationParameters(t *testing.T) {
	tpl := loadTemplate(t)
	for id, fn := range resources(t, tpl, "AWS::Serverless::Function") {
		vars := at(t, props(t, fn), "Environment", "Variables").(map[string]any)
		publishes := vars["ALERT_TOPIC_ARN"] != nil
		reads := id == "BackfillFunction" || id == "ReconcileFunction"
		for name, want := range map[string]bool{"ACCOUNT_NAMES": publishes, "MEMBER_ACCOUNT_IDS": reads, "MEMBER_REGIONS": reads} {
			if _, has := vars[name]; has != want {
				t.Errorf("%s has %s: %v; want %v", id, name, has, want)
			}
		}
		if publishes {
			wantEqual(t, id+" ACCOUNT_NAMES", vars["ACCOUNT_NAMES"], ref("AccountNames"))
		}
		if reads {
			wantEqual(t, id+" MEMBER_ACCOUNT_IDS", vars["MEMBER_ACCOUNT_IDS"], ref("MemberAccountIds"))
			wantEqual(t, id+" MEMBER_REGIONS", vars["MEMBER_REGIONS"], ref("MemberRegions"))
		}
	}
	for _, c := range []struct {
		param, env string
		good, bad  []string
	}{
		{"MemberAccountIds", "MEMBER_ACCOUNT_IDS", []string{"", "111122223333", "111122223333,444455556666"},
			[]string{"1111", "111122223333,", "111122223333 ,444455556666", "all"}},
		{"MemberRegions", "MEMBER_REGIONS", []string{"", "us-east-1", "us-east-1,eu-west-1,us-gov-west-1"},
			[]string{"us-east", "us-east-1,", "US-EAST-1", "all"}},
		{"AccountNames", "ACCOUNT_NAMES", []string{"", "111122223333=prod-ml", "111122223333=prod ml,444455556666=Data Science (EU)"},
			[]string{"111122223333", "1111=prod", "111122223333=", "111122223333=a=b", "111122223333=" + strings.Repeat("n", 51), "111122223333=\t",
				"111122223333= ", "111122223333=caf\u00e9"}},
	} {
		p := at(t, tpl, "Parameters", c.param).(map[string]any)
		re := regexp.MustCompile(p["AllowedPattern"].(string))
		wantEqual(t, c.param+" default", p["Default"], "")
		for _, v := range append(slices.Clone(c.good), c.bad...) {
			_, err := env.Load(func(k string) (string, bool) {
				val, ok := map[string]string{"TABLE_NAME": "t", c.env: v}[k]
				return val, ok
			})
			switch good := slices.Contains(c.good, v); {
			case good && (!re.MatchString(v) || err != nil):
				t.Errorf("%s %q: pattern admits %v, env.Load error %v; want both to accept it", c.param, v, re.MatchString(v), err)
			case !good && re.MatchString(v):
				t.Errorf("%s %q: the pattern admits it", c.param, v)
			}
		}
		// Random strings built from admitted values and the characters around them: every one the pattern admits
		// must load.
		rng := rand.New(rand.NewPCG(3, 4))
		const alphabet = "0123456789,= -\t\x7fae!~"
		admitted := 0
		for range 50_000 {
			b := []byte(c.good[1+rng.IntN(len(c.good)-1)])
			for range rng.IntN(3) {
				b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
			}
			if v := string(b); re.MatchString(v) {
				admitted++
				if _, err := env.Load(func(k string) (string, bool) {
					val, ok := map[string]string{"TABLE_NAME": "t", c.env: v}[k]
					return val, ok
				}); err != nil {
					t.Fatalf("%s admits %q, which env.Load refuses: %v", c.param, v, err)
				}
			}
		}
		if admitted == 0 {
			t.Errorf("%s: no random value matched the pattern; the check tested nothing", c.param)
		}
	}
}
