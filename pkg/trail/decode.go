package trail

// Records are read with jsontext, the streaming tokenizer of encoding/json/v2 (github.com/go-json-experiment/json
// mirrors it for Go 1.26; from Go 1.27 on the same API is encoding/json/jsontext). One validating pass reads every
// field the rules need straight into our types and skips the rest; encoding/json v1 needed a validation pass plus
// a reflective decode of the record and again of each nested part (5.4× json.Valid, BENCHMARKS.md). A field of an
// unexpected JSON type reads as absent, as it did with v1: whether the record is still usable is Event's decision.

import (
	"bytes"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// decodeOptions accept what encoding/json v1 accepted: repeated names (the last wins) and invalid UTF-8.
var decodeOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// walker reads one in-memory JSON value. Raw parts it returns alias data.
type walker struct {
	dec  jsontext.Decoder
	in   bytes.Buffer // a bytes.Buffer lets the decoder parse data in place, without copying it
	data []byte
	rec  Record   // scratch of any
	env  jobState // scratch of any
}

var walkers = sync.Pool{New: func() any { return new(walker) }}

func newWalker(data []byte) *walker {
	w := walkers.Get().(*walker)
	w.data = data
	w.in = *bytes.NewBuffer(data)
	w.dec.Reset(&w.in, decodeOptions...)
	return w
}

func (w *walker) release() {
	w.data, w.in = nil, bytes.Buffer{}
	w.dec.Reset(&w.in)
	walkers.Put(w)
}

// end checks that nothing but whitespace follows the value just read.
func (w *walker) end() error {
	if _, err := w.dec.ReadToken(); err != errEOF {
		if err == nil {
			return errTrailing
		}
		return err
	}
	return nil
}

// skip reads past the next value.
func (w *walker) skip() error {
	_, err := w.dec.ReadValue() // faster than SkipValue, which reads nested values token by token
	return err
}

// raw reads the next value and returns its bytes.
func (w *walker) raw() ([]byte, error) {
	v, err := w.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	end := int(w.dec.InputOffset())
	return w.data[end-len(v) : end], nil
}

// span runs read, which reads one value, and returns the value's bytes.
func (w *walker) span(read func() error) ([]byte, error) {
	start := w.dec.InputOffset() // before the ':' and blanks that precede the value
	err := read()
	return bytes.TrimLeft(w.data[start:w.dec.InputOffset()], " \t\r\n:,"), err
}

// str reads the next value: its text when it is a JSON string, "" when it is of another type.
func (w *walker) str() (string, error) {
	if w.dec.PeekKind() != '"' {
		return "", w.skip()
	}
	v, err := w.dec.ReadValue()
	if err != nil {
		return "", err
	}
	return string(unquote(v)), nil
}

// into reads the next value into *p (see str).
func (w *walker) into(p *string) error {
	var err error
	*p, err = w.str()
	return err
}

// object reads the object that comes next: a member that field maps to a string is read into it, any other is
// handed to other, which must read its value (nil: skipped). A value of another type is skipped.
func (w *walker) object(field func(name []byte) *string, other func(name []byte) error) error {
	_, err := w.members(func(name []byte) error {
		if p := field(name); p != nil {
			return w.into(p)
		}
		if other != nil {
			return other(name)
		}
		return w.skip()
	})
	return err
}

// boolean reads the next value: true only for JSON true.
func (w *walker) boolean() (bool, error) {
	k := w.dec.PeekKind()
	err := w.skip()
	return k == 't', err
}

// members calls field with the name of each member of the object that comes next; field must read the value.
// A value of another type is skipped and reported as ok == false.
func (w *walker) members(field func(name []byte) error) (ok bool, err error) {
	if w.dec.PeekKind() != '{' {
		return false, w.skip()
	}
	if _, err := w.dec.ReadToken(); err != nil {
		return true, err
	}
	for w.dec.PeekKind() == '"' {
		name, err := w.dec.ReadValue()
		if err != nil {
			return true, err
		}
		if err := field(unquote(name)); err != nil {
			return true, err
		}
	}
	_, err = w.dec.ReadToken() // '}', or the error that ended the loop
	return true, err
}

// elements calls elem for each element of the array that comes next; elem must read it. A value of another type
// is skipped and reported as ok == false.
func (w *walker) elements(elem func() error) (ok bool, err error) {
	if w.dec.PeekKind() != '[' {
		return false, w.skip()
	}
	if _, err := w.dec.ReadToken(); err != nil {
		return true, err
	}
	for k := w.dec.PeekKind(); k != ']' && k != jsontext.KindInvalid; k = w.dec.PeekKind() {
		if err := elem(); err != nil {
			return true, err
		}
	}
	_, err = w.dec.ReadToken()
	return true, err
}

// unquote returns the text of a JSON string token (names included), without copying when it has no escapes.
func unquote(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	b, _ := jsontext.AppendUnquote(nil, v)
	return b
}

// params is what the rules read from a call's requestParameters: KMS grant calls and Bedrock control-plane calls.
type params struct {
	KeyID                    string
	GrantID                  string
	GranteePrincipal         string
	GranteeServicePrincipal  string
	RetiringPrincipal        string
	RetiringServicePrincipal string
	Operations               []string
	Name                     string
	// ConstraintKeys are the encryption-context key names of constraints.encryptionContextSubset and
	// encryptionContextEquals. Values are never read: only names matter to the rules, and values can be sensitive.
	ConstraintKeys []string

	// Bedrock calls (bedrock.go).
	JobName             string
	CustomModelName     string
	CustomModelKmsKeyID string // CreateModelCustomizationJob
	SourceModelARN      string // CreateModelCopyJob
	TargetModelName     string
	ModelKmsKeyID       string
	ModelID             string // CreateProvisionedModelThroughput
	ProvisionedName     string
	JobIdentifier       string // StopModelCustomizationJob
	ModelIdentifier     string // DeleteCustomModel
}

// response is what the rules read from responseElements (CreateGrant, newer RetireGrant, Bedrock calls).
type response struct {
	GrantID             string
	KeyID               string
	JobARN              string
	ProvisionedModelARN string
}

// relevance says, from eventSource, eventName and eventType alone, whether a record can matter; reason is why not.
func relevance(source, name, eventType string) (reason string, insight bool) {
	switch {
	case eventType == insightEventType:
		return "CloudTrail Insights record", true
	case source != "" && source != kmsSource && source != bedrockSource:
		return "eventSource " + quote(source) + " is not " + kmsSource, false
	case name == "":
	case source == kmsSource && !lifecycle.Known(name):
		return "eventName " + quote(name) + " is not a KMS call grantwatch consumes", false
	case source == bedrockSource && (!lifecycle.IsJobEvent(name) || name == lifecycle.JobStateChange):
		return "eventName " + quote(name) + " is not a Bedrock call grantwatch consumes", false
	}
	return "", false
}

// record reads the CloudTrail record object that comes next into r. With fast set it stops as soon as
// eventSource, eventName or eventType shows the record cannot matter, and returns why (skip); the caller must
// then not expect the rest of the input to have been read. userIdentity, which CloudTrail writes before
// eventSource, is then only read when the record turns out to matter.
func (w *walker) record(r *Record, fast bool) (skip string, insight bool, isObject bool, err error) {
	var identity []byte
	errStop := errSkipRest
	isObject, err = w.members(func(name []byte) error {
		var err error
		if fast && r.EventSource == "" && string(name) == "userIdentity" {
			identity, err = w.raw()
		} else {
			err = w.recordField(r, name)
		}
		if err != nil || !fast {
			return err
		}
		if skip, insight = relevance(r.EventSource, r.EventName, r.EventType); skip != "" {
			return errStop
		}
		return nil
	})
	if err == errStop {
		return skip, insight, true, nil
	}
	if err == nil && identity != nil {
		err = readIdentity(identity, &r.UserIdentity)
	}
	return "", false, isObject, err
}

func (w *walker) identity(u *UserIdentity) error {
	return w.object(func(name []byte) *string {
		switch string(name) {
		case "type":
			return &u.Type
		case "principalId":
			return &u.PrincipalID
		case "arn":
			return &u.ARN
		case "accountId":
			return &u.AccountID
		case "invokedBy":
			return &u.InvokedBy
		}
		return nil
	}, func(name []byte) error {
		if string(name) != "sessionContext" {
			return w.skip()
		}
		issuer := &u.SessionContext.SessionIssuer
		return w.object(func([]byte) *string { return nil }, func(name []byte) error {
			if string(name) != "sessionIssuer" {
				return w.skip()
			}
			return w.object(func(name []byte) *string {
				switch string(name) {
				case "arn":
					return &issuer.ARN
				case "userName":
					return &issuer.UserName
				}
				return nil
			}, nil)
		})
	})
}

func (w *walker) resources(out *[]Resource) error {
	_, err := w.elements(func() error {
		if w.dec.PeekKind() != '{' {
			return w.skip()
		}
		var res Resource
		err := w.object(func(name []byte) *string {
			switch string(name) {
			case "ARN":
				return &res.ARN
			case "accountId":
				return &res.AccountID
			case "type":
				return &res.Type
			}
			return nil
		}, nil)
		*out = append(*out, res)
		return err
	})
	return err
}

func (w *walker) strings(out *[]string) error {
	_, err := w.elements(func() error {
		s, err := w.str()
		*out = append(*out, s)
		return err
	})
	return err
}

// names appends the member names of the object that comes next.
func (w *walker) names(out *[]string) error {
	_, err := w.members(func(name []byte) error {
		*out = append(*out, string(name))
		return w.skip()
	})
	return err
}

func (w *walker) params(p *params) error {
	return w.object(p.field, func(name []byte) error {
		switch string(name) {
		case "operations":
			return w.strings(&p.Operations)
		case "constraints":
			return w.object(func([]byte) *string { return nil }, func(name []byte) error {
				if c := string(name); c == "encryptionContextSubset" || c == "encryptionContextEquals" {
					return w.names(&p.ConstraintKeys)
				}
				return w.skip()
			})
		}
		return w.skip()
	})
}

func (p *params) field(name []byte) *string {
	switch string(name) {
	case "keyId":
		return &p.KeyID
	case "grantId":
		return &p.GrantID
	case "granteePrincipal":
		return &p.GranteePrincipal
	case "granteeServicePrincipal":
		return &p.GranteeServicePrincipal
	case "retiringPrincipal":
		return &p.RetiringPrincipal
	case "retiringServicePrincipal":
		return &p.RetiringServicePrincipal
	case "name":
		return &p.Name
	case "jobName":
		return &p.JobName
	case "customModelName":
		return &p.CustomModelName
	case "customModelKmsKeyId":
		return &p.CustomModelKmsKeyID
	case "sourceModelArn":
		return &p.SourceModelARN
	case "targetModelName":
		return &p.TargetModelName
	case "modelKmsKeyId":
		return &p.ModelKmsKeyID
	case "modelId":
		return &p.ModelID
	case "provisionedModelName":
		return &p.ProvisionedName
	case "jobIdentifier":
		return &p.JobIdentifier
	case "modelIdentifier":
		return &p.ModelIdentifier
	}
	return nil
}

func (w *walker) response(r *response) error {
	return w.object(func(name []byte) *string {
		switch string(name) {
		case "grantId":
			return &r.GrantID
		case "keyId":
			return &r.KeyID
		case "jobArn":
			return &r.JobARN
		case "provisionedModelArn":
			return &r.ProvisionedModelARN
		}
		return nil
	}, nil)
}

func (w *walker) additional(grantID *string) error {
	return w.object(func(name []byte) *string {
		if string(name) == "grantId" {
			return grantID
		}
		return nil
	}, nil)
}

// readIdentity reads a userIdentity the fast path set aside (already validated by the walk that found it).
func readIdentity(raw []byte, u *UserIdentity) error {
	w := newWalker(raw)
	defer w.release()
	return w.identity(u)
}
