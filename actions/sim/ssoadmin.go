package sim

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// ssoAdminClient is IAM Identity Center's administration API (sso-admin)
// as the bot in one account. Only the account the instance lives in sees
// it (ListInstances is empty elsewhere, as in a member account that is not
// a delegated administrator).
type ssoAdminClient struct{ c *conn }

var _ awsapi.SSOAdmin = (*ssoAdminClient)(nil)

func ssoNotFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func ssoInvalid(format string, args ...any) error {
	return &types.ValidationException{Message: aws.String(fmt.Sprintf(format, args...))}
}

// instance returns the instance the bot may administer from this account
// and checks the ARN it named.
func (c *ssoAdminClient) instance(arn *string) (*identityCenter, error) {
	ic := c.c.o.ic
	if arn == nil || *arn == "" {
		return nil, ssoInvalid("1 validation error detected: Value null at 'instanceArn' failed to satisfy constraint: Member must not be null")
	}
	if ic == nil || ic.home != c.c.account || ic.instanceARN != *arn {
		return nil, ssoNotFound("Instance %s does not exist", clip(*arn))
	}
	return ic, nil
}

// ssoPage decodes MaxResults (1-100) and NextToken.
func ssoPage(max *int32, tok *string) (string, int, error) {
	n := 100
	if max != nil {
		if *max < 1 || *max > 100 {
			return "", 0, ssoInvalid("1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100")
		}
		n = int(*max)
	}
	start, ok := decodeToken(tok)
	if !ok {
		return "", 0, ssoInvalid("Invalid NextToken")
	}
	return start, n, nil
}

func nextToken(next string, truncated bool) *string {
	if !truncated {
		return nil
	}
	return encodeToken(next)
}

func (c *ssoAdminClient) ListInstances(ctx context.Context, in *ssoadmin.ListInstancesInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.ListInstancesOutput, error) {
	in = orEmpty(in)
	out := &ssoadmin.ListInstancesOutput{}
	return call(ctx, c.c, "SSOAdmin", "ListInstances", nil, out, func(a *account) error {
		if _, _, err := ssoPage(in.MaxResults, in.NextToken); err != nil {
			return err
		}
		if ic := c.c.o.ic; ic != nil && ic.home == a.id {
			out.Instances = []types.InstanceMetadata{{InstanceArn: aws.String(ic.instanceARN), IdentityStoreId: aws.String(ic.storeID),
				OwnerAccountId: aws.String(a.id), Status: types.InstanceStatusActive}}
		}
		return nil
	})
}

