//go:build integration

package deploy

// Deploy rehearsal: the stacks an organization creates, on moto's CloudFormation. template.yaml, expanded offline by
// aws-sam-translator, is created in the central account with OrganizationId; deploy/member.yaml in a member account
// in the central Region and in another Region, in a second member account, and in the central account's central
// Region, as StackSets would. Events the members send reach the central rules and, through IngestFunction's
// handler, one grant table.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/grantwatch/grantwatch/internal/fixture"
	"github.com/grantwatch/grantwatch/internal/testenv"
	"github.com/grantwatch/grantwatch/pkg/alert"
	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/emf"
	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/org"
	"github.com/grantwatch/grantwatch/pkg/store"
	"github.com/grantwatch/grantwatch/pkg/trail"
)

const (
	centralAccount = "123456789012" // moto's default account
	memberAccount  = "111111111111"
	member2Account = "222222222222"
	otherRegion    = "us-west-2"
	rehearsalOrg   = "o-rehearsal01"
)

// motoUnsupported are the resource types of the two templates that moto's CloudFormation (5.2.1) does not create:
// it skips them with a warning. README's "Watch a whole organization" lists the same; the rehearsal fails when
// either list is stale.
var motoUnsupported = []string{
	"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::CloudFormation::WaitConditionHandle",
	"AWS::CloudWatch::Alarm", "AWS::Events::EventBusPolicy", "AWS::Lambda::EventInvokeConfig",
	"AWS::SNS::Subscription", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy",
}

// noPhysicalID are types moto creates but reports without a physical id; the rehearsal reads them from their service.
var noPhysicalID = []string{"AWS::Events::EventBus", "AWS::Lambda::Permission"}

// site is an account and Region of the rehearsal, with its clients.
type site struct {
	account, region string
	cfn             *cloudformation.Client
	eb              *eventbridge.Client
	iam             *iam.Client
	sqs             *sqs.Client
}

func newSite(account, region string) site {
	cfg := testenv.InAccount(testenv.AWSConfig(), account)
	cfg.Region = region
	return site{account: account, region: region, cfn: cloudformation.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg),
		iam: iam.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
}

// stack is what CloudFormation made of a template: resources by logical id, outputs by key.
type stack struct {
	resources map[string]cftypes.StackResource
	outputs   map[string]string
}

// create creates a stack and waits (bounded) until it is complete.
func (w site) create(ctx context.Context, t *testing.T, name string, body []byte, params map[string]string) stack {
	t.Helper()
	var ps []cftypes.Parameter
	for k, v := range params {
		ps = append(ps, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	if _, err := w.cfn.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(string(body)), Parameters: ps,
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam, cftypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		t.Fatalf("%s %s: CreateStack %s: %v", w.account, w.region, name, err)
	}
	waiter := cloudformation.NewStackCreateCompleteWaiter(w.cfn, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	out, err := waiter.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, 30*time.Second)
	if err != nil {
		t.Fatalf("%s %s: stack %s did not complete: %v", w.account, w.region, name, err)
	}
	st := stack{resources: map[string]cftypes.StackResource{}, outputs: map[string]string{}}
	for _, o := range out.Stacks[0].Outputs {
		st.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	res, err := w.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStackResources %s: %v", name, err)
	}
	for _, r := range res.StackResources {
		if id := aws.ToString(r.LogicalResourceId); id != "" { // moto lists what it skipped without an id
			st.resources[id] = r
		}
	}
	return st
}

// expect checks that the stack holds exactly the template's resources whose condition holds (conds must give every
// condition of the template), each complete with a physical id, except the types moto does not create, which it
// records in skipped.
func (st stack) expect(t *testing.T, where string, tpl map[string]any, conds map[string]bool, skipped map[string]bool) {
	t.Helper()
	declared, _ := tpl["Conditions"].(map[string]any)
	wantEqual(t, where+" conditions of the template", slices.Sorted(maps.Keys(declared)), slices.Sorted(maps.Keys(conds)))
	want := map[string]string{}
	for id, r := range at(t, tpl, "Resources").(map[string]any) {
		res := r.(map[string]any)
		if c, ok := res["Condition"].(string); ok && !conds[c] {
			continue
		}
		want[id] = res["Type"].(string)
	}
	for id, typ := range want {
		r, made := st.resources[id]
		switch {
		case slices.Contains(motoUnsupported, typ):
			skipped[typ] = true
			if made {
				t.Errorf("%s: moto now creates %s (%s): drop %s from motoUnsupported and the README", where, id, typ, typ)
			}
		case !made:
			t.Errorf("%s: %s (%s) was not created", where, id, typ)
		case aws.ToString(r.ResourceType) != typ || r.ResourceStatus != cftypes.ResourceStatusCreateComplete:
			t.Errorf("%s: %s is %s %s; want %s %s", where, id, aws.ToString(r.ResourceType), r.ResourceStatus, typ, cftypes.ResourceStatusCreateComplete)
		case aws.ToString(r.PhysicalResourceId) == "" && !slices.Contains(noPhysicalID, typ):
			t.Errorf("%s: %s (%s) has no physical id", where, id, typ)
		}
	}
	for id := range st.resources {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: %s was created though its condition is false here", where, id)
		}
	}
}

