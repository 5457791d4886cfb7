package queryapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grantwatch/grantwatch/pkg/app"
)

// A page token (nextToken, passed back as cursor) is base64url JSON: format version, issue time, a hash of the
// filters it was issued for, and the app.Position of the next page.
//
// It is not signed, on purpose. A token grants nothing: IAM decides what a caller may read, every filter can be
// asked for directly, and the store accepts a position only if it is an item key inside the query's own partition
// and range (app.ErrBadCursor otherwise), so a forged token can neither widen a read nor cause a 500. A MAC would
// need a deployed, rotated secret to protect nothing more. The filter hash and the age limit are for honest
// mistakes: a token reused with other filters, or resumed a day later on data that has changed since.
const (
	tokenVersion = 2 // version 1 carried an HMAC tag keyed by a built-in constant
	tokenTTL     = 24 * time.Hour
	maxTokenLen  = 4096
	// clockSkew is how far in the future an issue time may be: Lambda instances' clocks differ slightly.
	clockSkew = time.Minute
)

type tokenWire struct {
	V      int    `json:"v"`
	Issued int64  `json:"t"`
	Query  string `json:"q"`
	Part   int    `json:"k"`
	Pos    string `json:"p"`
}

// EncodeToken returns the token of position p of filter f, issued at now.
func EncodeToken(p app.Position, f app.Filter, now time.Time) string {
	b, _ := json.Marshal(tokenWire{V: tokenVersion, Issued: now.Unix(), Query: fingerprint(f), Part: p.Part, Pos: p.After}) // ints and strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken returns the position a token of filter f points at, or an error wrapping app.ErrBadCursor that
// says why it is refused. Whether the position is inside the query is for the use case and its store to check.
func DecodeToken(token string, f app.Filter, now time.Time) (app.Position, error) {
	bad := func(why string) (app.Position, error) {
		return app.Position{}, fmt.Errorf("%w: %s", app.ErrBadCursor, why)
	}
	if len(token) > maxTokenLen {
		return bad("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return bad("not a token this API issued")
	}
	var w tokenWire
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || dec.More() || w.V != tokenVersion {
		return bad("unknown token format; start again without a cursor")
	}
	if w.Query != fingerprint(f) {
		return bad("it was issued for other filters; start again without a cursor")
	}
	issued := time.Unix(w.Issued, 0)
	if now.Sub(issued) > tokenTTL || issued.After(now.Add(clockSkew)) {
		return bad("it has expired; start again without a cursor")
	}
	if w.Part < 0 || w.Part == 0 && w.Pos == "" {
		return bad("no position") // a token is issued only where there is more to read
	}
	return app.Position{Part: w.Part, After: w.Pos}, nil
}

// fingerprint binds a token to the filter it was issued for. OlderThan is relative to now, so it is part of the
// fingerprint as a duration: the next page of "older than 24h" continues the same question. The account and Region
// are added only when set, so that tokens issued before they existed stay valid.
func fingerprint(f app.Filter) string {
	at := ""
	if !f.ActiveAt.IsZero() {
		at = f.ActiveAt.UTC().Format(time.RFC3339Nano)
	}
	fields := []string{f.KeyARN, string(f.Kind), string(f.State), at, f.OlderThan.String()}
	if f.Account != "" || f.Region != "" {
		fields = append(fields, f.Account, f.Region)
	}
	sum := sha256.Sum256([]byte(strings.Join(fields, "\x00")))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
