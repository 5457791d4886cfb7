// Package trailgen writes synthetic CloudTrail log files of any size for benchmarks and memory measurements: a
// mixed trail in which a given share of the records are KMS calls on Bedrock grants (primary and secondary
// CreateGrant, Decrypt by the Bedrock service, RetireGrant) and the rest are other services' calls. Records are
// derived from the shapes of the AWS samples (shared/samples), with event version 1.09 fields; they are not
// samples themselves. The file is generated as it is read, so its size costs no memory.
package trailgen

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"
)

// Reader returns a CloudTrail log file {"Records":[...]} of at least size bytes in which about one record in
// 100/kmsPercent is a Bedrock KMS record (kmsPercent 0: none).
func Reader(size int64, kmsPercent int) io.Reader {
	return &reader{size: size, kmsPercent: kmsPercent, start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC)}
}

type reader struct {
	size       int64
	kmsPercent int
	start      time.Time
	written    int64
	n          int
	buf        bytes.Buffer
	done       bool
}

func (r *reader) Read(p []byte) (int, error) {
	for r.buf.Len() == 0 {
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n, _ := r.buf.Read(p)
	r.written += int64(n)
	return n, nil
}

// fill writes the next record, or the end of the file once size is reached.
func (r *reader) fill() {
	switch {
	case r.n == 0:
		r.buf.WriteString(`{"Records":[`)
	case r.written+int64(r.buf.Len()) >= r.size:
		r.buf.WriteString("]}")
		r.done = true
		return
	default:
		r.buf.WriteByte(',')
	}
	i := r.n
	r.n++
	at := r.start.Add(time.Duration(i) * 100 * time.Millisecond)
	if r.kmsPercent > 0 && i%(100/r.kmsPercent) == 0 {
		r.kms(i/(100/r.kmsPercent), at)
		return
	}
	r.other(i, at)
}

var services = []struct{ source, name, params string }{
	{"s3.amazonaws.com", "GetBucketAcl", `{"bucketName":"example-bucket","Host":"example-bucket.s3.us-east-1.amazonaws.com","acl":""}`},
	{"ec2.amazonaws.com", "DescribeInstances", `{"instancesSet":{},"filterSet":{"items":[{"name":"instance-state-name","valueSet":{"items":[{"value":"running"}]}}]}}`},
	{"sts.amazonaws.com", "AssumeRole", `{"roleArn":"arn:aws:iam::111122223333:role/Deployer","roleSessionName":"ci-1234","durationSeconds":3600}`},
	{"logs.amazonaws.com", "PutLogEvents", `{"logGroupName":"/aws/lambda/app","logStreamName":"2024/05/30/[$LATEST]0123456789abcdef"}`},
	{"dynamodb.amazonaws.com", "DescribeTable", `{"tableName":"orders"}`},
}

func id(kind, i int) string { return fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, kind, i) }

// other writes a record of another service (the S3 sample's shape, with the fields current records carry).
func (r *reader) other(i int, at time.Time) {
	s := services[i%len(services)]
	fmt.Fprintf(&r.buf, `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLEID:session-%d",`+
		`"arn":"arn:aws:sts::111122223333:assumed-role/AppRole/session-%d","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE",`+
		`"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEID","arn":"arn:aws:iam::111122223333:role/AppRole",`+
		`"accountId":"111122223333","userName":"AppRole"},"attributes":{"creationDate":"%s","mfaAuthenticated":"false"}}},`+
		`"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.%d",`+
		`"userAgent":"aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22 md/GOOS#linux md/GOARCH#arm64 api/%s","requestParameters":%s,`+
		`"responseElements":null,"requestID":"%s","eventID":"%s","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,`+
		`"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3",`+
		`"cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"%s"}}`,
		i, i, at.Add(-time.Hour).Format(time.RFC3339), at.Format(time.RFC3339), s.source, s.name, i%250, s.name, s.params,
		id(1, i), id(2, i), s.source)
}

// kms writes the k-th record of a Bedrock grant cycle on one of 64 keys: a primary CreateGrant, then per
// secondary a CreateGrant, a Decrypt and a RetireGrant, all by the Bedrock service.
func (r *reader) kms(k int, at time.Time) {
	key := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/%08d-aaaa-bbbb-cccc-dddddddddddd", k%64)
	cycle := k / 64
	identity := `{"type":"AWSService","invokedBy":"bedrock.amazonaws.com"}`
	var name, params, response, extra string
	switch step := cycle % 4; {
	case cycle == 0:
		identity = `{"type":"AssumedRole","principalId":"AROAEXAMPLEID:SampleUser01","arn":"arn:aws:sts::111122223333:assumed-role/RoleForModelCopy/SampleUser01",` +
			`"accountId":"111122223333","invokedBy":"bedrock.amazonaws.com"}`
		name = "CreateGrant"
		params = `{"granteePrincipal":"bedrock.amazonaws.com","retiringPrincipal":"bedrock.amazonaws.com","keyId":"` + key +
			`","operations":["Decrypt","CreateGrant","GenerateDataKey","DescribeKey"]}`
		response = fmt.Sprintf(`{"grantId":"%064x","keyId":"%s"}`, k%64, key)
	case step == 1:
		name = "CreateGrant"
		params = `{"granteePrincipal":"bedrock.amazonaws.com","retiringPrincipal":"bedrock.amazonaws.com","keyId":"` + key +
			`","operations":["Decrypt","GenerateDataKey","DescribeKey"]}`
		response = fmt.Sprintf(`{"grantId":"%032x%032x","keyId":"%s"}`, k%64, cycle, key)
	case step == 2:
		name, params, response = "Decrypt", `{"keyId":"`+key+`","encryptionAlgorithm":"SYMMETRIC_DEFAULT"}`, "null"
	default:
		name, params, response = "RetireGrant", "null", `{"keyId":"`+key+`"}`
		extra = fmt.Sprintf(`"additionalEventData":{"grantId":"%032x%032x"},`, k%64, cycle-2)
	}
	fmt.Fprintf(&r.buf, `{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"kms.amazonaws.com","eventName":"%s",`+
		`"awsRegion":"us-east-1","sourceIPAddress":"bedrock.amazonaws.com","userAgent":"bedrock.amazonaws.com","requestParameters":%s,`+
		`"responseElements":%s,%s"requestID":"%s","eventID":"%s","readOnly":%t,"resources":[{"accountId":"111122223333",`+
		`"type":"AWS::KMS::Key","ARN":"%s"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333",`+
		`"sharedEventID":"%s","eventCategory":"Management"}`,
		identity, at.Format(time.RFC3339), name, params, response, extra, id(3, k), id(4, k), name == "Decrypt", key, id(5, k))
}

// Gzip compresses data as CloudTrail compresses its log files.
func Gzip(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(data) // writes to a bytes.Buffer cannot fail
	_ = w.Close()
	return b.Bytes()
}
