package handler

// Query handles QueryFunction: the read-only HTTP API (API Gateway HTTP API, payload format 2.0, IAM auth).
// Routes and shapes are described in api/openapi.yaml; openapi_test.go checks real requests and responses against it.

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
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/param"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

// Route keys of the HTTP API; template.yaml declares the same routes.
const (
	RouteGrants    = "GET /grants"
	RouteGrant     = "GET /grants/{grantId}"
	RouteKeyGrants = "GET /keys/{keyArn}/grants"
)

// querier is the part of app.Query the handler uses.
type querier interface {
	Grants(ctx context.Context, f app.Filter, limit int, from app.Position) (app.Listing, error)
	History(ctx context.Context, grantID, keyARN string, in app.Place) (app.GrantHistory, error)
}

// Query is the QueryFunction handler.
type Query struct {
	app querier
	log *slog.Logger
	now func() time.Time // issues and checks page tokens
}

// NewQuery returns the handler. now is time.Now in production.
func NewQuery(app querier, log *slog.Logger, now func() time.Time) *Query {
	return &Query{app: app, log: log, now: now}
}

// Handle serves one request. Errors become HTTP responses; only a failure to encode one is returned.
func (h *Query) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := h.route(ctx, req)
	switch {
	case err == nil:
		return respond(http.StatusOK, body)
	case errors.Is(err, app.ErrInvalid):
		h.log.InfoContext(ctx, "bad request", "route", req.RouteKey, "err", err)
		return respond(http.StatusBadRequest, queryapi.ErrorBody{Code: queryapi.CodeBadRequest, Message: err.Error()})
	case errors.Is(err, app.ErrNotFound):
		return respond(http.StatusNotFound, queryapi.ErrorBody{Code: queryapi.CodeNotFound, Message: err.Error()})
	}
	// Store failures: the message may name table internals, so it goes to the log, not to the caller.
	h.log.ErrorContext(ctx, "query failed", "route", req.RouteKey, "requestId", req.RequestContext.RequestID, "err", err)
	return respond(http.StatusInternalServerError, queryapi.ErrorBody{Code: queryapi.CodeInternal,
		Message: "internal error; request id " + req.RequestContext.RequestID})
}

func (h *Query) route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (any, error) {
	qs := req.QueryStringParameters
	switch req.RouteKey {
	case RouteGrants:
		return h.grants(ctx, qs, "")
	case RouteKeyGrants:
		raw := req.PathParameters["keyArn"]
		key, err := url.PathUnescape(raw) // a no-op when API Gateway already decoded it
		if err != nil {
			return nil, &app.InputError{Field: "key", Value: raw, Problem: "is not percent-encoded correctly"}
		}
		if _, err := param.KeyARN("key", key); err != nil {
			return nil, err
		}
		return h.grants(ctx, qs, key)
	case RouteGrant:
		if err := onlyParams(qs, "key", "account", "region"); err != nil {
			return nil, err
		}
		var probs param.Problems
		id, err := param.GrantID("grant id", req.PathParameters["grantId"])
		probs.Check(err)
		var key string
		var in app.Place
		param.Optional(&probs, qs, "key", param.KeyARN, &key)
		param.Optional(&probs, qs, "account", param.Account, &in.Account)
		param.Optional(&probs, qs, "region", param.Region, &in.Region)
		if err := probs.Err(); err != nil {
			return nil, err
		}
		hist, err := h.app.History(ctx, id, key, in)
		if err != nil {
			return nil, err
		}
		return queryapi.NewGrantHistory(hist), nil
	}
	return nil, fmt.Errorf("route %q: %w", req.RouteKey, app.ErrNotFound)
}

// grants parses the filters of both list routes; pathKey is the key of /keys/{keyArn}/grants.
func (h *Query) grants(ctx context.Context, qs map[string]string, pathKey string) (queryapi.GrantList, error) {
	allowed := []string{"kind", "state", "activeAt", "olderThan", "limit", "cursor"}
	if pathKey == "" {
		allowed = append(allowed, "key", "account", "region") // the path's key names its own account and Region
	}
	if err := onlyParams(qs, allowed...); err != nil {
		return queryapi.GrantList{}, err
	}
	f := app.Filter{KeyARN: pathKey}
	var probs param.Problems
	param.Filter(&probs, qs, param.FilterNames{Key: "key", Kind: "kind", State: "state", ActiveAt: "activeAt", OlderThan: "olderThan",
		Account: "account", Region: "region"}, &f)
	limit, err := param.Limit("limit", qs["limit"])
	if v, ok := qs["limit"]; ok && v == "" {
		err = &app.InputError{Field: "limit", Problem: fmt.Sprintf("is empty; give %d..%d or leave it out", app.MinLimit, app.MaxLimit)}
	}
	probs.Check(err)
	if err := probs.Err(); err != nil {
		return queryapi.GrantList{}, err
	}
	now := h.now().UTC()
	var from app.Position
	if cursor, ok := qs["cursor"]; ok {
		if cursor == "" {
			return queryapi.GrantList{}, &app.InputError{Field: "cursor", Problem: "is empty; leave it out for the first page"}
		}
		if from, err = queryapi.DecodeToken(cursor, f, now); err != nil {
			return queryapi.GrantList{}, err
		}
	}
	page, err := h.app.Grants(ctx, f, limit, from)
	if err != nil {
		return queryapi.GrantList{}, err
	}
	next := ""
	if page.Next != nil {
		next = queryapi.EncodeToken(*page.Next, f, now)
	}
	return queryapi.NewGrantList(page.Grants, next), nil
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
	return &app.InputError{Problem: fmt.Sprintf("unknown query parameter(s) %s; this route takes %s",
		strings.Join(unknown, ", "), strings.Join(allowed, ", "))}
}

func respond(status int, v any) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("encode response: %w", err)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(b),
	}, nil
}