func (st stack) physical(t *testing.T, id string) string {
	t.Helper()
	r, ok := st.resources[id]
	if !ok || aws.ToString(r.PhysicalResourceId) == "" {
		t.Fatalf("no physical id for %s", id)
	}
	return aws.ToString(r.PhysicalResourceId)
}

// TestDeployRehearsal creates the central stack (OrganizationId and AlertEmail set, so that every resource is in play)
// and the member stacks, checks what each created against its template's conditions, reads the parts that matter
// back from EventBridge and IAM, routes events from a member to the central rules, and ingests two members' events
// into one table.
func TestDeployRehearsal(t *testing.T) {
	// A fresh moto with the grant table in the central account (moto's default), as store.CreateTable makes it.
	const table = "rehearsal-grants"
	ddb := testenv.Table(t, table)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	central, member, memberOther := newSite(centralAccount, testenv.Region), newSite(memberAccount, testenv.Region), newSite(memberAccount, otherRegion)
	member2 := newSite(member2Account, testenv.Region)
	skipped := map[string]bool{}

	// The central stack, as sam deploy creates it: translated, code from S3 (a placeholder zip; moto never runs it).
	var translated map[string]any
	body := samTranslate(t)
	if err := json.Unmarshal(body, &translated); err != nil {
		t.Fatal(err)
	}
	uploadPlaceholderCode(ctx, t)
	const stackName = "grantwatch"
	cs := central.create(ctx, t, stackName, body, map[string]string{"OrganizationId": rehearsalOrg, "AlertEmail": "alerts@example.com"})
	cs.expect(t, "central stack", translated, map[string]bool{"IsOrganization": true, "HasAlertEmail": true, "CreateAlertTopicKey": true}, skipped)
	busArn := fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s-org", testenv.Region, centralAccount, stackName)
	wantEqual(t, "CentralEventBusArn output", cs.outputs["CentralEventBusArn"], busArn)
	checkCentral(ctx, t, central, cs, busArn)

	// The member template where a stack set puts it, sent as JSON in long form: moto reads YAML's short !Condition
	// as Fn::Condition and gets every !And wrong.
	mt := loadMember(t)
	memberBody, err := json.Marshal(mt)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"CentralEventBusArn": busArn, "OrganizationId": rehearsalOrg}
	conds := func(centralAccount, centralRegion bool) map[string]bool {
		return map[string]bool{"IsCentralAccount": centralAccount, "IsCentralRegion": centralRegion,
			"IsCentralStack": centralAccount && centralRegion, "Forwards": !(centralAccount && centralRegion),
			"CreatesReader": centralRegion && !centralAccount, "HasKeyAliasPattern": false}
	}
	ms := member.create(ctx, t, "member", memberBody, params)
	ms.expect(t, "member, central Region", mt, conds(false, true), skipped)
	mo := memberOther.create(ctx, t, "member", memberBody, params)
	mo.expect(t, "member, other Region", mt, conds(false, false), skipped)
	m2 := member2.create(ctx, t, "member", memberBody, params)
	m2.expect(t, "second member, central Region", mt, conds(false, true), skipped)
	cm := central.create(ctx, t, "member", memberBody, params)
	cm.expect(t, "central account, central Region", mt, conds(true, true), skipped)

	checkReader(ctx, t, member, ms)
	checkReader(ctx, t, member2, m2)
	wantEqual(t, "other Region ReaderRoleArn output", mo.outputs["ReaderRoleArn"], "")
	for _, id := range []string{"ForwardCloudTrailRule", "ForwardBedrockRule"} {
		checkForwarder(ctx, t, memberOther, mo, id, busArn)
	}
	queue := queueCentralRules(ctx, t, central, cs, stackName+"-org")
	checkForwarding(ctx, t, central, memberOther, queue)
	checkIngest(ctx, t, central, queue, ddb, table, member, member2)

	wantEqual(t, "types moto's CloudFormation skipped (motoUnsupported)", slices.Sorted(maps.Keys(skipped)), motoUnsupported)
	wantEqual(t, "README's list of types moto does not create", readmeUnsupported(t), motoUnsupported)
}

