// Package deploy holds the tests of what gets deployed: template.yaml and member.yaml against the Go code and each
// other, their event patterns against the samples in events/ (pattern_integration_test.go, on moto), and both
// templates created as stacks on moto's CloudFormation (rehearsal_integration_test.go).
package deploy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	templatePath = "../template.yaml"
	memberPath   = "member.yaml" // deploy/member.yaml, the StackSets template of member accounts
)

// intrinsics maps CloudFormation's short-form YAML tags to their long form. Condition is not an Fn::.
var intrinsics = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!And": "Fn::And",
	"!Or": "Fn::Or", "!Not": "Fn::Not", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr",
	"!ImportValue": "Fn::ImportValue", "!GetAZs": "Fn::GetAZs", "!Transform": "Fn::Transform",
	"!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}

// parseCFN decodes a CloudFormation/SAM YAML document into maps, slices and scalars, turning short-form
// intrinsics into their long form ({"Ref": X}, {"Fn::GetAtt": [Res, Attr]}, ...). Unknown tags, anchors and
// aliases (CloudFormation has none) and duplicate keys are errors naming the line.
func parseCFN(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("not a single YAML document")
	}
	v, err := cfnValue(doc.Content[0])
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template is not a mapping")
	}
	return m, nil
}

func cfnValue(n *yaml.Node) (any, error) {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("line %d: YAML anchors and aliases are not CloudFormation", n.Line)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name, ok := intrinsics[n.Tag]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		plain := *n
		plain.Tag = ""
		if n.Kind == yaml.ScalarNode {
			plain.Tag = "!!str" // !Ref 123 names a logical id, not a number
		}
		arg, err := cfnValue(&plain)
		if err != nil {
			return nil, err
		}
		if s, ok := arg.(string); ok && name == "Fn::GetAtt" {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q needs Resource.Attribute", n.Line, s)
			}
			arg = []any{res, attr}
		}
		return map[string]any{name: arg}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := cfnValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := cfnValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// loadTemplate parses template.yaml, failing the test on any error.
func loadTemplate(t testing.TB) map[string]any {
	t.Helper()
	return loadCFN(t, templatePath)
}

// loadMember parses deploy/member.yaml, failing the test on any error.
func loadMember(t testing.TB) map[string]any {
	t.Helper()
	return loadCFN(t, memberPath)
}

func loadCFN(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	tpl, err := parseCFN(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return tpl
}

// at walks tpl along path (map keys) and returns what is there, failing the test when a step is missing.
func at(t testing.TB, v any, path ...string) any {
	t.Helper()
	for i, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a mapping", strings.Join(path[:i], "."))
		}
		if v, ok = m[p]; !ok {
			t.Fatalf("%s: missing", strings.Join(path[:i+1], "."))
		}
	}
	return v
}

// ingestPattern returns the event pattern of IngestFunction's CloudTrail rule, as template.yaml declares it.
func ingestPattern(t testing.TB, tpl map[string]any) map[string]any {
	t.Helper()
	p, ok := at(t, tpl, "Resources", "IngestFunction", "Properties", "Events", "CloudTrail", "Properties", "Pattern").(map[string]any)
	if !ok {
		t.Fatal("IngestFunction CloudTrail Pattern is not a mapping")
	}
	return p
}

func TestParseCFN(t *testing.T) {
	src := `
A: !Ref Table
B: !GetAtt Queue.Arn
C: !GetAtt [Queue, QueueName]
D: !Sub arn:${AWS::Partition}:x
E: !Sub ["${x}", {x: !Ref P}]
F: [1, true, "2", 2.5]
G: !Ref 123
`
	got, err := parseCFN([]byte(src))
	if err != nil {
		t.Fatalf("parseCFN: %v", err)
	}
	want := map[string]any{
		"A": map[string]any{"Ref": "Table"},
		"B": map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}},
		"C": map[string]any{"Fn::GetAtt": []any{"Queue", "QueueName"}},
		"D": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x"},
		"E": map[string]any{"Fn::Sub": []any{"${x}", map[string]any{"x": map[string]any{"Ref": "P"}}}},
		"F": []any{1, true, "2", 2.5},
		"G": map[string]any{"Ref": "123"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseCFN =\n%#v\nwant\n%#v", got, want)
	}
	for _, bad := range []struct{ src, want string }{
		{"A: 1\nB: !Reff X\n", "line 2: unknown tag !Reff"},
		{"A: !GetAtt Queue\n", "needs Resource.Attribute"},
		{"A: &x 1\nB: *x\n", "anchors and aliases"},
		{"A: 1\nA: 2\n", `duplicate key "A"`},
	} {
		if _, err := parseCFN([]byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseCFN(%q) error = %v; want %q", bad.src, err, bad.want)
		}
	}
}

// TestTemplateParses fails on tags or constructs CloudFormation would not read, before any other check.
func TestTemplateParses(t *testing.T) {
	tpl := loadTemplate(t)
	if got := tpl["Transform"]; got != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %v; want AWS::Serverless-2016-10-31", got)
	}
	if _, err := os.Stat(filepath.Join("..", "Makefile")); err != nil {
		t.Errorf("Makefile: %v", err)
	}
}
