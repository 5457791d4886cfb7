//go:build integration

package deploy

// What aws-sam-translator (the library cfn-lint uses, preinstalled with it) makes of QueryApi and
// QueryFunction: IAM authorization on every route, payload format 2.0, and invoke permissions scoped to the API.

import (
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
)

const translate = `
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
tpl = yaml_parse(open(sys.argv[1]).read())
for r in tpl["Resources"].values():
    if r["Type"] == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://placeholder/code.zip"
class NoManagedPolicies:
    def load(self, *a, **k): return {}
print(json.dumps(transform(tpl, {}, NoManagedPolicies())))
`

// samTranslate expands template.yaml offline, as sam deploy has CloudFormation do, and returns the template JSON.
func samTranslate(t *testing.T) []byte {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is not on PATH: this test runs aws-sam-translator, which comes with cfn-lint")
	}
	cmd := exec.Command(py, "-c", translate, templatePath)
	cmd.Env = append(cmd.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws-sam-translator: %v\n%s", err, stderr)
	}
	return out
}

func TestQueryApiTranslation(t *testing.T) {
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(samTranslate(t), &tpl); err != nil {
		t.Fatalf("translated template: %v", err)
	}
	res := tpl.Resources
	api, ok := res["QueryApi"]
	if !ok || api.Type != "AWS::ApiGatewayV2::Api" {
		t.Fatalf("QueryApi translated to %q; want AWS::ApiGatewayV2::Api", api.Type)
	}
	body := api.Properties["Body"].(map[string]any)
	paths := body["paths"].(map[string]any)
	var seen []string
	for path, item := range paths {
		get, ok := item.(map[string]any)["get"].(map[string]any)
		if !ok {
			t.Errorf("%s: no GET", path)
			continue
		}
		seen = append(seen, path)
		wantEqual(t, path+" security", get["security"], []any{map[string]any{"AWS_IAM": []any{}}})
		integ := get["x-amazon-apigateway-integration"].(map[string]any)
		wantEqual(t, path+" payloadFormatVersion", integ["payloadFormatVersion"], "2.0")
		wantEqual(t, path+" integration type", integ["type"], "aws_proxy")
	}
	slices.Sort(seen)
	wantEqual(t, "API paths", seen, []string{"/grants", "/grants/{grantId}", "/keys/{keyArn}/grants"})
	wantEqual(t, "AWS_IAM scheme", body["components"].(map[string]any)["securitySchemes"].(map[string]any)["AWS_IAM"].(map[string]any)["x-amazon-apigateway-authtype"], "awsSigv4")

	// Invoke permissions: API Gateway may invoke QueryFunction only through QueryApi, route by route.
	perms := 0
	for id, r := range res {
		if r.Type != "AWS::Lambda::Permission" || r.Properties["FunctionName"].(map[string]any)["Ref"] != "QueryFunction" {
			continue
		}
		perms++
		wantEqual(t, id+" Principal", r.Properties["Principal"], "apigateway.amazonaws.com")
		sub := r.Properties["SourceArn"].(map[string]any)["Fn::Sub"].([]any)
		wantEqual(t, id+" SourceArn api", sub[1].(map[string]any)["__ApiId__"], map[string]any{"Ref": "QueryApi"})
	}
	if perms != 3 {
		t.Errorf("QueryFunction has %d invoke permissions; want one per route (3)", perms)
	}
	// The role holds only the read statement (plus the basic execution and X-Ray managed policies SAM adds).
	role := res["QueryFunctionRole"].Properties
	wantEqual(t, "QueryFunctionRole managed policies", role["ManagedPolicyArns"], []any{
		"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"})
	pols := role["Policies"].([]any)
	if len(pols) != 1 {
		t.Fatalf("QueryFunctionRole has %d inline policies; want 1", len(pols))
	}
	stmts := pols[0].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(stmts) != 1 || stmts[0].(map[string]any)["Sid"] != "GrantTableRead" {
		t.Errorf("QueryFunctionRole statements = %v; want only GrantTableRead", stmts)
	}
}