// placeholderZip is a deployment package with a bootstrap that moto stores and never runs.
func placeholderZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	f, err := z.Create("bootstrap")
	if err == nil {
		_, err = f.Write([]byte("#!/bin/sh\nexit 1\n"))
	}
	if err == nil {
		err = z.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func uploadPlaceholderCode(ctx context.Context, t *testing.T) {
	t.Helper()
	cfg := testenv.AWSConfig()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("placeholder")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("placeholder"), Key: aws.String("code.zip"),
		Body: bytes.NewReader(placeholderZip(t))}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
}

// checkCentral: the bus, its two rules with IngestFunction's patterns, target, retries and dead letters, and the
// roles member accounts trust, as moto made them.
func checkCentral(ctx context.Context, t *testing.T, w site, cs stack, busArn string) {
	t.Helper()
	busName := path.Base(busArn)
	bus, err := w.eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(busName)})
	if err != nil {
		t.Fatalf("DescribeEventBus %s: %v", busName, err)
	}
	wantEqual(t, "central bus ARN", aws.ToString(bus.Arn), busArn)
	dlq := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", w.region, w.account, path.Base(cs.outputs["DeadLetterQueueUrl"]))
	tpl := loadTemplate(t)
	for _, c := range patternSources {
		if c.file != templatePath {
			continue
		}
		name := cs.physical(t, c.rule)
		rule, err := w.eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(busName)})
		if err != nil {
			t.Fatalf("DescribeRule %s: %v", name, err)
		}
		src := samEvent(t, tpl, c.event)
		wantEqual(t, c.rule+" State", string(rule.State), ruleState(src))
		pattern, _ := json.Marshal(src["Pattern"])
		if !sameJSON([]byte(aws.ToString(rule.EventPattern)), pattern) {
			t.Errorf("%s pattern on moto = %s; want IngestFunction's %s", c.rule, aws.ToString(rule.EventPattern), pattern)
		}
		targets, err := w.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name), EventBusName: aws.String(busName)})
		if err != nil || len(targets.Targets) != 1 {
			t.Fatalf("%s targets = %v (%v); want one", c.rule, targets, err)
		}
		tg := targets.Targets[0]
		wantEqual(t, c.rule+" target", aws.ToString(tg.Arn), cs.outputs["IngestFunctionArn"])
		if tg.DeadLetterConfig == nil || aws.ToString(tg.DeadLetterConfig.Arn) != dlq {
			t.Errorf("%s dead-letter config = %+v; want %s", c.rule, tg.DeadLetterConfig, dlq)
		}
		if tg.RetryPolicy == nil || aws.ToInt32(tg.RetryPolicy.MaximumEventAgeInSeconds) != 86400 || aws.ToInt32(tg.RetryPolicy.MaximumRetryAttempts) != 185 {
			t.Errorf("%s retry policy = %+v; want 24 h, 185 attempts", c.rule, tg.RetryPolicy)
		}
	}
	for fn, want := range map[string]string{"BackfillFunctionRole": org.CentralRolePath, "ReconcileFunctionRole": org.CentralRolePath, "IngestFunctionRole": "/"} {
		role, err := w.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(cs.physical(t, fn))})
		if err != nil {
			t.Fatalf("GetRole %s: %v", fn, err)
		}
		wantEqual(t, fn+" path", aws.ToString(role.Role.Path), want)
	}
}