func (c *ssoAdminClient) ListPermissionSets(ctx context.Context, in *ssoadmin.ListPermissionSetsInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.ListPermissionSetsOutput, error) {
	in = orEmpty(in)
	out := &ssoadmin.ListPermissionSetsOutput{}
	return call(ctx, c.c, "SSOAdmin", "ListPermissionSets", nil, out, func(*account) error {
		ic, err := c.instance(in.InstanceArn)
		if err != nil {
			return err
		}
		start, max, err := ssoPage(in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		page, next, more := pageSorted(sortedMapKeys(ic.permSets), start, max, nil)
		out.PermissionSets, out.NextToken = page, nextToken(next, more)
		return nil
	})
}

func (c *ssoAdminClient) DescribePermissionSet(ctx context.Context, in *ssoadmin.DescribePermissionSetInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.DescribePermissionSetOutput, error) {
	in = orEmpty(in)
	if in.InstanceArn == nil || in.PermissionSetArn == nil {
		return nil, opErr("SSOAdmin", "DescribePermissionSet", required("DescribePermissionSetInput", "InstanceArn", "PermissionSetArn"))
	}
	out := &ssoadmin.DescribePermissionSetOutput{}
	return call(ctx, c.c, "SSOAdmin", "DescribePermissionSet", nil, out, func(*account) error {
		ic, err := c.instance(in.InstanceArn)
		if err != nil {
			return err
		}
		ps := ic.permSets[*in.PermissionSetArn]
		if ps == nil {
			return ssoNotFound("Could not find PermissionSet with id %s", clip(*in.PermissionSetArn))
		}
		out.PermissionSet = &types.PermissionSet{Name: aws.String(ps.name), PermissionSetArn: aws.String(ps.arn), SessionDuration: aws.String(ps.duration)}
		return nil
	})
}

func (c *ssoAdminClient) ListAccountAssignments(ctx context.Context, in *ssoadmin.ListAccountAssignmentsInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.ListAccountAssignmentsOutput, error) {
	in = orEmpty(in)
	if in.InstanceArn == nil || in.AccountId == nil || in.PermissionSetArn == nil {
		return nil, opErr("SSOAdmin", "ListAccountAssignments", required("ListAccountAssignmentsInput", "AccountId", "InstanceArn", "PermissionSetArn"))
	}
	out := &ssoadmin.ListAccountAssignmentsOutput{}
	return call(ctx, c.c, "SSOAdmin", "ListAccountAssignments", ssoAccountRes(*in.AccountId), out, func(*account) error {
		ic, err := c.instance(in.InstanceArn)
		if err != nil {
			return err
		}
		if ic.permSets[*in.PermissionSetArn] == nil {
			return ssoNotFound("Could not find PermissionSet with id %s", clip(*in.PermissionSetArn))
		}
		start, max, err := ssoPage(in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		byKey := map[string]icAssignment{}
		var keys []string
		for _, as := range ic.assignments {
			if as.account == *in.AccountId && as.ps == *in.PermissionSetArn {
				k := as.ptype + "/" + as.pid
				byKey[k] = as
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		page, next, more := pageSorted(keys, start, max, nil)
		for _, k := range page {
			as := byKey[k]
			out.AccountAssignments = append(out.AccountAssignments, types.AccountAssignment{AccountId: aws.String(as.account),
				PermissionSetArn: aws.String(as.ps), PrincipalId: aws.String(as.pid), PrincipalType: types.PrincipalType(as.ptype)})
		}
		out.NextToken = nextToken(next, more)
		return nil
	})
}

func ssoAccountRes(id string) func(*account) string {
	return func(*account) string { return "arn:aws:sso:::account/" + id }
}

// assignmentOf checks a Create/Delete request's fields.
func (c *ssoAdminClient) assignmentOf(instance, target *string, ttype types.TargetType, ps *string, ptype types.PrincipalType, pid *string) (*identityCenter, icAssignment, error) {
	ic, err := c.instance(instance)
	if err != nil {
		return nil, icAssignment{}, err
	}
	as := icAssignment{ps: str(ps), ptype: string(ptype), pid: str(pid), account: str(target)}
	switch {
	case ttype != types.TargetTypeAwsAccount:
		return nil, as, ssoInvalid("TargetType must be AWS_ACCOUNT")
	case len(as.account) != 12:
		return nil, as, ssoInvalid("TargetId %s is not an AWS account id", clip(as.account))
	case c.c.o.accounts[as.account] == nil:
		return nil, as, ssoNotFound("account %s is not in the organization", as.account)
	case ic.permSets[as.ps] == nil:
		return nil, as, ssoNotFound("Could not find PermissionSet with id %s", clip(as.ps))
	case as.ptype == "USER" && ic.users[as.pid] == nil, as.ptype == "GROUP" && ic.groups[as.pid] == nil:
		return nil, as, ssoNotFound("%s %s does not exist in the identity store", as.ptype, clip(as.pid))
	case as.ptype != "USER" && as.ptype != "GROUP":
		return nil, as, ssoInvalid("PrincipalType must be USER or GROUP")
	}
	return ic, as, nil
}

// request records an asynchronous request: the change is made now and
// reported IN_PROGRESS; Describe...Status reports it SUCCEEDED.
func (c *ssoAdminClient) request(ic *identityCenter, as icAssignment, create bool) *types.AccountAssignmentOperationStatus {
	ic.seq++
	o := c.c.o
	id := o.icID(ic, fmt.Sprintf("request/%d", ic.seq))
	ic.requests[id] = icRequest{id: id, status: string(types.StatusValuesSucceeded), a: as, create: create}
	now := o.now()
	return &types.AccountAssignmentOperationStatus{RequestId: aws.String(id), Status: types.StatusValuesInProgress, CreatedDate: &now,
		PermissionSetArn: aws.String(as.ps), PrincipalId: aws.String(as.pid), PrincipalType: types.PrincipalType(as.ptype),
		TargetId: aws.String(as.account), TargetType: types.TargetTypeAwsAccount}
}

func (c *ssoAdminClient) CreateAccountAssignment(ctx context.Context, in *ssoadmin.CreateAccountAssignmentInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.CreateAccountAssignmentOutput, error) {
	in = orEmpty(in)
	out := &ssoadmin.CreateAccountAssignmentOutput{}
	return call(ctx, c.c, "SSOAdmin", "CreateAccountAssignment", ssoAccountRes(str(in.TargetId)), out, func(*account) error {
		ic, as, err := c.assignmentOf(in.InstanceArn, in.TargetId, in.TargetType, in.PermissionSetArn, in.PrincipalType, in.PrincipalId)
		if err != nil {
			return err
		}
		if err := c.c.o.assignLocked(ic, as, c.c.o.now()); err != nil {
			return err
		}
		out.AccountAssignmentCreationStatus = c.request(ic, as, true)
		return nil
	})
}

func (c *ssoAdminClient) DeleteAccountAssignment(ctx context.Context, in *ssoadmin.DeleteAccountAssignmentInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.DeleteAccountAssignmentOutput, error) {
	in = orEmpty(in)
	out := &ssoadmin.DeleteAccountAssignmentOutput{}
	return call(ctx, c.c, "SSOAdmin", "DeleteAccountAssignment", ssoAccountRes(str(in.TargetId)), out, func(*account) error {
		ic, as, err := c.assignmentOf(in.InstanceArn, in.TargetId, in.TargetType, in.PermissionSetArn, in.PrincipalType, in.PrincipalId)
		if err != nil {
			return err
		}
		kept := ic.assignments[:0]
		found := false
		for _, x := range ic.assignments {
			if x == as {
				found = true
				continue
			}
			kept = append(kept, x)
		}
		if !found {
			return ssoNotFound("The specified account assignment does not exist")
		}
		ic.assignments = kept
		out.AccountAssignmentDeletionStatus = c.request(ic, as, false)
		return nil
	})
}

func (c *ssoAdminClient) describeRequest(instance, id *string, create bool) (*types.AccountAssignmentOperationStatus, error) {
	ic, err := c.instance(instance)
	if err != nil {
		return nil, err
	}
	r, ok := ic.requests[str(id)]
	if !ok || r.create != create {
		return nil, ssoNotFound("Request %s does not exist", clip(str(id)))
	}
	return &types.AccountAssignmentOperationStatus{RequestId: aws.String(r.id), Status: types.StatusValues(r.status),
		PermissionSetArn: aws.String(r.a.ps), PrincipalId: aws.String(r.a.pid), PrincipalType: types.PrincipalType(r.a.ptype),
		TargetId: aws.String(r.a.account), TargetType: types.TargetTypeAwsAccount}, nil
}

func (c *ssoAdminClient) DescribeAccountAssignmentCreationStatus(ctx context.Context, in *ssoadmin.DescribeAccountAssignmentCreationStatusInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.DescribeAccountAssignmentCreationStatusOutput, error) {
	in = orEmpty(in)
	out := &ssoadmin.DescribeAccountAssignmentCreationStatusOutput{}
	return call(ctx, c.c, "SSOAdmin", "DescribeAccountAssignmentCreationStatus", nil, out, func(*account) (err error) {
		out.AccountAssignmentCreationStatus, err = c.describeRequest(in.InstanceArn, in.AccountAssignmentCreationRequestId, true)
		return err
	})
}

func (c *ssoAdminClient) DescribeAccountAssignmentDeletionStatus(ctx context.Context, in *ssoadmin.DescribeAccountAssignmentDeletionStatusInput, _ ...func(*ssoadmin.Options)) (*ssoadmin.DescribeAccountAssignmentDeletionStatusOutput, error) {
	in = orEmpty(in)
	out := &ssoadmin.DescribeAccountAssignmentDeletionStatusOutput{}
	return call(ctx, c.c, "SSOAdmin", "DescribeAccountAssignmentDeletionStatus", nil, out, func(*account) (err error) {
		out.AccountAssignmentDeletionStatus, err = c.describeRequest(in.InstanceArn, in.AccountAssignmentDeletionRequestId, false)
		return err
	})
}
