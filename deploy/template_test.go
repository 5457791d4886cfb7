package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/env"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// cloudTrailState is the rule state that also delivers read-only management events (Decrypt, DescribeKey).
const cloudTrailState = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"

// maxPatternChars is EventBridge's default event pattern size quota (adjustable to 4096 on request).
const maxPatternChars = 2048

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func getAtt(res, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{res, attr}}
}

// resources returns the template's resources of type typ, by logical id.
func resources(t *testing.T, tpl map[string]any, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range at(t, tpl, "Resources").(map[string]any) {
		if m, ok := r.(map[string]any); ok && m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

func props(t *testing.T, r map[string]any) map[string]any {
	t.Helper()
	p, ok := r["Properties"].(map[string]any)
	if !ok {
		t.Fatalf("resource of type %v has no Properties", r["Type"])
	}
	return p
}

// resourceProps returns the Properties of the resource named id in tpl.
func resourceProps(t *testing.T, tpl map[string]any, id string) map[string]any {
	t.Helper()
	return props(t, at(t, tpl, "Resources", id).(map[string]any))
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case string:
		var i int
		_, err := fmt.Sscan(n, &i)
		return i, err == nil
	}
	return 0, false
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v; want %#v", what, got, want)
	}
}

func TestGlobals(t *testing.T) {
	tpl := loadTemplate(t)
	fn := at(t, tpl, "Globals", "Function").(map[string]any)
	wantEqual(t, "Runtime", fn["Runtime"], "provided.al2023")
	wantEqual(t, "Architectures", fn["Architectures"], []any{"arm64"})
	wantEqual(t, "Handler", fn["Handler"], "bootstrap")
	wantEqual(t, "Tracing", fn["Tracing"], "Active")
	wantEqual(t, "LoggingConfig", fn["LoggingConfig"], map[string]any{"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
	wantEqual(t, "MemorySize", fn["MemorySize"], 128)
	if n, ok := asInt(fn["Timeout"]); !ok || n < 1 || n > 900 {
		t.Errorf("Timeout = %v; want 1..900 seconds", fn["Timeout"])
	}
}

// TestTableMatchesStore: the deployed table must be the one pkg/store reads and writes.
func TestTableMatchesStore(t *testing.T) {
	tpl := loadTemplate(t)
	tables := resources(t, tpl, "AWS::DynamoDB::Table")
	table, ok := tables["Table"]
	if !ok || len(tables) != 1 {
		t.Fatalf("tables = %v; want exactly one, logical id Table", slices.Sorted(maps.Keys(tables)))
	}
	wantEqual(t, "Table DeletionPolicy", table["DeletionPolicy"], "Retain")
	wantEqual(t, "Table UpdateReplacePolicy", table["UpdateReplacePolicy"], "Retain")
	p := props(t, table)
	schema := store.TableSchema("ignored")

	wantEqual(t, "BillingMode", p["BillingMode"], string(schema.BillingMode))
	wantEqual(t, "AttributeDefinitions", attrDefs(t, p["AttributeDefinitions"]), schemaAttrDefs(schema.AttributeDefinitions))
	wantEqual(t, "KeySchema", keySchema(t, p["KeySchema"]), schemaKeys(schema.KeySchema))

	var gotGSI, wantGSI []string
	for _, g := range asList(t, "GlobalSecondaryIndexes", p["GlobalSecondaryIndexes"]) {
		gm := g.(map[string]any)
		// NonKeyAttributes too (INCLUDE projection of GrantsByKind).
		gotGSI = append(gotGSI, fmt.Sprintf("%v %v %v %v", gm["IndexName"], keySchema(t, gm["KeySchema"]),
			at(t, gm, "Projection", "ProjectionType"), stringsOf(gm["Projection"].(map[string]any)["NonKeyAttributes"])))
	}
	for _, g := range schema.GlobalSecondaryIndexes {
		wantGSI = append(wantGSI, fmt.Sprintf("%s %v %s %v", aws.ToString(g.IndexName), schemaKeys(g.KeySchema), g.Projection.ProjectionType,
			stringsOf(anyList(g.Projection.NonKeyAttributes))))
	}
	wantEqual(t, "GlobalSecondaryIndexes", gotGSI, wantGSI)
	if store.ActiveIndex != "ActiveGrants" || !slices.ContainsFunc(gotGSI, func(s string) bool { return strings.HasPrefix(s, store.ActiveIndex+" ") }) {
		t.Errorf("the template has no index %s", store.ActiveIndex)
	}

	wantEqual(t, "TimeToLiveSpecification", p["TimeToLiveSpecification"],
		map[string]any{"AttributeName": store.TTLAttribute, "Enabled": true})
	wantEqual(t, "PointInTimeRecoverySpecification", p["PointInTimeRecoverySpecification"],
		map[string]any{"PointInTimeRecoveryEnabled": true})
	wantEqual(t, "SSESpecification", p["SSESpecification"], map[string]any{"SSEEnabled": true})
	if _, named := p["TableName"]; named {
		t.Error("Table has a fixed TableName; let CloudFormation name it (replacement and two stacks need that)")
	}
}

func asList(t *testing.T, what string, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%s = %#v; want a list", what, v)
	}
	return l
}

func attrDefs(t *testing.T, v any) []string {
	var out []string
	for _, a := range asList(t, "AttributeDefinitions", v) {
		m := a.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["AttributeName"], m["AttributeType"]))
	}
	sort.Strings(out)
	return out
}