// checkReader: the member role is at the ARN the central functions build, trusting the central account's roles.
func checkReader(ctx context.Context, t *testing.T, w site, ms stack) {
	t.Helper()
	wantEqual(t, "ReaderRole physical id", ms.physical(t, "ReaderRole"), org.MemberRoleName)
	role, err := w.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(org.MemberRoleName)})
	if err != nil {
		t.Fatalf("GetRole %s in %s: %v", org.MemberRoleName, w.account, err)
	}
	arn := org.MemberRoleARN("aws", w.account)
	wantEqual(t, "ReaderRole ARN", aws.ToString(role.Role.Arn), arn)
	wantEqual(t, "ReaderRoleArn output", ms.outputs["ReaderRoleArn"], arn)
	doc, err := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	var trust struct {
		Statement []struct {
			Principal struct{ AWS string }
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(doc), &trust); err != nil || len(trust.Statement) != 1 {
		t.Fatalf("ReaderRole trust %s: %v", doc, err)
	}
	st := trust.Statement[0]
	wantEqual(t, "ReaderRole trusted account", st.Principal.AWS, "arn:aws:iam::"+centralAccount+":root")
	wantEqual(t, "ReaderRole trusted roles", st.Condition["ArnLike"]["aws:PrincipalArn"], "arn:aws:iam::"+centralAccount+":role"+org.CentralRolePath+"*")
	wantEqual(t, "ReaderRole organization", st.Condition["StringEquals"]["aws:PrincipalOrgID"], rehearsalOrg)
}

// checkForwarder: a member rule sits on the default bus and targets the central bus through ForwardRole.
func checkForwarder(ctx context.Context, t *testing.T, w site, ms stack, id, busArn string) {
	t.Helper()
	role, err := w.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(ms.physical(t, "ForwardRole"))})
	if err != nil {
		t.Fatalf("GetRole ForwardRole: %v", err)
	}
	name := ms.physical(t, id)
	rule, err := w.eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeRule %s on the default bus: %v", name, err)
	}
	wantEqual(t, id+" bus", aws.ToString(rule.EventBusName), "default")
	targets, err := w.eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
	if err != nil || len(targets.Targets) != 1 {
		t.Fatalf("%s targets = %v (%v); want one", id, targets, err)
	}
	wantEqual(t, id+" target", aws.ToString(targets.Targets[0].Arn), busArn)
	wantEqual(t, id+" target role", aws.ToString(targets.Targets[0].RoleArn), aws.ToString(role.Role.Arn))
}

// queueCentralRules points the central bus's rules at a new queue and returns its URL: moto cannot invoke Lambda
// targets. Moto applies neither IAM nor the bus policy, which the template tests check.
func queueCentralRules(ctx context.Context, t *testing.T, central site, cs stack, busName string) *string {
	t.Helper()
	q, err := central.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("rehearsal-central")})
	if err != nil {
		t.Fatal(err)
	}
	qArn := fmt.Sprintf("arn:aws:sqs:%s:%s:rehearsal-central", central.region, central.account)
	for _, c := range patternSources {
		if c.file != templatePath {
			continue
		}
		if _, err := central.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(cs.physical(t, c.rule)), EventBusName: aws.String(busName),
			Targets: []ebtypes.Target{{Id: aws.String("IngestFunction"), Arn: aws.String(qArn)}}}); err != nil {
			t.Fatalf("PutTargets %s: %v", c.rule, err)
		}
	}
	return q.QueueUrl
}

// sampleEvent is an EventBridge event of events/cloudtrail.
type sampleEvent struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	raw        []byte
}

func loadEvent(t *testing.T, name string) sampleEvent {
	t.Helper()
	raw, err := os.ReadFile(eventsDir + "/cloudtrail/" + name)
	if err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent{raw: raw}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// put sends entries to the site's default bus.
func (w site) put(ctx context.Context, t *testing.T, entries []ebtypes.PutEventsRequestEntry) {
	t.Helper()
	out, err := w.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents on the default bus of %s %s: %v (%v)", w.account, w.region, err, out)
	}
}

// receiveAll takes every message off the queue (deleting it) and returns the bodies. Moto routes within PutEvents:
// everything forwarded is in the queue once it returns, so the first empty receive ends it.
func receiveAll(ctx context.Context, t *testing.T, w site, queue *string) []string {
	t.Helper()
	var bodies []string
	for range 20 {
		msgs, err := w.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue, MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs.Messages) == 0 {
			return bodies
		}
		var done []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range msgs.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := w.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: queue, Entries: done}); err != nil {
			t.Fatalf("DeleteMessageBatch: %v", err)
		}
	}
	t.Fatal("the central queue was still delivering after 20 receives")
	return nil
}

