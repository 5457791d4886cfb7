package deploy

// QueryFunction, its HTTP API and its permissions, against the Go code and api/openapi.yaml.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/grantwatch/grantwatch/pkg/handler"
	"github.com/grantwatch/grantwatch/pkg/store"
)

func TestQueryFunction(t *testing.T) {
	p := resourceProps(t, loadTemplate(t), "QueryFunction")
	wantEqual(t, "QueryFunction TABLE_NAME", at(t, p, "Environment", "Variables", "TABLE_NAME"), ref("Table"))

	// Routes: the template, the handler and the OpenAPI document list the same ones.
	var routes []string
	for name, e := range at(t, p, "Events").(map[string]any) {
		ev := e.(map[string]any)
		wantEqual(t, name+" Type", ev["Type"], "HttpApi")
		ep := ev["Properties"].(map[string]any)
		wantEqual(t, name+" ApiId", ep["ApiId"], ref("QueryApi"))
		routes = append(routes, fmt.Sprintf("%v %v", ep["Method"], ep["Path"]))
	}
	sort.Strings(routes)
	want := []string{handler.RouteGrants, handler.RouteGrant, handler.RouteKeyGrants}
	sort.Strings(want)
	wantEqual(t, "QueryFunction routes", routes, want)

	b, err := os.ReadFile(filepath.Join("..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, fmt.Sprintf("%s %s", map[string]string{"get": "GET"}[method], path))
		}
	}
	sort.Strings(documented)
	wantEqual(t, "api/openapi.yaml operations", documented, want)

	// Least privilege: Query and GetItem on the table and the read indexes the HTTP API uses, nothing else.
	var actions []string
	for _, pol := range asList(t, "Policies", p["Policies"]) {
		for _, s := range asList(t, "Statement", pol.(map[string]any)["Statement"]) {
			st := s.(map[string]any)
			wantEqual(t, "query statement Resource", st["Resource"], []any{
				getAtt("Table", "Arn"),
				map[string]any{"Fn::Sub": "${Table.Arn}/index/" + store.KindIndex},
				map[string]any{"Fn::Sub": "${Table.Arn}/index/" + store.IDIndex},
				map[string]any{"Fn::Sub": "${Table.Arn}/index/" + store.AccountIndex},
			})
			actions = append(actions, stringsOf(st["Action"])...)
		}
	}
	slices.Sort(actions)
	wantEqual(t, "query actions", actions, []string{"dynamodb:GetItem", "dynamodb:Query"})
}

func TestQueryApiUsesIAM(t *testing.T) {
	tpl := loadTemplate(t)
	apis := resources(t, tpl, "AWS::Serverless::HttpApi")
	api, ok := apis["QueryApi"]
	if !ok || len(apis) != 1 {
		t.Fatalf("HTTP APIs = %v; want exactly QueryApi", apis)
	}
	p := props(t, api)
	wantEqual(t, "QueryApi Auth", p["Auth"], map[string]any{"EnableIamAuthorizer": true, "DefaultAuthorizer": "AWS_IAM"})
	if _, ok := p["AccessLogSettings"]; !ok {
		t.Error("QueryApi has no access log")
	}
	for _, r := range resources(t, tpl, "AWS::Serverless::Api") {
		t.Errorf("a REST API escapes the IAM check: %v", r)
	}
	wantEqual(t, "QueryApiUrl output", at(t, tpl, "Outputs", "QueryApiUrl", "Value"),
		map[string]any{"Fn::Sub": "https://${QueryApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"})
}

func anyList(s []string) any {
	if s == nil {
		return nil
	}
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
