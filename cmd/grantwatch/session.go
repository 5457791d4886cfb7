package main

// One command's use of AWS: the SDK configuration with a client-side timeout on every call, the progress shown while
// calls are under way, and the translation of what fails into messages that name the table, topic, bucket or
// endpoint and say what to do.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/spf13/cobra"

	"github.com/grantwatch/grantwatch/pkg/app"
	"github.com/grantwatch/grantwatch/pkg/store"
)

// defaultTimeout bounds one AWS call, retries included, unless --timeout says otherwise. DynamoDB, KMS, SNS and S3
// answer in milliseconds; what takes longer is an endpoint that is not answering.
const defaultTimeout = 30 * time.Second

// session is what a command shares with the AWS calls it makes.
type session struct {
	cmd      *cobra.Command
	timeout  time.Duration
	progress *progress
	// What messages name: the table, the topic and the bucket the command uses.
	table, topic, bucket string

	once sync.Once
	cfg  aws.Config
	err  error

	mu       sync.Mutex
	endpoint string // of the last request sent
}

// newSession starts a command's session with its checked flags. Stop its progress when the command ends.
func newSession(cmd *cobra.Command, o options) *session {
	return &session{cmd: cmd, timeout: o.timeout, table: o.table, progress: newProgress(cmd.ErrOrStderr(), cmd.Name())}
}

// printer ends the progress line and returns the printer of the command's output.
func (s *session) printer(o options) *printer {
	s.progress.stop()
	return newPrinter(s.cmd.OutOrStdout(), o.format, o.local)
}

// openSession is newSession with the AWS configuration loaded, for commands that call AWS in any case.
func openSession(cmd *cobra.Command, o options) (*session, aws.Config, error) {
	s := newSession(cmd, o)
	cfg, err := s.aws()
	return s, cfg, err
}

// aws returns the SDK configuration (AWS_ENDPOINT_URL, profiles and SSO honoured), loaded once.
func (s *session) aws() (aws.Config, error) {
	s.once.Do(func() {
		// ReadTimeout: no byte for that long fails the attempt, also while an S3 object streams in (a stalled
		// download). It is a little longer than the call's timeout, which bounds every other call as a whole and
		// so always comes first there.
		client := awshttp.NewBuildableClient().WithReadTimeout(s.timeout + time.Second).
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = s.timeout }).
			WithTransportOptions(func(t *http.Transport) { t.TLSHandshakeTimeout = s.timeout })
		// No SDK log: its warnings (an IMDS fallback, a retry) are about its internals; what matters reaches the
		// progress line or the error message.
		s.cfg, s.err = config.LoadDefaultConfig(s.cmd.Context(), config.WithHTTPClient(client), config.WithLogger(logging.Nop{}),
			config.WithAPIOptions([]func(*middleware.Stack) error{s.middleware}))
		if s.err != nil {
			s.err = &exitError{code: exitFailure, err: fmt.Errorf("cannot load the AWS configuration: %v; check AWS_PROFILE, AWS_REGION and ~/.aws/config", s.err)}
		}
	})
	return s.cfg, s.err
}

func (s *session) middleware(st *middleware.Stack) error {
	if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("grantwatchCall", s.call), middleware.After); err != nil {
		return err
	}
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("grantwatchAttempt", s.attempt), middleware.After)
}

type callKey struct{}

// errCallTimeout is the cause of a call cut off by its timeout.
var errCallTimeout = errors.New("the call's timeout passed")

