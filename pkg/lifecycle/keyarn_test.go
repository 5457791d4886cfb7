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

func TestKeyPlace(t *testing.T) {
	for _, tt := range []struct{ arn, partition, region, account string }{
		{"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "aws", "us-east-1", "111122223333"},
		{"arn:aws-us-gov:kms:us-gov-west-1:444455556666:key/mrk-1234", "aws-us-gov", "us-gov-west-1", "444455556666"},
		{"arn:aws:kms:us-east-1:111122223333:alias/my-key", "", "", ""},
		{"", "", "", ""},
	} {
		p, r, a := lifecycle.KeyPlace(tt.arn)
		if p != tt.partition || r != tt.region || a != tt.account {
			t.Errorf("KeyPlace(%q) = %q %q %q; want %q %q %q", tt.arn, p, r, a, tt.partition, tt.region, tt.account)
		}
	}
}

func TestAccountAndRegionNames(t *testing.T) {
	for s, want := range map[string]bool{"111122223333": true, "11112222333": false, "1111222233334": false, "11112222333a": false, "": false} {
		if got := lifecycle.IsAccountID(s); got != want {
			t.Errorf("IsAccountID(%q) = %v; want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"us-east-1": true, "us-gov-west-1": true, "eu-isoe-west-1": true, "eusc-de-east-1": true,
		"us-east": false, "us-east-x": false, "US-EAST-1": false, "us--1": false, "useast1": false, "us-east-1 ": false, "": false} {
		if got := lifecycle.IsRegionName(s); got != want {
			t.Errorf("IsRegionName(%q) = %v; want %v", s, got, want)
		}
	}
}
