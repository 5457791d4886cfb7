package handler_test

// A small OpenAPI 3.0 response validator (yaml.v3 only): enough of JSON Schema for api/openapi.yaml — type,
// required, properties, additionalProperties, items, enum, format date-time, minimum/maximum, $ref, nullable.
// Anything else in a schema is an error, so the document cannot silently use what this does not check.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type openAPI struct {
	doc map[string]any
}

func loadOpenAPI(t testing.TB) *openAPI {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatalf("read openapi: %v", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse openapi: %v", err)
	}
	return &openAPI{doc: doc}
}

// resolve follows a local $ref such as #/components/schemas/Grant.
func (o *openAPI) resolve(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object: %v", v)
	}
	for depth := 0; depth < 10; depth++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var cur any = o.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cm, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("$ref %s: not found", ref)
			}
			cur = cm[part]
		}
		if m, ok = cur.(map[string]any); !ok {
			return nil, fmt.Errorf("$ref %s: not found", ref)
		}
	}
	return nil, fmt.Errorf("$ref loop")
}

// responseSchema returns the schema of a documented response: path template, method, status.
func (o *openAPI) responseSchema(path, method string, status int) (map[string]any, error) {
	paths, _ := o.doc["paths"].(map[string]any)
	item, ok := paths[path].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("path %s is not documented", path)
	}
	op, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s is not documented", method, path)
	}
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)]
	if !ok {
		return nil, fmt.Errorf("%s %s: status %d is not documented", method, path, status)
	}
	r, err := o.resolve(resp)
	if err != nil {
		return nil, err
	}
	content, _ := r["content"].(map[string]any)
	media, ok := content["application/json"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s %d: no application/json content", method, path, status)
	}
	return o.resolve(media["schema"])
}

var knownSchemaKeys = []string{"type", "required", "properties", "additionalProperties", "items", "enum", "format",
	"minimum", "maximum", "$ref", "nullable", "description", "pattern", "default"}

// validate checks a decoded JSON value against a schema and returns every violation, with its JSON path.
func (o *openAPI) validate(v any, schema any, path string) []string {
	s, err := o.resolve(schema)
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	for k := range s {
		if !slices.Contains(knownSchemaKeys, k) {
			return []string{fmt.Sprintf("%s: schema keyword %q is not supported by this validator", path, k)}
		}
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return []string{path + ": null"}
	}
	var errs []string
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want object", path, v))
		}
		for _, r := range asStrings(s["required"]) {
			if _, ok := m[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %q missing", path, r))
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, pv := range m {
			if ps, ok := props[k]; ok {
				errs = append(errs, o.validate(pv, ps, path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: property %q is not documented", path, k))
				}
			case map[string]any:
				errs = append(errs, o.validate(pv, ap, path+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want array", path, v))
		}
		for i, e := range a {
			errs = append(errs, o.validate(e, s["items"], fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want string", path, v))
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date-time", path, str))
			}
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T, want %s", path, v, s["type"]))
		}
		if s["type"] == "integer" && n != float64(int64(n)) {
			errs = append(errs, fmt.Sprintf("%s: %v is not an integer", path, n))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T, want boolean", path, v))
		}
	default:
		errs = append(errs, fmt.Sprintf("%s: schema has no supported type (%v)", path, s["type"]))
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// checkResponse validates one response body against the document, failing the test with every violation.
func (o *openAPI) checkResponse(t *testing.T, pathTemplate, method string, status int, body string) {
	t.Helper()
	schema, err := o.responseSchema(pathTemplate, method, status)
	if err != nil {
		t.Errorf("%s %s → %d: %v", method, pathTemplate, status, err)
		return
	}
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Errorf("%s %s → %d: body is not JSON: %v", method, pathTemplate, status, err)
		return
	}
	for _, e := range o.validate(v, schema, "$") {
		t.Errorf("%s %s → %d: %s", method, pathTemplate, status, e)
	}
}

// TestValidatorCatches keeps the validator honest: each broken body must be reported.
func TestValidatorCatches(t *testing.T) {
	o := loadOpenAPI(t)
	schema, err := o.responseSchema("/grants", "GET", 200)
	if err != nil {
		t.Fatal(err)
	}
	good := `{"grants":[{"grantId":"g","keyArn":"k","kind":"primary","state":"active","createdAt":"2024-05-30T10:00:00Z"}],"nextToken":"x"}`
	var v any
	_ = json.Unmarshal([]byte(good), &v)
	if errs := o.validate(v, schema, "$"); len(errs) != 0 {
		t.Fatalf("good body: %v", errs)
	}
	for _, bad := range []string{
		`{}`,                           // required grants
		`{"grants":{}}`,                // type array
		`{"grants":[{"grantId":"g"}]}`, // required fields
		`{"grants":[],"extra":1}`,      // additionalProperties false
		`{"grants":[],"nextToken":3}`,  // type string
		`{"grants":[{"grantId":"g","keyArn":"k","kind":"weird","state":"active"}]}`,                           // enum
		`{"grants":[{"grantId":"g","keyArn":"k","kind":"primary","state":"active","createdAt":"yesterday"}]}`, // date-time
	} {
		var v any
		_ = json.Unmarshal([]byte(bad), &v)
		if errs := o.validate(v, schema, "$"); len(errs) == 0 {
			t.Errorf("validator accepts %s", bad)
		}
	}
	if _, err := o.responseSchema("/grants", "GET", 418); err == nil {
		t.Error("an undocumented status is accepted")
	}
}
