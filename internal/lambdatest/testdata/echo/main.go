// Command echo is a tiny Lambda function for testing lambdatest with the real aws-lambda-go runtime client. With
// ECHO_FAIL_INIT set it fails before taking any invocation, as a function missing its configuration does. The
// payload says what to do: {"error":"msg"} fails, {"exit":3} exits, {"sleep":"2s"} waits (or until the
// deadline), {"hang":"2s"} waits whatever the deadline, {"env":"NAME"} returns that variable; anything else is
// echoed with the invocation's context.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Error string `json:"error"`
	Exit  *int   `json:"exit"`
	Sleep string `json:"sleep"`
	Hang  string `json:"hang"`
	Env   string `json:"env"`
}

type reply struct {
	Payload      json.RawMessage `json:"payload"`
	RequestID    string          `json:"requestId"`
	FunctionARN  string          `json:"functionArn"`
	FunctionName string          `json:"functionName"`
	HasDeadline  bool            `json:"hasDeadline"`
	Env          *string         `json:"env,omitempty"`
}

func handle(ctx context.Context, raw json.RawMessage) (reply, error) {
	var req request
	_ = json.Unmarshal(raw, &req) // non-objects are echoed
	if req.Error != "" {
		return reply{}, errors.New(req.Error)
	}
	if req.Exit != nil {
		os.Exit(*req.Exit)
	}
	if req.Hang != "" { // deaf to the deadline, as a handler stuck in a call without a context is
		d, err := time.ParseDuration(req.Hang)
		if err != nil {
			return reply{}, err
		}
		time.Sleep(d)
	}
	if req.Sleep != "" {
		d, err := time.ParseDuration(req.Sleep)
		if err != nil {
			return reply{}, err
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return reply{}, ctx.Err()
		}
	}
	lc, _ := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	out := reply{Payload: raw, FunctionName: lambdacontext.FunctionName, HasDeadline: hasDeadline}
	if lc != nil {
		out.RequestID, out.FunctionARN = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	if req.Env != "" {
		v := os.Getenv(req.Env)
		out.Env = &v
	}
	return out, nil
}

func main() {
	if msg := os.Getenv("ECHO_FAIL_INIT"); msg != "" {
		fmt.Fprintln(os.Stderr, "init failed:", msg)
		os.Exit(1)
	}
	lambda.Start(handle)
}
