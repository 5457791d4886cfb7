// Package org is the STS adapter of a whole organization: the names that tie the central stack's backfill and
// reconcile to the member accounts' read-only role, and AWS configurations that act in a member account through
// that role (roles.go). template.yaml and deploy/member.yaml spell the same names; the template tests compare
// them with these constants.
package org

// The IAM names both templates share.
const (
	// CentralRolePath is the path of the central account's roles that member accounts trust: BackfillFunction's
	// and ReconcileFunction's RolePath, and the role a person uses to run the CLI across the organization.
	CentralRolePath = "/grantwatch/central/"
	// MemberRolePath and MemberRoleName place the read-only role deploy/member.yaml creates in every member
	// account, so that the central account can name it in any account without asking.
	MemberRolePath = "/grantwatch/"
	MemberRoleName = "grantwatch-member-reader"
)

// Session names that say, in a member account's CloudTrail, which part of grantwatch assumed its role.
const (
	BackfillSession  = "grantwatch-backfill"
	ReconcileSession = "grantwatch-reconcile"
)

// MemberRoleARN is the read-only role of account, in partition (aws, aws-cn, aws-us-gov, ...).
func MemberRoleARN(partition, account string) string {
	return "arn:" + partition + ":iam::" + account + ":role" + MemberRolePath + MemberRoleName
}
