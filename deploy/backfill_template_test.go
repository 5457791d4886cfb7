package deploy

import (
	"reflect"
	"sort"
	"testing"

	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// wildcardAllowList is every wildcard resource the templates may hold, each for exactly one action alone
// in its statement:
//   - cloudtrail:LookupEvents has no resource-level permissions: IAM accepts only "*" for it;
//   - kms:ListGrants on any key of this account (a key ARN names its Region), with a kms:CallerAccount condition;
//   - sts:AssumeRole of the member read-only role in any account (member.yaml), of the organization only.
var wildcardAllowList = map[string]string{
	"cloudtrail:LookupEvents": "*",
	"kms:ListGrants":          "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*",
	"sts:AssumeRole":          org.MemberRoleARN("${AWS::Partition}", "*"),
}

// wildcardAllowed reports whether st may have the wildcard resource res.
func wildcardAllowed(st map[string]any, res string) bool {
	acts := stringsOf(st["Action"])
	if len(acts) != 1 || wildcardAllowList[acts[0]] != res {
		return false
	}
	switch acts[0] {
	case "kms:ListGrants":
		// Whatever a condition adds (member.yaml's alias pattern) only narrows it; each branch must keep the account.
		callerAccount := map[string]any{"kms:CallerAccount": ref("AWS::AccountId")}
		for _, c := range ifBranches(st["Condition"]) {
			m, _ := c.(map[string]any)
			if !reflect.DeepEqual(m["StringEquals"], callerAccount) {
				return false
			}
		}
		return st["Condition"] != nil
	case "sts:AssumeRole":
		return reflect.DeepEqual(st["Condition"], map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": ref("OrganizationId")}})
	}
	return true
}

func TestWildcardAllowList(t *testing.T) {
	lookup := map[string]any{"Action": "cloudtrail:LookupEvents", "Resource": "*"}
	callerAccount := map[string]any{"kms:CallerAccount": ref("AWS::AccountId")}
	assumeMember := map[string]any{"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": ref("OrganizationId")}}}
	listGrants := map[string]any{"Action": "kms:ListGrants", "Resource": map[string]any{"Fn::Sub": wildcardAllowList["kms:ListGrants"]},
		"Condition": map[string]any{"StringEquals": map[string]any{"kms:CallerAccount": ref("AWS::AccountId")}}}
	tests := []struct {
		name string
		st   map[string]any
		res  string
		want bool
	}{
		{"LookupEvents on *", lookup, "*", true},
		{"LookupEvents with another action", map[string]any{"Action": []any{"cloudtrail:LookupEvents", "s3:GetObject"}}, "*", false},
		{"another action on *", map[string]any{"Action": "kms:Decrypt"}, "*", false},
		{"ListGrants on the account's keys with the condition", listGrants, wildcardAllowList["kms:ListGrants"], true},
		{"ListGrants without the condition", map[string]any{"Action": "kms:ListGrants"}, wildcardAllowList["kms:ListGrants"], false},
		{"ListGrants on *", listGrants, "*", false},
		{"ListGrants with the condition and an alias pattern", map[string]any{"Action": "kms:ListGrants", "Condition": map[string]any{"Fn::If": []any{"HasKeyAliasPattern",
			map[string]any{"StringEquals": callerAccount, "ForAnyValue:StringLike": map[string]any{"kms:ResourceAliases": ref("KeyAliasPattern")}},
			map[string]any{"StringEquals": callerAccount}}}}, wildcardAllowList["kms:ListGrants"], true},
		{"ListGrants with a branch that drops the condition", map[string]any{"Action": "kms:ListGrants", "Condition": map[string]any{"Fn::If": []any{"HasKeyAliasPattern",
			map[string]any{"ForAnyValue:StringLike": map[string]any{"kms:ResourceAliases": ref("KeyAliasPattern")}},
			map[string]any{"StringEquals": callerAccount}}}}, wildcardAllowList["kms:ListGrants"], false},
		{"AssumeRole of the member role in the organization", assumeMember, wildcardAllowList["sts:AssumeRole"], true},
		{"AssumeRole of the member role without the organization", map[string]any{"Action": "sts:AssumeRole"}, wildcardAllowList["sts:AssumeRole"], false},
		{"AssumeRole of any role", assumeMember, "arn:${AWS::Partition}:iam::*:role/*", false},
	}
	for _, tt := range tests {
		if got := wildcardAllowed(tt.st, tt.res); got != tt.want {
			t.Errorf("%s: wildcardAllowed = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// grantTableActions are what reading and saving keys needs on the grant table: LoadKey's GetItem, BatchGetItem or
// Query; SaveKey's PutItem or TransactWriteItems of Puts and Deletes (authorised per item as PutItem and
// DeleteItem) with condition checks.
var grantTableActions = []string{"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}

// writerActions are the statements, by Sid, of a scheduled or on-demand function that saves keys and publishes
// alerts (the grant table, the table's format check, the alert topic and its key), with those of extra added.
func writerActions(extra map[string][]string) map[string][]string {
	acts := map[string][]string{
		"GrantTable":    grantTableActions,
		"TableFormat":   {"dynamodb:Scan"},
		"AlertTopic":    {"sns:Publish"},
		"AlertTopicKey": {"kms:Decrypt", "kms:GenerateDataKey"},
	}
	for sid, a := range extra {
		acts[sid] = a
	}
	return acts
}

// statements returns a function's statements by Sid, with sorted actions.
func statements(t *testing.T, p map[string]any) (map[string][]string, map[string]map[string]any) {
	t.Helper()
	acts, sts := map[string][]string{}, map[string]map[string]any{}
	for _, pol := range policyItems(t, p) {
		for _, s := range asList(t, "Statement", pol.(map[string]any)["Statement"]) {
			st := s.(map[string]any)
			a := stringsOf(st["Action"])
			sort.Strings(a)
			acts[st["Sid"].(string)], sts[st["Sid"].(string)] = a, st
		}
	}
	return acts, sts
}

// TestBackfillFunction: on demand, 15 minutes, no retries, exactly its permissions.
func TestBackfillFunction(t *testing.T) {
	p := resourceProps(t, loadTemplate(t), "BackfillFunction")
	wantEqual(t, "backfill Timeout", p["Timeout"], 900)
	if _, ok := p["Events"]; ok {
		t.Error("BackfillFunction has Events; it is invoked on demand")
	}
	wantEqual(t, "backfill EventInvokeConfig", p["EventInvokeConfig"], map[string]any{"MaximumRetryAttempts": 0})
	acts, sts := statements(t, p)
	wantEqual(t, "backfill permissions", acts, writerActions(map[string][]string{
		"CloudTrailLookup": {"cloudtrail:LookupEvents"},
		// With OrganizationId only: org_template_test.go checks its condition and resource.
		"AssumeMemberReader": {"sts:AssumeRole"},
	}))
	wantEqual(t, "backfill GrantTable Resource", sts["GrantTable"]["Resource"], getAtt("Table", "Arn"))
	wantEqual(t, "backfill CloudTrailLookup Resource", sts["CloudTrailLookup"]["Resource"], "*")
}

// TestReconcileFunction: a schedule from a parameter (daily by default), ListGrants on the account's keys only.
func TestReconcileFunction(t *testing.T) {
	tpl := loadTemplate(t)
	wantEqual(t, "ReconcileSchedule default", at(t, tpl, "Parameters", "ReconcileSchedule", "Default"), "rate(1 day)")
	p := resourceProps(t, tpl, "ReconcileFunction")
	wantEqual(t, "reconcile Schedule", at(t, p, "Events", "Schedule", "Properties", "Schedule"), ref("ReconcileSchedule"))
	acts, sts := statements(t, p)
	wantEqual(t, "reconcile permissions", acts, writerActions(map[string][]string{
		"KeyIndexes":         {"dynamodb:Query"},
		"KmsListGrants":      {"kms:ListGrants"},
		"AssumeMemberReader": {"sts:AssumeRole"},
	}))
	wantEqual(t, "reconcile ListGrants Resource", sts["KmsListGrants"]["Resource"],
		map[string]any{"Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"})
	wantEqual(t, "reconcile index Resource", sts["KeyIndexes"]["Resource"], []any{map[string]any{"Fn::Sub": "${Table.Arn}/index/" + store.KindIndex},
		map[string]any{"Fn::Sub": "${Table.Arn}/index/" + store.AccountIndex}})
}
