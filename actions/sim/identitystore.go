package sim

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/types"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// identityStoreClient is the Identity Center identity store (users,
// groups, memberships) as the bot in one account; only the instance's own
// account sees it.
type identityStoreClient struct{ c *conn }

var _ awsapi.IdentityStore = (*identityStoreClient)(nil)

func (c *identityStoreClient) store(id *string) (*identityCenter, error) {
	ic := c.c.o.ic
	if id == nil || *id == "" {
		return nil, &types.ValidationException{Message: aws.String("IdentityStoreId is required")}
	}
	if ic == nil || ic.home != c.c.account || ic.storeID != *id {
		return nil, &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("Identity store %s does not exist", clip(*id))), ResourceType: types.ResourceTypeIdentityStore}
	}
	return ic, nil
}

func storePage(max *int32, tok *string) (string, int, error) {
	n := 100
	if max != nil {
		if *max < 1 || *max > 100 {
			return "", 0, &types.ValidationException{Message: aws.String("MaxResults must be between 1 and 100")}
		}
		n = int(*max)
	}
	start, ok := decodeToken(tok)
	if !ok {
		return "", 0, &types.ValidationException{Message: aws.String("Invalid NextToken")}
	}
	return start, n, nil
}

// storePageOf is the page of sorted keys that MaxResults and NextToken
// ask for, and the next token.
func storePageOf(keys []string, max *int32, tok *string) ([]string, *string, error) {
	start, n, err := storePage(max, tok)
	if err != nil {
		return nil, nil, err
	}
	page, next, more := pageSorted(keys, start, n, nil)
	return page, nextToken(next, more), nil
}

func (c *identityStoreClient) ListUsers(ctx context.Context, in *identitystore.ListUsersInput, _ ...func(*identitystore.Options)) (*identitystore.ListUsersOutput, error) {
	in = orEmpty(in)
	out := &identitystore.ListUsersOutput{}
	return call(ctx, c.c, "IdentityStore", "ListUsers", nil, out, func(*account) error {
		ic, err := c.store(in.IdentityStoreId)
		if err != nil {
			return err
		}
		page, next, err := storePageOf(sortedMapKeys(ic.users), in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		for _, id := range page {
			u := ic.users[id]
			out.Users = append(out.Users, types.User{UserId: aws.String(u.id), UserName: aws.String(u.name), DisplayName: aws.String(u.name), IdentityStoreId: aws.String(ic.storeID)})
		}
		out.NextToken = next
		return nil
	})
}

func (c *identityStoreClient) ListGroups(ctx context.Context, in *identitystore.ListGroupsInput, _ ...func(*identitystore.Options)) (*identitystore.ListGroupsOutput, error) {
	in = orEmpty(in)
	out := &identitystore.ListGroupsOutput{}
	return call(ctx, c.c, "IdentityStore", "ListGroups", nil, out, func(*account) error {
		ic, err := c.store(in.IdentityStoreId)
		if err != nil {
			return err
		}
		page, next, err := storePageOf(sortedMapKeys(ic.groups), in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		for _, id := range page {
			g := ic.groups[id]
			out.Groups = append(out.Groups, types.Group{GroupId: aws.String(g.id), DisplayName: aws.String(g.name), IdentityStoreId: aws.String(ic.storeID)})
		}
		out.NextToken = next
		return nil
	})
}

func (c *identityStoreClient) DescribeUser(ctx context.Context, in *identitystore.DescribeUserInput, _ ...func(*identitystore.Options)) (*identitystore.DescribeUserOutput, error) {
	in = orEmpty(in)
	out := &identitystore.DescribeUserOutput{}
	return call(ctx, c.c, "IdentityStore", "DescribeUser", nil, out, func(*account) error {
		ic, err := c.store(in.IdentityStoreId)
		if err != nil {
			return err
		}
		u := ic.users[str(in.UserId)]
		if u == nil {
			return &types.ResourceNotFoundException{Message: aws.String("User not found"), ResourceType: types.ResourceTypeUser, ResourceId: in.UserId}
		}
		out.UserId, out.UserName, out.DisplayName, out.IdentityStoreId = aws.String(u.id), aws.String(u.name), aws.String(u.name), aws.String(ic.storeID)
		return nil
	})
}

func (c *identityStoreClient) DescribeGroup(ctx context.Context, in *identitystore.DescribeGroupInput, _ ...func(*identitystore.Options)) (*identitystore.DescribeGroupOutput, error) {
	in = orEmpty(in)
	out := &identitystore.DescribeGroupOutput{}
	return call(ctx, c.c, "IdentityStore", "DescribeGroup", nil, out, func(*account) error {
		ic, err := c.store(in.IdentityStoreId)
		if err != nil {
			return err
		}
		g := ic.groups[str(in.GroupId)]
		if g == nil {
			return &types.ResourceNotFoundException{Message: aws.String("Group not found"), ResourceType: types.ResourceTypeGroup, ResourceId: in.GroupId}
		}
		out.GroupId, out.DisplayName, out.IdentityStoreId = aws.String(g.id), aws.String(g.name), aws.String(ic.storeID)
		return nil
	})
}

func (c *identityStoreClient) ListGroupMemberships(ctx context.Context, in *identitystore.ListGroupMembershipsInput, _ ...func(*identitystore.Options)) (*identitystore.ListGroupMembershipsOutput, error) {
	in = orEmpty(in)
	out := &identitystore.ListGroupMembershipsOutput{}
	return call(ctx, c.c, "IdentityStore", "ListGroupMemberships", nil, out, func(*account) error {
		ic, err := c.store(in.IdentityStoreId)
		if err != nil {
			return err
		}
		g := ic.groups[str(in.GroupId)]
		if g == nil {
			return &types.ResourceNotFoundException{Message: aws.String("Group not found"), ResourceType: types.ResourceTypeGroup, ResourceId: in.GroupId}
		}
		members := append([]string(nil), g.members...)
		sort.Strings(members)
		page, next, err := storePageOf(members, in.MaxResults, in.NextToken)
		if err != nil {
			return err
		}
		for _, uid := range page {
			out.GroupMemberships = append(out.GroupMemberships, types.GroupMembership{GroupId: aws.String(g.id), IdentityStoreId: aws.String(ic.storeID),
				MembershipId: aws.String(o2id(c.c.o, ic, g.id+"/"+uid)), MemberId: &types.MemberIdMemberUserId{Value: uid}})
		}
		out.NextToken = next
		return nil
	})
}

func o2id(o *Org, ic *identityCenter, what string) string { return o.icID(ic, "membership/"+what) }