// call bounds one operation, its retries included, by the timeout, counted from its first request: time spent
// waiting for a turn under a client-side rate limit (LookupEvents) is not the endpoint's. It also reports the call
// to the progress line. S3 GetObject is bounded by the read timeout instead: its body streams after the operation
// returns, and a deadline would cut a large object off.
func (s *session) call(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	c := s.progress.begin(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))
	defer s.progress.end(c)
	// Calls made on a call's behalf (credentials from the instance role, SSO) are not where the command went.
	if _, nested := ctx.Value(callKey{}).(*call); !nested {
		defer func() {
			if e := c.where(); c.endpoint != "" {
				s.mu.Lock()
				s.endpoint = e
				s.mu.Unlock()
			}
		}()
	}
	if c.op == "GetObject" {
		return next.HandleInitialize(context.WithValue(ctx, callKey{}, c), in)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.startTimer = sync.OnceFunc(func() {
		t := time.AfterFunc(s.timeout, func() { cancel(errCallTimeout) })
		c.stopTimer = func() { t.Stop() }
	})
	defer func() {
		if c.stopTimer != nil {
			c.stopTimer()
		}
	}()
	out, md, err := next.HandleInitialize(context.WithValue(cctx, callKey{}, c), in)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(cctx), errCallTimeout) {
		err = &callTimeout{service: c.service, op: c.op, endpoint: c.where(), after: s.timeout, last: c.problem(), err: err}
	}
	return out, md, err
}

// attempt sees each HTTP attempt: where it went and what came back, for the progress line and for messages. The
// first one starts the call's timeout.
func (s *session) attempt(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	c, _ := ctx.Value(callKey{}).(*call)
	if c != nil && c.startTimer != nil {
		c.startTimer()
	}
	if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
		s.progress.attempt(c, req.URL.Scheme+"://"+req.URL.Host)
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	if ctx.Err() != nil {
		return out, md, err // cut off by the call's timeout: nothing came back
	}
	problem := ""
	var timeout interface{ Timeout() bool }
	switch resp, ok := out.RawResponse.(*smithyhttp.Response); {
	case ok && resp.StatusCode >= 300:
		problem = "HTTP " + resp.Status
	case errors.As(err, &timeout) && timeout.Timeout():
		problem = "no answer"
	case err != nil:
		problem = err.Error()
	}
	s.progress.answered(c, problem)
	return out, md, err
}

// where is the endpoint the command talked to last: AWS_ENDPOINT_URL, or the Region's endpoint.
func (s *session) where() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint != "" {
		return s.endpoint
	}
	if e := os.Getenv("AWS_ENDPOINT_URL"); e != "" {
		return e
	}
	return "AWS"
}

// callTimeout is an AWS call that got no answer within the timeout.
type callTimeout struct {
	service, op, endpoint string
	after                 time.Duration
	last                  string // what the last attempt got, if anything
	err                   error
}

func (e *callTimeout) Error() string {
	if e.last != "" && e.last != "no answer" {
		return fmt.Sprintf("%s %s at %s did not succeed within %s: every attempt failed, the last with %s", e.service, e.op, e.endpoint, human(e.after), e.last)
	}
	return fmt.Sprintf("no answer from %s to %s %s within %s", e.endpoint, e.service, e.op, human(e.after))
}

func (e *callTimeout) Unwrap() error { return e.err }

// fail turns what went wrong into an error for people: what failed, named, and what to do. Errors that carry their
// own exit code (usage, not found) keep it; AWS errors are explained by their type, never by their text.
func (s *session) fail(err error) error {
	if err == nil {
		return nil
	}
	s.progress.stop()
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, app.ErrInvalid) {
		return &exitError{code: exitUsage, err: err}
	}
	msg := s.explainAWS(err)
	if msg == "" {
		return err
	}
	return &exitError{code: exitFailure, err: errors.New(msg)}
}

