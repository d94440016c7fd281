// Package sim is an in-memory simulated AWS Organization for drills, --sim
// and tests. It implements the actions/awsapi interfaces (IAM,
// Organizations, STS, Secrets Manager) with the AWS semantics killswitch
// depends on, and plays the intruder through Authorize, Destroy and the
// Attacker* helpers.
//
// # What matches AWS
//
//   - Typed errors from the SDK's types packages, wrapped in
//     *smithy.OperationError like the SDK does, so errors.As works:
//     NoSuchEntity, EntityAlreadyExists, LimitExceeded, UnmodifiableEntity,
//     MalformedPolicyDocument, DeleteConflict (IAM); AWSOrganizationsNotInUse,
//     AccessDenied, DuplicatePolicyAttachment, PolicyNotAttached,
//     PolicyTypeNotEnabled, PolicyTypeAlreadyEnabled, ConstraintViolation
//     (POLICY_NUMBER_LIMIT_EXCEEDED, POLICY_CONTENT_LIMIT_EXCEEDED,
//     MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED), DuplicatePolicy,
//     PolicyNotFound, PolicyInUse, TargetNotFound (Organizations);
//     ResourceExists, ResourceNotFound (Secrets Manager). Missing required
//     parameters fail with smithy.InvalidParamsError like the SDK's
//     client-side validation. Throttle faults return
//     &smithy.GenericAPIError{Code: "Throttling"}.
//   - Pagination: IAM MaxItems (default 100, 1-1000) with Marker and
//     IsTruncated; Organizations MaxResults (default and maximum 20) with
//     NextToken. SDK paginators (iam.NewListUsersPaginator, ...) work.
//   - ListUsers and ListRoles return no tags (use ListUserTags and
//     ListRoleTags); policy documents from ListRoles, GetUserPolicy,
//     GetRolePolicy and GetPolicyVersion are URL-encoded (RFC 3986), so
//     url.QueryUnescape restores them.
//   - Users: login profiles, at most two access keys (AKIA ids, 40-character
//     secrets), SSH keys, service-specific credentials; inline policies with
//     the aggregate size limits (user 2,048, group 5,120, role 10,240
//     non-white-space characters); managed policies (6,144 characters, at
//     most 10 per user, group or role; attaching twice succeeds silently,
//     detaching what is not attached is NoSuchEntity).
//   - Service-linked roles (path /aws-service-role/) and IAM Identity Center
//     roles (path /aws-reserved/sso.amazonaws.com/, named AWSReservedSSO_*)
//     refuse PutRolePolicy, DeleteRolePolicy, AttachRolePolicy and
//     DetachRolePolicy with UnmodifiableEntityException.
//   - Organizations: DescribeOrganization works from every member account
//     (AWSOrganizationsNotInUseException when standalone); everything else
//     only from the management account (AccessDeniedException).
//     EnablePolicyType attaches FullAWSAccess (p-FullAWSAccess) to the root,
//     every OU and every account (and to accounts and OUs added later). SCPs:
//     5,120 characters including white space, at most 5 per target, the
//     last one of a target cannot be detached.
//   - Secrets Manager: secrets per account, versions with AWSCURRENT and
//     AWSPREVIOUS, idempotent retries with the same ClientRequestToken.
//   - STS GetCallerIdentity returns
//     arn:aws:sts::ACCOUNT:assumed-role/ROLE/killswitch[-REQUEST_ID].
//
// # The bot is a principal too
//
// Org.Provider creates the bot role in every account. Each API call (except
// GetCallerIdentity) is authorized like Authorize for a session of that
// role issued when Provider.Clients was called, so a session-revocation deny
// or an SCP that does not exempt the bot stops the bot's own calls with the
// service's AccessDenied error, exactly as it would in AWS.
//
// # The intruder
//
// Authorize answers whether a credential could make a call now (see
// Credential for what keeps a key, a console password or a session valid,
// and Authorize for the policy evaluation: explicit denies in identity
// policies and SCPs, SCP allow-lists, conditions on aws:TokenIssueTime,
// aws:PrincipalArn, aws:PrincipalTag/KEY and more; unknown condition
// operators make Deny statements match). Destroy deletes a data resource
// when allowed; AttackerCreateUser, AttackerCreateAccessKey,
// AttackerCreateLoginProfile, AttackerSetAccessKeyStatus,
// AttackerDeleteUserPolicy and AttackerCreateRole are the intruder's IAM
// moves.
//
// Techniques is the intruder's technique catalogue (persistence, guardrail
// removal, impact, blinding, exfiltration, SCP and Organization moves),
// each a sequence of Org.Act calls with the real IAM action names, so every
// call takes its latency on the drill clock and is authorized like the
// bot's. Their writes are modelled: iam:CreatePolicyVersion (v2..., at most
// five versions, the new default applying once propagated),
// iam:DeletePolicyVersion, iam:DeleteUser (after its credentials, policies
// and groups, like AWS; calls naming the user then answer NoSuchEntity),
// iam:RemoveUserFromGroup, iam:UpdateAssumeRolePolicy, sts:AssumeRole
// (trust policies are evaluated without their conditions),
// organizations:DisablePolicyType (detaches every SCP) and
// organizations:LeaveOrganization (the account is standalone: no SCP applies,
// DescribeOrganization answers AWSOrganizationsNotInUse, ListAccounts omits
// it). ResourceStates lists data resources with those destroyed, made
// unrecoverable, blinded or exposed, and how.
//
// # Not modelled
//
// Permission boundaries, resource-based policies (bucket and key policies:
// a locked-out KMS key is only recorded as lost), session policies, policy
// variables, MFA on GetSessionToken sessions (AWS refuses them IAM and STS
// calls), conditions in trust policies, the bot's API for policy versions
// (CreatePolicyVersion is the intruder's only), deleting roles and groups,
// non-empty backup vaults and buckets refusing deletion (the techniques
// empty buckets first), OUs other than by name path, SCP types
// other than SERVICE_CONTROL_POLICY, source IP and MFA context keys, regions
// (everything is us-east-1), eventual consistency.
//
// # YAML organization files
//
// Load and LoadFile read one YAML document. Unknown keys are errors, and
// every value is validated as hostile input: account ids are 12 digits,
// names and paths follow IAM rules, at most 1000 accounts, 100,000
// principals (users, roles, groups, generated ones included), 100,000
// resources, 1,500 policies per account, 50 tags, 2 access keys, 5 SSH
// keys, 2 service credentials, 10 groups and 10 managed policies per user,
// policy size limits as in IAM, and a file of at most 8 MiB. Missing
// creation dates default to BaseTime (2026-01-01T00:00:00Z), so loads are
// deterministic.
//
//	organization: true            # false/absent = standalone (exactly one account)
//	scp_enabled: true             # organization only: enable SCPs (FullAWSAccess everywhere)
//	accounts:
//	  - id: "111111111111"
//	    name: management
//	    management: true          # exactly one when organization: true
//	  - id: "111122223333"        # quote ids: they are strings of 12 digits
//	    name: prod                # 1-50 characters; default account-<id>
//	    ou: Prod/Web              # members only: OU name path, created on first use (max 5 levels)
//	    policies:                 # customer managed policies: arn:aws:iam::111122223333:policy<path><name>
//	      - name: DenyIAMWrite
//	        path: /               # optional, default /
//	        description: no IAM changes
//	        document: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:Create*","Resource":"*"}]}'
//	    groups:                   # before the users that name them
//	      - name: Developers
//	        path: /
//	        inline_policies: {}
//	        managed_policies: [arn:aws:iam::aws:policy/PowerUserAccess]
//	    users:
//	      - name: alice
//	        path: /
//	        password: true        # has a login profile (console password)
//	        tags: {team: web}
//	        access_keys:          # at most 2; active defaults to true; id generated (AKIA...) when absent
//	          - {active: true}
//	          - {id: AKIAEXAMPLE000000001, active: false, created: 2025-06-01T00:00:00Z}
//	        ssh_keys: 1           # SSH public keys, Active
//	        service_credentials: 1  # CodeCommit credentials, Active
//	        groups: [Developers]
//	        inline_policies: {name: '{"Version":"2012-10-17","Statement":[]}'}
//	        managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::111122223333:policy/DenyIAMWrite]
//	        created: 2025-01-15T09:00:00Z
//	    roles:
//	      - {name: BreakGlassAdmin, managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]}
//	      - {name: AWSServiceRoleForSupport, path: /aws-service-role/support.amazonaws.com/}
//	      - {name: AWSReservedSSO_AdministratorAccess_abc123}   # path defaults to /aws-reserved/sso.amazonaws.com/
//	      - name: vendor-audit
//	        description: third-party auditor
//	        tags: {owner: security}
//	        trust: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]}'
//	        inline_policies: {}
//	        managed_policies: []
//	        created: 2025-03-01T00:00:00Z
//	    generate: {users: 150, roles: 20}   # bulk principals user-0001..., role-0001...
//	    resources:                # kinds: see ResourceKinds (snapshot ami volume instance bucket object object-version backup backup-vault db-instance db-snapshot table table-backup kms-key dlm-policy rbin-rule log-group trail guardduty-detector config-recorder)
//	      snapshot: [snap-0a1]
//	      bucket: [codespaces-backups]
//	faults:                       # optional: make calls fail or slow (drills, tests)
//	  - {account: "111122223333", operation: UpdateAccessKey, latency: 500ms}   # times: 0 = every call
//	  - {account: "111122223333", operation: "*", throttle: true, times: 3}
//
// A role with no trust trusts its own account (a service-linked role its
// service, an Identity Center role its SAML provider). Managed policy ARNs
// must name an AWS managed policy the simulation knows (AWSManagedPolicies)
// or a policy of the same account.
//
// Generated users are deterministic: user-N has the tag team, path
// /generated/ when N is a multiple of 10, a console password when N is a
// multiple of 3, one access key (Inactive when N is a multiple of 7) and a
// second Active one when N is a multiple of 5, an SSH key every 10th user
// and a service credential every 25th; user-N was created N minutes after
// BaseTime.
package sim
