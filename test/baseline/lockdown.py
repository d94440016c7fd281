#!/usr/bin/env python3
"""A plain sequential lockdown with boto3: the baseline killswitch is timed against.

It does less than killswitch's lockdown, one call after another:
  1. from the management account, create a small deny SCP and attach it to
     every member account (no confirmation that it is in effect);
  2. in every account (the management account first, then the members, one
     at a time), as the responder role:
       - every user except the break-glass ones (by tag): delete the login
         profile, deactivate every access key;
       - every user and role except the exempt ones (the responder role,
         break-glass roles by name prefix, service-linked and IAM Identity
         Center roles): put an inline policy denying sessions issued before now.
It records nothing (no prior state, no undo), reads no SSH keys or service
credentials, does not re-read anything and does not check its own work.

Credentials come from the environment (AWS_ACCESS_KEY_ID, ...), the endpoint
from --endpoint. It prints one JSON line: {"seconds": ..., "calls": ...,
"accounts": ..., "users": ..., "roles": ...}, seconds measured from after
boto3 is imported to the last change (the interpreter's start-up is not
containment work).
"""

import argparse
import json
import sys
import time

T0 = None
CALLS = 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True, help="AWS endpoint URL (the emulator)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--role", default="KillSwitchResponder", help="role assumed in every account")
    p.add_argument("--break-glass-tag", default="killswitch:break-glass")
    p.add_argument("--break-glass-role-prefix", default="BreakGlass")
    p.add_argument("--scp-name", default="baseline-deny-destructive")
    return p.parse_args(argv)


def count(event_name=None, **_):
    global CALLS
    CALLS += 1


def client(session, service, args):
    c = session.client(service, endpoint_url=args.endpoint, region_name=args.region)
    c.meta.events.register("before-call.*.*", count)
    return c


def assume(base, account, args):
    import boto3

    sts = client(base, "sts", args)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{args.role}",
        RoleSessionName="baseline-lockdown",
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


DENY_SCP = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "DenyDestructive",
        "Effect": "Deny",
        "Action": [
            "ec2:Delete*", "ec2:TerminateInstances", "s3:DeleteBucket", "s3:DeleteObject*",
            "rds:Delete*", "backup:Delete*", "kms:ScheduleKeyDeletion", "cloudtrail:DeleteTrail",
            "cloudtrail:StopLogging", "iam:Create*", "iam:Delete*", "iam:Put*", "iam:Attach*",
            "iam:Update*", "organizations:LeaveOrganization",
        ],
        "Resource": "*",
    }],
}


def attach_scp(orgs, args):
    """Creates the deny SCP and attaches it to every member; returns the accounts."""
    mgmt = orgs.describe_organization()["Organization"]["MasterAccountId"]
    accounts = []
    for page in orgs.get_paginator("list_accounts").paginate():
        accounts += [a["Id"] for a in page["Accounts"] if a["Status"] == "ACTIVE"]
    root = orgs.list_roots()["Roots"][0]
    if not any(t["Type"] == "SERVICE_CONTROL_POLICY" and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", [])):
        orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    scp = orgs.create_policy(
        Name=args.scp_name, Description="baseline lockdown", Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(DENY_SCP),
    )["Policy"]["PolicySummary"]["Id"]
    members = [a for a in accounts if a != mgmt]
    for a in members:
        orgs.attach_policy(PolicyId=scp, TargetId=a)
    return [mgmt] + sorted(members)


def revoke_doc(now):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}},
        }],
    })


def exempt_role(role, args):
    name, path = role["RoleName"], role.get("Path", "/")
    return (name == args.role or name.startswith(args.break_glass_role_prefix)
            or path.startswith("/aws-service-role/") or path.startswith("/aws-reserved/sso.amazonaws.com/"))


def contain_account(session, args, doc, totals):
    iam = client(session, "iam", args)
    for page in iam.get_paginator("list_users").paginate():
        for u in page["Users"]:
            name = u["UserName"]
            tags = iam.list_user_tags(UserName=name)["Tags"]
            if any(t["Key"] == args.break_glass_tag for t in tags):
                continue
            try:
                iam.delete_login_profile(UserName=name)
            except iam.exceptions.NoSuchEntityException:
                pass
            for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                if k["Status"] == "Active":
                    iam.update_access_key(UserName=name, AccessKeyId=k["AccessKeyId"], Status="Inactive")
            iam.put_user_policy(UserName=name, PolicyName="baseline-deny-old-sessions", PolicyDocument=doc)
            totals["users"] += 1
    for page in iam.get_paginator("list_roles").paginate():
        for r in page["Roles"]:
            if exempt_role(r, args):
                continue
            iam.put_role_policy(RoleName=r["RoleName"], PolicyName="baseline-deny-old-sessions", PolicyDocument=doc)
            totals["roles"] += 1


def main(argv):
    global T0
    args = parse_args(argv)
    import boto3

    T0 = time.monotonic()
    base = boto3.session.Session()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    doc = revoke_doc(now)
    accounts = attach_scp(client(base, "organizations", args), args)
    totals = {"users": 0, "roles": 0}
    for a in accounts:
        contain_account(assume(base, a, args), args, doc, totals)
    print(json.dumps({"seconds": round(time.monotonic() - T0, 4), "calls": CALLS, "accounts": len(accounts), **totals}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
