package queryapi_test

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return doc
}

// schemaName is the component schema of a Go type: the same name, but the error body is "Error".
func schemaName(t reflect.Type) string {
	if t == reflect.TypeFor[queryapi.ErrorBody]() {
		return "Error"
	}
	return t.Name()
}

// TestDocumentDescribesTypes: api/openapi.yaml describes exactly the types of this package. Every struct has a
// closed component schema of its name with the same properties; required are the fields not omitted when empty;
// and every object schema of the document is one of these types.
func TestDocumentDescribesTypes(t *testing.T) {
	doc := loadDoc(t)
	seen := map[string]bool{}
	for _, root := range []reflect.Type{reflect.TypeFor[queryapi.GrantList](), reflect.TypeFor[queryapi.GrantHistory](),
		reflect.TypeFor[queryapi.KeyList](), reflect.TypeFor[queryapi.ErrorBody]()} {
		ref := doc.Components.Schemas[schemaName(root)]
		if ref == nil {
			t.Errorf("no schema %s", schemaName(root))
			continue
		}
		compare(t, doc, root, ref, schemaName(root), seen)
	}
	for name, s := range doc.Components.Schemas {
		if s.Value.Type.Is("object") && !seen[name] {
			t.Errorf("schema %s is no type of pkg/queryapi", name)
		}
	}
}

func compare(t *testing.T, doc *openapi3.T, typ reflect.Type, ref *openapi3.SchemaRef, path string, seen map[string]bool) {
	t.Helper()
	s := ref.Value
	is := func(want string) {
		if !s.Type.Is(want) {
			t.Errorf("%s: schema type %v; the Go type %s is %s", path, s.Type, typ, want)
		}
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == reflect.TypeFor[time.Time]():
		is("string")
		if s.Format != "date-time" {
			t.Errorf("%s: format %q; want date-time", path, s.Format)
		}
	case typ.Kind() == reflect.Struct:
		is("object")
		// Below the roots, a struct is a $ref to its own component, not an inline object.
		if want := "#/components/schemas/" + schemaName(typ); strings.ContainsAny(path, ".[{") && ref.Ref != want {
			t.Errorf("%s: schema %q; want %s", path, ref.Ref, want)
		}
		if seen[schemaName(typ)] {
			return
		}
		seen[schemaName(typ)] = true
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("%s: additionalProperties is not false", path)
		}
		var props, required []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			props = append(props, name)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
			if p := s.Properties[name]; p != nil {
				compare(t, doc, f.Type, p, path+"."+name, seen)
			}
		}
		documented := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			documented = append(documented, name)
		}
		slices.Sort(props)
		slices.Sort(documented)
		slices.Sort(required)
		req := slices.Sorted(slices.Values(s.Required))
		if !slices.Equal(props, documented) {
			t.Errorf("%s: properties %v; the Go type %s has %v", path, documented, typ, props)
		}
		if !slices.Equal(required, req) {
			t.Errorf("%s: required %v; the Go type %s always has %v", path, req, typ, required)
		}
	case typ.Kind() == reflect.Slice:
		is("array")
		compare(t, doc, typ.Elem(), s.Items, path+"[]", seen)
	case typ.Kind() == reflect.Map:
		is("object")
		if s.AdditionalProperties.Schema == nil {
			t.Errorf("%s: a map needs an additionalProperties schema", path)
			return
		}
		compare(t, doc, typ.Elem(), s.AdditionalProperties.Schema, path+"{}", seen)
	case typ.Kind() == reflect.String:
		is("string")
	case typ.Kind() == reflect.Bool:
		is("boolean")
	case typ.Kind() == reflect.Float64:
		is("number")
	case typ.Kind() == reflect.Int, typ.Kind() == reflect.Int64:
		is("integer")
	default:
		t.Errorf("%s: Go type %s has no rule here", path, typ)
	}
}

// TestDocumentNamesOneOrder: the document's kinds and states are app's lists, in their order, and its patterns are
// the parsers'.
func TestDocumentNamesOneOrder(t *testing.T) {
	doc := loadDoc(t)
	enum := func(name string) []string {
		var out []string
		for _, v := range doc.Components.Schemas[name].Value.Enum {
			out = append(out, v.(string))
		}
		return out
	}
	var kinds, states []string
	for _, k := range app.Kinds {
		kinds = append(kinds, string(k))
	}
	for _, s := range app.States {
		states = append(states, string(s))
	}
	if got := enum("Kind"); !slices.Equal(got, kinds) {
		t.Errorf("Kind enum %v; want app.Kinds %v", got, kinds)
	}
	if got := enum("State"); !slices.Equal(got, states) {
		t.Errorf("State enum %v; want app.States %v", got, states)
	}
	if got := doc.Components.Schemas["GrantId"].Value.Pattern; got != param.GrantIDPattern {
		t.Errorf("GrantId pattern %q; want param.GrantIDPattern %q", got, param.GrantIDPattern)
	}
	keyArn := doc.Components.Schemas["KeyArn"].Value
	for _, arn := range []string{param.ExampleKeyARN, "arn:aws-iso-f:kms:us-isof-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE",
		"arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"} {
		if err := keyArn.VisitJSON(arn); err != nil {
			t.Errorf("KeyArn refuses %s, which param.KeyARN accepts: %v", arn, err)
		}
	}
	for _, arn := range []string{"alias/x", "arn:aws:kms:us-east-1:111122223333:alias/x", "1234abcd-12ab-34cd-56ef-1234567890ab"} {
		if err := keyArn.VisitJSON(arn); err == nil {
			t.Errorf("KeyArn accepts %s, which param.KeyARN refuses", arn)
		}
	}
}
