package testenv

// Other accounts on moto: a client configuration that acts in a given account, and an STS endpoint that, unlike
// moto's, refuses to assume a role that does not exist, so that the organization tests can meet a member account
// without grantwatch's member role.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Account is moto's default account: the one AWSConfig and Env act in.
const Account = "123456789012"

// InAccount returns cfg acting in account on moto, which takes the account from the x-moto-account-id header
// (moto's documented way to use several accounts with one set of credentials).
func InAccount(cfg aws.Config, account string) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Build.Add(middleware.BuildMiddlewareFunc("motoAccount", func(ctx context.Context, in middleware.BuildInput,
			next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header.Set("x-moto-account-id", account)
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
	})
	return cfg
}

// STS is a loopback STS endpoint in front of moto. Moto assumes any role ARN, existing or not; STS refuses one
// that does not exist with AccessDenied, and that is the case a member account without grantwatch's role meets.
// So AssumeRole is answered by moto only when moto's IAM has the role (same name, same ARN with its path) in the
// role's account; STS also remembers which account each access key it handed out acts in (Account).
type STS struct {
	URL string

	mu       sync.Mutex
	accounts map[string]string // access key id → account
	refused  []string          // role ARNs refused, in order
}

var (
	roleARN     = regexp.MustCompile(`^arn:[^:]+:iam::(\d{12}):role/(?:.*/)?([^/]+)$`)
	accessKeyID = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
)

// NewSTS starts the endpoint for the test; point AWS_ENDPOINT_URL_STS (or an STS client's BaseEndpoint) at URL.
func NewSTS(t testing.TB) *STS {
	t.Helper()
	s := &STS{accounts: map[string]string{}}
	proxy := motoProxy(t, "NewSTS")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body)) // STS's query protocol: Action=AssumeRole&RoleArn=...
		if form.Get("Action") != "AssumeRole" {
			proxy.ServeHTTP(w, r)
			return
		}
		arn := form.Get("RoleArn")
		if err := roleExists(r.Context(), arn); err != nil {
			s.mu.Lock()
			s.refused = append(s.refused, arn)
			s.mu.Unlock()
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>`+
				`<Message>User: arn:aws:iam::%s:user/test is not authorized to perform: sts:AssumeRole on resource: %s</Message></Error>`+
				`<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`, Account, arn)
			return
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		if m := accessKeyID.FindSubmatch(rec.Body.Bytes()); m != nil {
			s.mu.Lock()
			s.accounts[string(m[1])] = roleARN.FindStringSubmatch(arn)[1]
			s.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// roleExists says why arn cannot be assumed, or nil: it names no role, or moto's IAM has no such role.
func roleExists(ctx context.Context, arn string) error {
	m := roleARN.FindStringSubmatch(arn)
	if m == nil {
		return fmt.Errorf("%q is not a role ARN", arn)
	}
	out, err := iam.NewFromConfig(InAccount(AWSConfig(), m[1])).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(m[2])})
	var missing *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &missing):
		return fmt.Errorf("no role %s", arn)
	case err != nil:
		return err
	case aws.ToString(out.Role.Arn) != arn:
		return fmt.Errorf("role %s is %s", arn, aws.ToString(out.Role.Arn))
	}
	return nil
}

// Account returns the account an access key handed out by AssumeRole acts in, or Account for any other key (the
// test credentials).
func (s *STS) Account(accessKey string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[accessKey]; ok {
		return a
	}
	return Account
}

// Refused returns the role ARNs AssumeRole refused, in order.
func (s *STS) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}
