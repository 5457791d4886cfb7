package queryapi_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/lifecycle"
	"github.com/grantwatch/grantwatch/pkg/queryapi"
)

var t0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

const key01 = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-010000000001"

// mint makes a token as anyone can: tokens are not signed.
func mint(v map[string]any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func fields(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func with(m map[string]any, k string, v any) map[string]any {
	c := map[string]any{}
	for kk, vv := range m {
		c[kk] = vv
	}
	c[k] = v
	return c
}

func TestTokenRoundTrip(t *testing.T) {
	for _, f := range []app.Filter{{}, {KeyARN: key01}, {Kind: lifecycle.Primary, State: lifecycle.Unlisted, ActiveAt: t0, OlderThan: time.Hour}} {
		p := app.Position{Part: 2, After: `{"pk":"KEY#x","sk":"GRANT#y"}`}
		tok := queryapi.EncodeToken(p, f, t0)
		got, err := queryapi.DecodeToken(tok, f, t0.Add(23*time.Hour))
		if err != nil || got != p {
			t.Errorf("DecodeToken(EncodeToken(%+v)) = %+v, %v; want it back", p, got, err)
		}
	}
}

func TestTokenRejected(t *testing.T) {
	f := app.Filter{KeyARN: key01}
	good := queryapi.EncodeToken(app.Position{After: `{"pk":"KEY#` + key01 + `","sk":"GRANT#0101"}`}, f, t0)
	w := fields(t, good)
	b, _ := base64.RawURLEncoding.DecodeString(good)
	tests := []struct {
		name, token string
		f           app.Filter
		now         time.Time
		why         string
	}{
		{name: "garbage", token: "not-a-token", why: "unknown token format"},
		{name: "not base64url", token: "eyJ2IjoxfQ.AAAA", why: "not a token this API issued"}, // also the signed format of version 1
		{name: "trailing data", token: base64.RawURLEncoding.EncodeToString(append(b, []byte(`{}`)...)), why: "unknown token format"},
		{name: "other version", token: mint(with(w, "v", 1)), why: "unknown token format"},
		{name: "unknown field", token: mint(with(w, "x", 1)), why: "unknown token format"},
		{name: "other filters", token: good, f: app.Filter{KeyARN: key01, State: lifecycle.Active}, why: "issued for other filters"},
		{name: "filter hash altered", token: mint(with(w, "q", "AAAAAAAAAAAAAAAA")), why: "issued for other filters"},
		{name: "expired", token: good, now: t0.Add(24*time.Hour + time.Second), why: "expired"},
		{name: "issued in the future", token: good, now: t0.Add(-2 * time.Minute), why: "expired"},
		{name: "no position", token: mint(with(w, "p", "")), why: "no position"},
		{name: "negative partition", token: mint(with(w, "k", -1)), why: "no position"},
		{name: "too long", token: strings.Repeat("A", 4097), why: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f == (app.Filter{}) {
				tt.f = f
			}
			if tt.now.IsZero() {
				tt.now = t0
			}
			_, err := queryapi.DecodeToken(tt.token, tt.f, tt.now)
			if !errors.Is(err, app.ErrBadCursor) || !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("DecodeToken(%q) = error %v; want ErrBadCursor saying %q", tt.token, err, tt.why)
			}
			if strings.HasPrefix(err.Error(), "app:") || !strings.HasPrefix(err.Error(), "invalid cursor: ") {
				t.Errorf("message %q; want it to start with invalid cursor, no package prefix", err)
			}
		})
	}
	// Anyone can mint a well-formed token: it is accepted here, and the position is the store's to check.
	minted := mint(with(w, "p", `{"pk":"KEY#elsewhere","sk":"GRANT#x"}`))
	if p, err := queryapi.DecodeToken(minted, f, t0); err != nil || p.After != `{"pk":"KEY#elsewhere","sk":"GRANT#x"}` {
		t.Errorf("a minted token: %+v, %v; want its position, for the store to refuse", p, err)
	}
}