func schemaAttrDefs(defs []types.AttributeDefinition) []string {
	var out []string
	for _, a := range defs {
		out = append(out, fmt.Sprintf("%s:%s", aws.ToString(a.AttributeName), a.AttributeType))
	}
	sort.Strings(out)
	return out
}

func keySchema(t *testing.T, v any) []string { // order matters: HASH first
	var out []string
	for _, k := range asList(t, "KeySchema", v) {
		m := k.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["AttributeName"], m["KeyType"]))
	}
	return out
}

func schemaKeys(keys []types.KeySchemaElement) []string {
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s:%s", aws.ToString(k.AttributeName), k.KeyType))
	}
	return out
}

// TestFunctionsFollowTheNamingChain: IngestFunction ⇄ functions/ingest ⇄ build-IngestFunction (style.md §2).
func TestFunctionsFollowTheNamingChain(t *testing.T) {
	tpl := loadTemplate(t)
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	fns := resources(t, tpl, "AWS::Serverless::Function")
	if len(fns) == 0 {
		t.Fatal("no AWS::Serverless::Function in the template")
	}
	for id, fn := range fns {
		wantEqual(t, id+" Metadata", fn["Metadata"], map[string]any{"BuildMethod": "makefile"})
		p := props(t, fn)
		wantEqual(t, id+" CodeUri", p["CodeUri"], ".")
		target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(id) + `:`)
		if !target.Match(makefile) {
			t.Errorf("Makefile has no target build-%s, which sam build runs for %s", id, id)
		}
		name, ok := strings.CutSuffix(id, "Function")
		if !ok {
			t.Errorf("function %s: logical id should end in Function", id)
			continue
		}
		main := filepath.Join("..", "functions", strings.ToLower(name), "main.go")
		if _, err := os.Stat(main); err != nil {
			t.Errorf("function %s: %v", id, err)
		}
		if !regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(id) + `:[^\n]*\n(\t[^\n]*\n)*\t\$\(BUILD\) \./functions/` +
			strings.ToLower(name) + `\n`).Match(makefile) {
			t.Errorf("Makefile target build-%s does not run $(BUILD) ./functions/%s", id, strings.ToLower(name))
		}
	}
}

