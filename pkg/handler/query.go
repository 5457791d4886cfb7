package handler

// Query handles QueryFunction: the read-only HTTP API (API Gateway HTTP API, payload format 2.0, IAM auth).
// Routes and shapes are described in api/openapi.yaml; query_openapi_test.go checks real responses against it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/grantwatch/grantwatch/pkg/app"
)

// Route keys of the HTTP API; template.yaml declares the same routes.
const (
	RouteGrants    = "GET /grants"
	RouteGrant     = "GET /grants/{grantId}"
	RouteKeyGrants = "GET /keys/{keyArn}/grants"
)

// querier is the part of app.Query the handler uses.
type querier interface {
	Grants(ctx context.Context, f app.Filter, limit int, cursor string) (app.GrantList, error)
	History(ctx context.Context, grantID, keyARN string) (app.GrantHistory, error)
}

// Query is the QueryFunction handler.
type Query struct {
	app querier
	log *slog.Logger
}

// NewQuery returns the handler.
func NewQuery(app querier, log *slog.Logger) *Query { return &Query{app: app, log: log} }

// ErrorBody is every error response: a stable code and a message for people.
type ErrorBody struct {
	Error   string `json:"error"` // bad_request, not_found, internal
	Message string `json:"message"`
}

// Handle serves one request. Errors become HTTP responses; only a failure to encode one is returned.
func (h *Query) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := h.route(ctx, req)
	switch {
	case err == nil:
		return respond(http.StatusOK, body)
	case errors.Is(err, app.ErrInvalid):
		h.log.InfoContext(ctx, "bad request", "route", req.RouteKey, "err", err)
		return respond(http.StatusBadRequest, ErrorBody{Error: "bad_request", Message: clean(err)})
	case errors.Is(err, app.ErrNotFound):
		return respond(http.StatusNotFound, ErrorBody{Error: "not_found", Message: clean(err)})
	}
	// Store failures: the message may name table internals, so it goes to the log, not to the caller.
	h.log.ErrorContext(ctx, "query failed", "route", req.RouteKey, "requestId", req.RequestContext.RequestID, "err", err)
	return respond(http.StatusInternalServerError, ErrorBody{Error: "internal", Message: "internal error; request id " + req.RequestContext.RequestID})
}

func (h *Query) route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (any, error) {
	qs := req.QueryStringParameters
	switch req.RouteKey {
	case RouteGrants:
		return h.grants(ctx, qs, "")
	case RouteKeyGrants:
		key, err := url.PathUnescape(req.PathParameters["keyArn"]) // a no-op when API Gateway already decoded it
		if err != nil {
			return nil, fmt.Errorf("%w: key %q is not percent-encoded correctly", app.ErrInvalid, req.PathParameters["keyArn"])
		}
		if _, err := app.ParseKeyARN(key); err != nil {
			return nil, err
		}
		return h.grants(ctx, qs, key)
	case RouteGrant:
		if err := onlyParams(qs, "key"); err != nil {
			return nil, err
		}
		id, err := app.ParseGrantID(req.PathParameters["grantId"])
		if err != nil {
			return nil, err
		}
		key := ""
		if v, ok := qs["key"]; ok {
			if key, err = app.ParseKeyARN(v); err != nil {
				return nil, err
			}
		}
		return h.app.History(ctx, id, key)
	}
	return nil, fmt.Errorf("%w: no route %q", app.ErrNotFound, req.RouteKey)
}

// grants parses the filters of both list routes; pathKey is the key of /keys/{keyArn}/grants.
func (h *Query) grants(ctx context.Context, qs map[string]string, pathKey string) (app.GrantList, error) {
	allowed := []string{"kind", "state", "activeAt", "olderThan", "limit", "cursor"}
	if pathKey == "" {
		allowed = append(allowed, "key")
	}
	if err := onlyParams(qs, allowed...); err != nil {
		return app.GrantList{}, err
	}
	f := app.Filter{KeyARN: pathKey}
	var errs []error
	if v, ok := qs["key"]; ok {
		k, err := app.ParseKeyARN(v)
		errs = append(errs, err)
		f.KeyARN = k
	}
	if v, ok := qs["kind"]; ok {
		k, err := app.ParseKind(v)
		errs = append(errs, err)
		f.Kind = k
	}
	if v, ok := qs["state"]; ok {
		s, err := app.ParseState(v)
		errs = append(errs, err)
		f.State = s
	}
	if v, ok := qs["activeAt"]; ok {
		t, err := app.ParseTime("activeAt", v)
		errs = append(errs, err)
		f.ActiveAt = t
	}
	if v, ok := qs["olderThan"]; ok {
		d, err := app.ParseAge("olderThan", v)
		errs = append(errs, err)
		f.OlderThan = d
	}
	limit, err := app.ParseLimit(qs["limit"])
	if v, ok := qs["limit"]; ok && v == "" {
		err = fmt.Errorf("%w: limit is empty; give 1..100 or leave it out", app.ErrInvalid)
	}
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return app.GrantList{}, err
	}
	_, hasCursor := qs["cursor"]
	if hasCursor && qs["cursor"] == "" {
		return app.GrantList{}, fmt.Errorf("%w: cursor is empty; leave it out for the first page", app.ErrInvalid)
	}
	return h.app.Grants(ctx, f, limit, qs["cursor"])
}

// onlyParams rejects parameters the route does not know, so a typo (activeat=) is not silently ignored.
func onlyParams(qs map[string]string, allowed ...string) error {
	var unknown []string
	for k := range qs {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("%w: unknown query parameter(s) %s; this route takes %s", app.ErrInvalid,
		strings.Join(unknown, ", "), strings.Join(allowed, ", "))
}

// clean drops the package prefixes of sentinel errors from a message meant for API callers.
func clean(err error) string {
	msg := err.Error()
	for _, p := range []string{"app: invalid query: ", "app: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return strings.ReplaceAll(msg, "\n", "; ") // errors.Join puts one problem per line
}

func respond(status int, v any) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("handler: encode response: %w", err)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(b),
	}, nil
}