// explainAWS names and explains an AWS failure, or returns "" for anything else.
func (s *session) explainAWS(err error) string {
	var (
		timeout  *callTimeout
		format   *store.FormatError
		noTable  *ddbtypes.ResourceNotFoundException
		noTopic  *snstypes.NotFoundException
		noBucket *s3types.NoSuchBucket
		noKey    *kmstypes.NotFoundException
		op       *smithy.OperationError
		api      smithy.APIError
		dns      *net.DNSError
		netErr   net.Error
		resp     *smithyhttp.ResponseError
		maxTries *retry.MaxAttemptsError
	)
	what := "the call"
	if errors.As(err, &op) {
		what = op.ServiceID + " " + op.OperationName
	}
	endpoint := s.where()
	switch {
	case errors.As(err, &timeout):
		return timeout.Error() + ": check that the endpoint is right (AWS_ENDPOINT_URL, AWS_REGION) and reachable, or allow more time with --timeout"
	case errors.As(err, &format):
		return format.Error()
	case errors.As(err, &noTable):
		return fmt.Sprintf("table %q does not exist in %s at %s: give the stack's TableName output with --table or $%s, and check AWS_REGION",
			s.table, s.region(), endpoint, tableEnv)
	case errors.As(err, &noTopic):
		return fmt.Sprintf("SNS topic %s does not exist at %s: give the stack's AlertTopic ARN with --topic", s.topic, endpoint)
	case errors.As(err, &noBucket):
		return fmt.Sprintf("bucket %q does not exist at %s: check the s3:// URL (the trail's S3 bucket)", s.bucket, endpoint)
	case errors.As(err, &noKey):
		return fmt.Sprintf("KMS has no such key at %s (%s): check the key ARN and its Region", endpoint, apiMessage(err))
	case nestedOp(err, "ec2imds") != nil:
		return fmt.Sprintf("%s needs AWS credentials and found none (the environment, AWS_PROFILE and ~/.aws, then the EC2 instance role): "+
			"set AWS_PROFILE (and run aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", what)
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve %s for %s: check AWS_ENDPOINT_URL and AWS_REGION, and your network", dns.Name, what)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot connect to %s for %s: connection refused; check AWS_ENDPOINT_URL (is the endpoint running?)", endpoint, what)
	case errors.As(err, &api):
		switch code := api.ErrorCode(); {
		case strings.Contains(code, "AccessDenied"), code == "UnauthorizedOperation":
			return fmt.Sprintf("%s was denied at %s: %s; the credentials in use (AWS_PROFILE, or the role) need that permission%s",
				what, endpoint, api.ErrorMessage(), s.onTable())
		case code == "UnrecognizedClientException", code == "InvalidSignatureException", code == "InvalidClientTokenId",
			strings.Contains(code, "ExpiredToken"), code == "SignatureDoesNotMatch":
			return fmt.Sprintf("%s at %s refused the credentials (%s: %s): sign in again (aws sso login) or check AWS_PROFILE and the AWS_* variables",
				what, endpoint, code, api.ErrorMessage())
		case strings.Contains(code, "Throttl"), code == "ProvisionedThroughputExceededException", code == "RequestLimitExceeded":
			return fmt.Sprintf("%s at %s was throttled after every retry (%s); try again later", what, endpoint, code)
		}
		return fmt.Sprintf("%s at %s failed: %s: %s%s", what, endpoint, api.ErrorCode(), api.ErrorMessage(), s.onTable())
	case errors.As(err, &resp):
		tries := ""
		if errors.As(err, &maxTries) {
			tries = fmt.Sprintf(" after %d attempts", maxTries.Attempt)
		}
		return fmt.Sprintf("%s at %s failed: it answered HTTP %d%s, and no AWS error: check that the endpoint serves %s (AWS_ENDPOINT_URL)",
			what, endpoint, resp.HTTPStatusCode(), tries, serviceOf(err))
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("%s at %s sent nothing for %s: check the endpoint and your network, or allow more time with --timeout", what, endpoint, human(s.timeout))
	case op != nil:
		return fmt.Sprintf("%s at %s failed: %v", what, endpoint, errors.Unwrap(op))
	}
	return ""
}

// nestedOp finds an operation error of service under the outermost one: a call made on a call's behalf, such as
// the instance role's credentials.
func nestedOp(err error, service string) *smithy.OperationError {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if op, ok := e.(*smithy.OperationError); ok && op.ServiceID == service && e != err {
			return op
		}
	}
	return nil
}

func (s *session) onTable() string {
	if s.table == "" {
		return ""
	}
	return fmt.Sprintf(" (table %s)", s.table)
}

// serviceOf is the service of the operation that failed.
func serviceOf(err error) string {
	var op *smithy.OperationError
	if errors.As(err, &op) {
		return op.ServiceID
	}
	return "the service"
}

// apiMessage is what the service said, or the error itself.
func apiMessage(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorMessage()
	}
	return err.Error()
}

// region is the Region the SDK uses (AWS_REGION, the profile's).
func (s *session) region() string {
	if s.cfg.Region != "" {
		return s.cfg.Region
	}
	return "the configured Region"
}