// TestIngestFunction checks the function's wiring: environment, rule, retries and dead letters.
func TestIngestFunction(t *testing.T) {
	p := resourceProps(t, loadTemplate(t), "IngestFunction")
	vars := at(t, p, "Environment", "Variables").(map[string]any)
	wantEqual(t, "TABLE_NAME", vars["TABLE_NAME"], ref("Table"))
	wantEqual(t, "SECONDARY_MAX_AGE", vars["SECONDARY_MAX_AGE"], ref("SecondaryMaxAge"))

	ev := at(t, p, "Events", "CloudTrail").(map[string]any)
	wantEqual(t, "CloudTrail event Type", ev["Type"], "EventBridgeRule")
	ep := ev["Properties"].(map[string]any)
	wantEqual(t, "rule State", ep["State"], cloudTrailState)
	wantEqual(t, "RetryPolicy", ep["RetryPolicy"], map[string]any{"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185})
	wantEqual(t, "rule DeadLetterConfig", ep["DeadLetterConfig"], map[string]any{"Arn": getAtt("DeadLetterQueue", "Arn")})
	if _, ok := ep["EventBusName"]; ok {
		t.Error("CloudTrail events reach the default bus only; the rule must not name another bus")
	}

	wantEqual(t, "EventInvokeConfig", p["EventInvokeConfig"], map[string]any{
		"MaximumRetryAttempts":     2,
		"MaximumEventAgeInSeconds": 21600,
		"DestinationConfig": map[string]any{"OnFailure": map[string]any{
			"Type": "SQS", "Destination": getAtt("DeadLetterQueue", "Arn"),
		}},
	})
}

// TestEnvironmentLoads feeds the function's environment (parameters at their defaults) to pkg/env, as Lambda will.
func TestEnvironmentLoads(t *testing.T) {
	tpl := loadTemplate(t)
	params := at(t, tpl, "Parameters").(map[string]any)
	for id, fn := range resources(t, tpl, "AWS::Serverless::Function") {
		vars := at(t, props(t, fn), "Environment", "Variables").(map[string]any)
		lookup := func(name string) (string, bool) {
			v, ok := vars[name]
			if !ok {
				return "", false
			}
			if r, isRef := v.(map[string]any)["Ref"].(string); isRef {
				if p, isParam := params[r].(map[string]any); isParam {
					return fmt.Sprint(p["Default"]), true
				}
				return "resolved-" + r, true // a resource: its physical name
			}
			return fmt.Sprint(v), true
		}
		cfg, err := env.Load(lookup)
		if err != nil {
			t.Errorf("%s: env.Load on the template's environment: %v", id, err)
			continue
		}
		if cfg.TableName != "resolved-Table" || cfg.Rules.SecondaryMaxAge != 24*time.Hour {
			t.Errorf("%s: config = table %q, secondary max age %s; want the Table and 24h", id, cfg.TableName, cfg.Rules.SecondaryMaxAge)
		}
	}
}

// TestSecondaryMaxAgePattern: whatever the parameter admits, pkg/env accepts, so a deploy cannot break cold starts.
func TestSecondaryMaxAgePattern(t *testing.T) {
	tpl := loadTemplate(t)
	param := at(t, tpl, "Parameters", "SecondaryMaxAge").(map[string]any)
	re, err := regexp.Compile(param["AllowedPattern"].(string))
	if err != nil {
		t.Fatalf("AllowedPattern: %v", err)
	}
	loads := func(s string) error {
		_, err := env.Load(func(k string) (string, bool) {
			v, ok := map[string]string{"TABLE_NAME": "t", "SECONDARY_MAX_AGE": s}[k]
			return v, ok
		})
		return err
	}
	for _, s := range []string{"24h", "36h", "90m", "1h30m", "1.5h", "0.5h", ".5h", "45s", "86400s", "999999h"} {
		if !re.MatchString(s) {
			t.Errorf("AllowedPattern rejects %q", s)
		}
		if err := loads(s); err != nil {
			t.Errorf("AllowedPattern admits %q, which env.Load rejects: %v", s, err)
		}
	}
	for _, s := range []string{"", "24", "24 hours", "-1h", "1d", "soon", "24h ", "0h", "0s", "0.0h", "00m", "9999999h", "1ns", "90ms", ".0001s", "1h-1m"} {
		if re.MatchString(s) {
			t.Errorf("AllowedPattern admits %q", s)
		}
	}
	if d, ok := param["Default"].(string); !ok || !re.MatchString(d) {
		t.Errorf("Default %v does not match AllowedPattern", param["Default"])
	}
	// Random strings over the pattern's alphabet: every one it admits must load.
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789.hmsnu-"
	admitted := 0
	for range 200_000 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if s := string(b); re.MatchString(s) {
			admitted++
			if err := loads(s); err != nil {
				t.Fatalf("AllowedPattern admits %q, which env.Load rejects: %v", s, err)
			}
		}
	}
	if admitted == 0 {
		t.Error("no random string matched AllowedPattern; the check above tested nothing")
	}
}

func TestDeadLetterQueue(t *testing.T) {
	tpl := loadTemplate(t)
	q := resourceProps(t, tpl, "DeadLetterQueue")
	wantEqual(t, "SqsManagedSseEnabled", q["SqsManagedSseEnabled"], true)
	wantEqual(t, "MessageRetentionPeriod", q["MessageRetentionPeriod"], 14*24*3600)

	// With DeadLetterConfig.Arn, SAM adds no queue policy (aws-sam-translator 1.110.0): EventBridge can send to
	// the queue only through this one, and only for the rules that dead-letter into it: the default-bus rules
	// always, the central-bus rules with OrganizationId.
	always, orgOnly := deadLetterRules(t, tpl)
	if len(always) != 2 || len(orgOnly) != 2 {
		t.Errorf("rules with the dead-letter queue = %v and, with OrganizationId, %v; want IngestFunction's two and their central-bus copies", always, orgOnly)
	}
	var found bool
	for id, pol := range resources(t, tpl, "AWS::SQS::QueuePolicy") {
		pp := props(t, pol)
		if !reflect.DeepEqual(pp["Queues"], []any{ref("DeadLetterQueue")}) {
			continue
		}
		for _, s := range asList(t, id+" Statement", at(t, pp, "PolicyDocument", "Statement")) {
			st := s.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			found = true
			wantEqual(t, id+" Principal", st["Principal"], map[string]any{"Service": "events.amazonaws.com"})
			wantEqual(t, id+" Action", st["Action"], "sqs:SendMessage")
			wantEqual(t, id+" Resource", st["Resource"], getAtt("DeadLetterQueue", "Arn"))
			// The Bedrock rule (job and custom-model events) sends its dead letters here too.
			arns, _ := at(t, st, "Condition", "ArnEquals", "aws:SourceArn").(map[string]any)["Fn::If"].([]any)
			if len(arns) != 3 || arns[0] != "IsOrganization" {
				t.Fatalf("%s aws:SourceArn = %v; want an Fn::If on IsOrganization", id, at(t, st, "Condition", "ArnEquals", "aws:SourceArn"))
			}
			all := append(slices.Clone(always), orgOnly...)
			slices.Sort(all)
			wantEqual(t, id+" aws:SourceArn with OrganizationId", ruleIDs(t, arns[1]), all)
			wantEqual(t, id+" aws:SourceArn without", ruleIDs(t, arns[2]), always)
		}
	}
	if !found {
		t.Error("no queue policy lets EventBridge send to DeadLetterQueue")
	}
}

// broadPolicies are SAM policy templates and managed policies that grant more than grantwatch needs.
var broadPolicies = regexp.MustCompile(`^(DynamoDBCrudPolicy|DynamoDBWritePolicy|DynamoDBReadPolicy|SQSPollerPolicy|` +
	`SQSSendMessagePolicy|AWSLambda.*|AmazonDynamoDB.*|AmazonSQS.*|.*FullAccess|AdministratorAccess|PowerUserAccess)$`)

// TestPoliciesAreLeastPrivilege: function policies are inline statements, with no wildcard and no broad template.
func TestPoliciesAreLeastPrivilege(t *testing.T) {
	tpl := loadTemplate(t)
	for id, fn := range resources(t, tpl, "AWS::Serverless::Function") {
		p := props(t, fn)
		if _, ok := p["Role"]; ok {
			t.Errorf("%s: a fixed Role escapes this check; use Policies", id)
		}
		if _, ok := p["Policies"].([]any); !ok {
			t.Errorf("%s: Policies = %#v; want a list of policy documents", id, p["Policies"])
			continue
		}
		for i, pol := range policyItems(t, p) {
			doc, ok := pol.(map[string]any)
			if !ok {
				t.Errorf("%s: Policies[%d] = %v: a managed policy; use an inline statement", id, i, pol)
				continue
			}
			if _, ok := doc["Statement"]; !ok {
				for k := range doc {
					t.Errorf("%s: Policies[%d] uses policy template %s; use an inline statement", id, i, k)
				}
				continue
			}
			for j, s := range asList(t, "Statement", doc["Statement"]) {
				checkStatement(t, fmt.Sprintf("%s Policies[%d].Statement[%d]", id, i, j), s.(map[string]any))
			}
		}
		if pb, ok := p["PermissionsBoundary"]; ok && broadPolicies.MatchString(fmt.Sprint(pb)) {
			t.Errorf("%s: PermissionsBoundary %v", id, pb)
		}
	}
	// Nothing else in the template attaches managed policies.
	for id, r := range resources(t, tpl, "AWS::IAM::Role") {
		t.Errorf("role %s: declare permissions as function Policies (%v)", id, r)
	}
}

// policyItems returns a function's Policies with each Fn::If (a policy a condition adds, which SAM allows) replaced
// by its branches, AWS::NoValue left out, so that every check sees the conditional policies too.
func policyItems(t *testing.T, p map[string]any) []any {
	t.Helper()
	var out []any
	for _, pol := range asList(t, "Policies", p["Policies"]) {
		out = append(out, ifBranches(pol)...)
	}
	return out
}

// ifBranches returns v, or both branches of v when it is an Fn::If (recursively), without AWS::NoValue.
func ifBranches(v any) []any {
	m, ok := v.(map[string]any)
	args, isIf := m["Fn::If"].([]any)
	if !ok || !isIf || len(m) != 1 || len(args) != 3 {
		return []any{v}
	}
	var out []any
	for _, b := range args[1:] {
		if !reflect.DeepEqual(b, ref("AWS::NoValue")) {
			out = append(out, ifBranches(b)...)
		}
	}
	return out
}

func checkStatement(t *testing.T, where string, st map[string]any) {
	t.Helper()
	for _, p := range statementProblems(st) {
		t.Errorf("%s: %s", where, p)
	}
}

// statementProblems says what in an Allow statement grants more than it names.
func statementProblems(st map[string]any) []string {
	if st["Effect"] != "Allow" {
		return nil
	}
	var out []string
	for _, key := range []string{"NotAction", "NotResource"} {
		if _, ok := st[key]; ok {
			out = append(out, key+" grants everything else")
		}
	}
	for _, a := range stringsOf(st["Action"]) {
		if strings.Contains(a, "*") || broadPolicies.MatchString(a) {
			out = append(out, fmt.Sprintf("Action %q has a wildcard", a))
		}
	}
	res := st["Resource"]
	if res == nil {
		out = append(out, "no Resource")
	}
	for _, r := range flatten(res) {
		if s, ok := r.(string); ok && strings.Contains(s, "*") && !wildcardAllowed(st, s) { // wildcardAllowed: backfill_template_test.go
			out = append(out, fmt.Sprintf("Resource %q has a wildcard", s))
		}
	}
	return out
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// flatten returns every scalar inside v (so an Fn::Sub string is checked too).
func flatten(v any) []any {
	switch x := v.(type) {
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case map[string]any:
		var out []any
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []any{v}
}

// TestIngestPermissions: exactly what store.Table needs on the ingest path, on the table itself.
func TestIngestPermissions(t *testing.T) {
	tpl := loadTemplate(t)
	pols := at(t, tpl, "Resources", "IngestFunction", "Properties", "Policies").([]any)
	var actions []string
	// Besides the table, exactly sns:Publish on the alert topic and the topic key's data-key calls.
	topicKey := map[string]any{"Fn::If": []any{"CreateAlertTopicKey", getAtt("AlertTopicKey", "Arn"), ref("AlertTopicKmsKeyArn")}}
	for _, pol := range pols {
		for _, s := range asList(t, "Statement", pol.(map[string]any)["Statement"]) {
			st := s.(map[string]any)
			switch st["Sid"] {
			case "AlertTopic":
				wantEqual(t, "ingest AlertTopic statement", st["Resource"], ref("AlertTopic"))
				wantEqual(t, "ingest AlertTopic actions", st["Action"], "sns:Publish")
				continue
			case "AlertTopicKey":
				wantEqual(t, "ingest AlertTopicKey statement", st["Resource"], topicKey)
				wantEqual(t, "ingest AlertTopicKey actions", stringsOf(st["Action"]), []string{"kms:GenerateDataKey", "kms:Decrypt"})
				continue
			case "TableFormat": // TestTableFormatScan
				continue
			}
			wantEqual(t, "ingest statement Resource", st["Resource"], getAtt("Table", "Arn"))
			actions = append(actions, stringsOf(st["Action"])...)
		}
	}
	sort.Strings(actions)
	// RecordRejection's PutItem is among them; the OnFailure destination's sqs:SendMessage is added by SAM.
	wantEqual(t, "ingest actions", actions, grantTableActions)
}

// TestTableFormatScan: the one Scan any function may make is store.Format's, one item's pk: every statement that
// grants dynamodb:Scan grants it alone, on the table, with the condition that holds it to that.
func TestTableFormatScan(t *testing.T) {
	tpl := loadTemplate(t)
	want := map[string]any{
		"StringEquals":              map[string]any{"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
		"ForAllValues:StringEquals": map[string]any{"dynamodb:Attributes": []any{"pk"}},
	}
	scans := 0
	for name, fn := range resources(t, tpl, "AWS::Serverless::Function") {
		for _, pol := range policyItems(t, props(t, fn)) {
			doc, ok := pol.(map[string]any)
			if !ok {
				continue
			}
			for _, s := range asList(t, "Statement", doc["Statement"]) {
				st := s.(map[string]any)
				if !slices.Contains(stringsOf(st["Action"]), "dynamodb:Scan") {
					continue
				}
				scans++
				wantEqual(t, name+" Scan actions", stringsOf(st["Action"]), []string{"dynamodb:Scan"})
				wantEqual(t, name+" Scan resource", st["Resource"], getAtt("Table", "Arn"))
				wantEqual(t, name+" Scan condition", st["Condition"], want)
			}
		}
	}
	if scans != 4 {
		t.Errorf("%d functions may Scan; want the 4 that write the table (ingest, sweep, backfill, reconcile)", scans)
	}
}

// TestRulePattern checks the pattern's shape; pattern_integration_test.go checks what it matches.
func TestRulePattern(t *testing.T) {
	tpl := loadTemplate(t)
	pattern := ingestPattern(t, tpl)
	compact, err := json.Marshal(pattern)
	if err != nil {
		t.Fatalf("pattern to JSON: %v", err)
	}
	if len(compact) > maxPatternChars {
		t.Errorf("pattern is %d characters; EventBridge's default quota is %d", len(compact), maxPatternChars)
	}
	wantEqual(t, "source", pattern["source"], []any{"aws.kms"})
	wantEqual(t, "detail-type", pattern["detail-type"], []any{"AWS API Call via CloudTrail"})
	detail := pattern["detail"].(map[string]any)
	wantEqual(t, "detail.eventSource", detail["eventSource"], []any{"kms.amazonaws.com"})
	wantEqual(t, "detail.errorCode", detail["errorCode"], []any{map[string]any{"exists": false}})

	branches := asList(t, "detail.$or", detail["$or"])
	if len(branches) < 2 {
		t.Fatalf("$or has %d branches; EventBridge needs at least 2", len(branches))
	}
	named := map[string]bool{}
	for i, b := range branches {
		names := stringsOf(b.(map[string]any)["eventName"])
		if len(names) == 0 {
			t.Errorf("$or[%d] names no eventName: it would match every KMS call", i)
		}
		for _, n := range names {
			if !lifecycle.Known(n) {
				t.Errorf("$or[%d] matches %s, which grantwatch does not consume", i, n)
			}
			named[n] = true
		}
	}
	for _, n := range []string{lifecycle.CreateGrant, lifecycle.RetireGrant, lifecycle.RevokeGrant, lifecycle.Decrypt,
		lifecycle.GenerateDataKey, lifecycle.GenerateDataKeyWithoutPlaintext, lifecycle.DescribeKey} {
		if !named[n] {
			t.Errorf("the pattern never matches %s", n)
		}
	}
}

func TestOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	outs := at(t, tpl, "Outputs").(map[string]any)
	for name, want := range map[string]any{
		"TableName":          ref("Table"),
		"IngestFunctionArn":  getAtt("IngestFunction", "Arn"),
		"DeadLetterQueueUrl": ref("DeadLetterQueue"),
	} {
		o, ok := outs[name].(map[string]any)
		if !ok {
			t.Errorf("output %s missing", name)
			continue
		}
		wantEqual(t, "output "+name, o["Value"], want)
	}
}
