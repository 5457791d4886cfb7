package lifecycle_test

import (
	"testing"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

func TestIsKeyARN(t *testing.T) {
	for _, tt := range []struct {
		arn  string
		want bool
	}{
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE", true}, // AWS's samples
		{"arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", true}, // multi-Region
		{"arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws-iso-f:kms:us-isof-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws-eusc:kms:eusc-de-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws:kms:us-east-1:111122223333:alias/my-key", false},
		{"alias/my-key", false},
		{"1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"arn:aws:s3:us-east-1:111122223333:key/1234abcd", false},
		{"arn:aws:kms:us-east-1:111122223333:key/", false},
		{"arn:aws:kms::111122223333:key/1234abcd", false},
		{"arn:aws:kms:us-east-1:111122223333:key/1234/abcd", false},
		{"arn:aws:kms:us-east-1:111122223333:key/1234 abcd", false},
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd\x00", false},
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd:x", false},
		{"", false},
	} {
		if got := lifecycle.IsKeyARN(tt.arn); got != tt.want {
			t.Errorf("IsKeyARN(%q) = %v; want %v", tt.arn, got, tt.want)
		}
	}
}