// checkForwarding sends events to the member's default bus in another Region and sees which reach the central
// bus's rules (queued by queueCentralRules): exactly those the engine uses.
func checkForwarding(ctx context.Context, t *testing.T, central, member site, queue *string) {
	t.Helper()
	want := map[string]bool{}
	var entries []ebtypes.PutEventsRequestEntry
	for _, f := range []string{"kms-CreateGrant-bedrock-primary.json", "kms-Decrypt-iamuser.json", "bedrock-ModelCustomizationJobStateChange.json"} {
		ev := loadEvent(t, f)
		want[f] = engineUses(ev.raw, ev.Source, ev.Detail)
		entries = append(entries, ebtypes.PutEventsRequestEntry{Source: aws.String(ev.Source), DetailType: aws.String(ev.DetailType),
			Detail: aws.String(string(ev.Detail)), Resources: []string{f}})
	}
	if !slices.Contains(slices.Collect(maps.Values(want)), true) || !slices.Contains(slices.Collect(maps.Values(want)), false) {
		t.Fatalf("the forwarding check needs events the engine uses and one it does not: %v", want)
	}
	member.put(ctx, t, entries)
	got := map[string]bool{}
	for _, body := range receiveAll(ctx, t, central, queue) {
		var ev struct {
			Source string          `json:"source"`
			Detail json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal([]byte(body), &ev); err != nil {
			t.Fatalf("central queue message %.200s: %v", body, err)
		}
		for i, e := range entries {
			if aws.ToString(e.Source) == ev.Source && sameJSON(ev.Detail, []byte(aws.ToString(e.Detail))) {
				got[entries[i].Resources[0]] = true
			}
		}
	}
	wantEqual(t, "events forwarded from "+member.account+" "+member.region+" to the central rules", got, trueOnly(want))
}

// ownSamples are what each member of checkIngest records in its own account: a primary, its secondary, the
// secondary's retirement and a Decrypt by the Bedrock service on the key.
var ownSamples = []string{"kms-CreateGrant-bedrock-primary.json", "kms-CreateGrant-bedrock-secondary.json",
	"kms-RetireGrant-bedrock-secondary.json", "kms-Decrypt-bedrock-service.json"}

const sampleAccount = "111122223333" // the account of the events/cloudtrail samples

var (
	grantIDText = regexp.MustCompile(`"[0-9a-f]{64}"`)
	eventIDText = regexp.MustCompile(`("eventID": "[^"]*)[^"]{12}"`)
)

// asAccount rewrites a sample's detail as account would have recorded it: the sample account everywhere it occurs
// (key ARNs, recipientAccountId, userIdentity), and the eventID and grant ids made the account's own (the eventID
// ends, a grant id begins, with the account), so that the events and grants of two accounts differ. Text
// replacement keeps the sample's layout byte for byte otherwise.
func asAccount(t *testing.T, detail json.RawMessage, account string) string {
	t.Helper()
	s := strings.ReplaceAll(string(detail), sampleAccount, account)
	if len(eventIDText.FindAllString(s, -1)) != 1 {
		t.Fatalf("not one eventID in %.300s", s)
	}
	s = eventIDText.ReplaceAllString(s, `${1}`+account+`"`)
	return grantIDText.ReplaceAllStringFunc(s, func(id string) string { return `"` + account + id[13:] })
}

// checkIngest: two members send their own accounts' events to their default buses; every message the central rules
// deliver goes through IngestFunction's handler (as functions/ingest wires it) into one table. Each account's query
// must return exactly that account's grants, in the state its events left them, on keys of that account; the whole
// table, both accounts' grants.
func checkIngest(ctx context.Context, t *testing.T, central site, queue *string, ddb *dynamodb.Client, table string, members ...site) {
	t.Helper()
	clock := func() time.Time { return fixture.DemoAt }
	st := store.Checked(ddb, table)
	svc := app.New(st, alert.Discard{}, lifecycle.DefaultConfig(), fixture.Quiet(), clock).WithJobs(st)
	ingest := handler.NewIngest(svc, fixture.Quiet(), emf.New(io.Discard, clock, ""))

	want := map[string]map[string]lifecycle.State{} // account → grant id → state
	keys := map[string]string{}                     // account → its key's ARN
	sent := map[string]string{}                     // event id → account
	for _, m := range members {
		want[m.account] = map[string]lifecycle.State{}
		var entries []ebtypes.PutEventsRequestEntry
		for _, f := range ownSamples {
			ev := loadEvent(t, f)
			detail := asAccount(t, ev.Detail, m.account)
			rec, err := trail.Decode([]byte(detail))
			if err != nil {
				t.Fatalf("%s as %s: %v", f, m.account, err)
			}
			e, err := rec.Event()
			if _, _, keyAccount := lifecycle.KeyPlace(e.KeyARN); err != nil || e.Account != m.account || keyAccount != m.account {
				t.Fatalf("%s as %s: the engine reads account %s, key %s (%v)", f, m.account, e.Account, e.KeyARN, err)
			}
			switch e.Name {
			case lifecycle.CreateGrant:
				want[m.account][e.GrantID] = lifecycle.Active
			case lifecycle.RetireGrant:
				want[m.account][e.GrantID] = lifecycle.Retired
			}
			if _, dup := sent[e.ID]; dup {
				t.Fatalf("%s as %s: event id %s was sent already", f, m.account, e.ID)
			}
			keys[m.account], sent[e.ID] = e.KeyARN, m.account
			entries = append(entries, ebtypes.PutEventsRequestEntry{Source: aws.String(ev.Source), DetailType: aws.String(ev.DetailType),
				Detail: aws.String(detail)})
		}
		m.put(ctx, t, entries)
	}

	delivered := map[string]string{} // event id → the account the record names (moto's envelope has no "account")
	for _, body := range receiveAll(ctx, t, central, queue) {
		var env events.CloudWatchEvent
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("central queue message %.200s: %v", body, err)
		}
		rec, err := trail.Decode(env.Detail)
		if err != nil {
			t.Fatalf("central queue message %.200s: %v", body, err)
		}
		delivered[rec.EventID] = rec.RecipientAccountID
		if err := ingest.Handle(ctx, json.RawMessage(body)); err != nil {
			t.Fatalf("IngestFunction's handler on %s from %s: %v", rec.EventID, rec.RecipientAccountID, err)
		}
	}
	wantEqual(t, "events of both members delivered to the central rules (event id → account)", delivered, sent)

	reader := store.NewReader(ddb, table)
	q := app.NewQuery(reader, clock)
	whole, total := map[string]lifecycle.State{}, 0 // grant id → state, over the accounts' queries; grants sent
	for account, w := range want {
		total += len(w)
		grants, err := q.AllGrants(ctx, app.Filter{Account: account}, 100)
		if err != nil {
			t.Fatalf("grants of account %s: %v", account, err)
		}
		got := map[string]lifecycle.State{}
		for _, g := range grants {
			if _, _, keyAccount := lifecycle.KeyPlace(g.KeyARN); keyAccount != account {
				t.Errorf("account %s's query returned grant %s on key %s", account, g.ID, g.KeyARN)
			}
			got[g.ID] = g.State()
			whole[g.ID] = g.State()
		}
		wantEqual(t, "grants of account "+account+" in the table (id → state)", got, w)
		usage, err := reader.Usage(ctx, keys[account])
		if err != nil || usage.Calls["Decrypt"] != 1 {
			t.Errorf("usage of %s = %v (%v); want the one Decrypt sent", keys[account], usage.Calls, err)
		}
	}
	// The whole table (the kind index): the accounts' grants, with distinct ids, and nothing else.
	all, err := q.AllGrants(ctx, app.Filter{}, 100)
	if err != nil {
		t.Fatalf("all grants: %v", err)
	}
	if len(all) != total || len(whole) != total {
		t.Errorf("the table holds %d grants, the accounts' queries %d distinct ones; want %d", len(all), len(whole), total)
	}
	for _, g := range all {
		if s, ok := whole[g.ID]; !ok || s != g.State() {
			t.Errorf("grant %s on %s (%s) is in the table but not in its account's query", g.ID, g.KeyARN, g.State())
		}
	}
}

// engineUses says whether the engine applies an EventBridge event (the verdict the pattern tests use).
func engineUses(raw []byte, source string, detail json.RawMessage) bool {
	if source == trail.BedrockSource {
		_, ok, err := trail.BedrockFromEventBridge(raw)
		return ok && !errors.Is(err, trail.ErrIgnored)
	}
	rec, err := trail.Decode(detail)
	use, _ := verdict(rec, err)
	return use
}

func trueOnly(m map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range m {
		if v {
			out[k] = true
		}
	}
	return out
}

// readmeUnsupported reads the resource types README says moto's CloudFormation does not create.
func readmeUnsupported(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^moto's CloudFormation does not create: (.*)$`).FindSubmatch(b)
	if line == nil {
		t.Fatal(`README has no line "moto's CloudFormation does not create: ..."`)
	}
	var out []string
	for _, m := range regexp.MustCompile("`(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)`").FindAllSubmatch(line[1], -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return out
}
