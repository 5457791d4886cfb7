package handler_test

// The handler against api/openapi.yaml, with kin-openapi: the document itself is valid OpenAPI 3.0, every request a
// test sends is checked as API Gateway would have routed it, and every response of a documented route must match
// its operation and status (undocumented statuses fail).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

type openAPI struct {
	doc *openapi3.T
}

func loadOpenAPI(t testing.TB) *openAPI {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatalf("load api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return &openAPI{doc: doc}
}

var validation = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc, // SigV4 is API Gateway's to check
	IncludeResponseStatus: true,
	MultiError:            true,
	SkipSettingDefaults:   true,
}

// input is the request as the document sees it. API Gateway has already routed it, so the route comes from the
// route key and the path parameters as they reach the handler (percent-decoded: the document's patterns are of the
// decoded values).
func (o *openAPI) input(req events.APIGatewayV2HTTPRequest) (*openapi3filter.RequestValidationInput, error) {
	method, path, _ := strings.Cut(req.RouteKey, " ")
	item := o.doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return nil, fmt.Errorf("%s is not documented", req.RouteKey)
	}
	params := map[string]string{}
	concrete := path
	for k, v := range req.PathParameters {
		decoded, err := url.PathUnescape(v)
		if err != nil {
			decoded = v // the pattern sees the raw value, which it refuses
		}
		params[k] = decoded
		concrete = strings.ReplaceAll(concrete, "{"+k+"}", url.PathEscape(decoded))
	}
	q := url.Values{}
	for k, v := range req.QueryStringParameters {
		q.Set(k, v)
	}
	hr, err := http.NewRequest(method, "https://example.execute-api.us-east-1.amazonaws.com"+concrete+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test")
	return &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, QueryParams: q, Options: validation,
		Route: &routers.Route{Spec: o.doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}}, nil
}

// checkRequest returns what the document finds wrong with the request, or nil.
func (o *openAPI) checkRequest(req events.APIGatewayV2HTTPRequest) error {
	in, err := o.input(req)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateRequest(context.Background(), in)
}

// checkResponse returns what the document finds wrong with the handler's response to req, or nil.
func (o *openAPI) checkResponse(req events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) error {
	in, err := o.input(req)
	if err != nil {
		return err
	}
	header := http.Header{}
	for k, v := range resp.Headers {
		header.Set(k, v)
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: header, Options: validation,
		Body: io.NopCloser(bytes.NewReader([]byte(resp.Body)))})
}

// checkExchange holds the handler and the document to each other for one request: the response must match the
// document, and a request the document refuses must be refused by the handler too (a 400), so that the document
// never promises more than the handler accepts.
func (o *openAPI) checkExchange(t *testing.T, req events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if err := o.checkResponse(req, resp); err != nil {
		t.Errorf("%s → %d does not match api/openapi.yaml: %v\nbody %s", req.RouteKey, resp.StatusCode, err, resp.Body)
	}
	if err := o.checkRequest(req); err != nil && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("api/openapi.yaml refuses %s %v (%v) but the handler answered %d", req.RouteKey, req.QueryStringParameters, err, resp.StatusCode)
	}
}

// TestDocumentCatches keeps the check honest: each broken exchange must be reported by kin-openapi.
func TestDocumentCatches(t *testing.T) {
	o := loadOpenAPI(t)
	grants := request("GET /grants", nil, nil)
	respond := func(status int, body string) events.APIGatewayV2HTTPResponse {
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
	}
	good := `{"grants":[{"grantId":"g","keyArn":"k","kind":"primary","state":"active","createdAt":"2024-05-30T10:00:00Z"}],"nextToken":"x"}`
	if err := o.checkResponse(grants, respond(200, good)); err != nil {
		t.Fatalf("good body: %v", err)
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
		if err := o.checkResponse(grants, respond(200, bad)); err == nil {
			t.Errorf("the document accepts the response %s", bad)
		}
	}
	if err := o.checkResponse(grants, respond(418, `{"error":"internal","message":"x"}`)); err == nil {
		t.Error("an undocumented status is accepted")
	}
	if err := o.checkResponse(grants, respond(400, `{"error":"teapot","message":"x"}`)); err == nil {
		t.Error("an unknown error code is accepted")
	}
	for _, bad := range []events.APIGatewayV2HTTPRequest{
		request("GET /grants", nil, map[string]string{"limit": "500"}),             // maximum
		request("GET /grants", nil, map[string]string{"limit": "0"}),               // minimum
		request("GET /grants", nil, map[string]string{"kind": "tertiary"}),         // enum
		request("GET /grants", nil, map[string]string{"activeAt": "yesterday"}),    // format
		request("GET /grants", nil, map[string]string{"key": "alias/my-key"}),      // pattern
		request("GET /grants/{grantId}", map[string]string{"grantId": "a b"}, nil), // pattern
		request("GET /keys/{keyArn}/grants", map[string]string{"keyArn": "alias%2Fx"}, nil),
		request("GET /grants", nil, map[string]string{"cursor": strings.Repeat("A", 4097)}), // maxLength
	} {
		if err := o.checkRequest(bad); err == nil {
			t.Errorf("the document accepts %s %v %v", bad.RouteKey, bad.PathParameters, bad.QueryStringParameters)
		}
	}
	if err := o.checkRequest(request("GET /keys/{keyArn}/grants", map[string]string{"keyArn": url.PathEscape(key01)}, map[string]string{"limit": "100"})); err != nil {
		t.Errorf("a good request is refused: %v", err)
	}
}
