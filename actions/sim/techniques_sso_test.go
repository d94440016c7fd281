package sim

import (
	"context"
	"strings"
	"testing"
)

// icSetup gives catalogueOrg an Identity Center whose compromised user
// mallory has AdministratorAccess in the member account.
func icSetup(t *testing.T, o *Org) {
	t.Helper()
	must(t, o.EnableIdentityCenter())
	_, err := o.AddICUser("mallory", true)
	must(t, err)
	_, err = o.AddICPermissionSet("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess")
	must(t, err)
	must(t, o.AssignIC("AdministratorAccess", "USER", "mallory", memberID))
}

// ssoSessionCase: one portal call for the session, one snapshot deleted
// and a backdoor user made with it; refused when the assignment is gone.
func ssoSessionCase() techniqueCase {
	return techniqueCase{calls: 5, setup: icSetup,
		check: func(t *testing.T, o *Org, eff Effect) {
			if len(eff.Creds) != 3 || !strings.Contains(eff.Creds[0].Principal, ":assumed-role/AWSReservedSSO_AdministratorAccess_") || eff.Creds[0].SessionIssued.IsZero() {
				t.Fatalf("creds %+v", eff.Creds)
			}
			if len(eff.Lost) != 1 || eff.Lost[0].Kind != "snapshot" {
				t.Fatalf("lost %v", eff.Lost)
			}
		},
		refuse: func(t *testing.T, o *Org) {
			o.mu.Lock()
			o.ic.assignments = nil
			o.mu.Unlock()
		}}
}

// TestSSOSessionOutlivesItsAssignment: as in AWS, removing an assignment
// stops new portal sessions but not one already issued; the provisioned
// role has the reserved path, trusts SAML, and SCPs bind it in a member.
func TestSSOSessionOutlivesItsAssignment(t *testing.T) {
	o := catalogueOrg(t)
	icSetup(t, o)
	c, err := o.SSORoleCredentials(context.Background(), "mallory", "AdministratorAccess", memberID)
	must(t, err)
	role := o.ICRoleName("AdministratorAccess", memberID)
	st := o.Snapshot(memberID)
	found := false
	for _, r := range st.Roles {
		if r.Name == role {
			found = strings.HasPrefix(r.Arn, "arn:aws:iam::"+memberID+":role/aws-reserved/sso.amazonaws.com/") && strings.Contains(r.Trust, "AssumeRoleWithSAML")
		}
	}
	if !found {
		t.Fatalf("role %s not provisioned under /aws-reserved/sso.amazonaws.com/ trusting SAML: %+v", role, st.Roles)
	}
	o.mu.Lock()
	o.ic.assignments = nil
	o.mu.Unlock()
	if _, err := o.SSORoleCredentials(context.Background(), "mallory", "AdministratorAccess", memberID); !isErr[*Denied](err) {
		t.Errorf("new session without an assignment: %v", err)
	}
	if err := o.Authorize(c, "ec2:DeleteSnapshot", "*"); err != nil {
		t.Errorf("issued session after the assignment went: %v", err)
	}
	attachSCP(t, o, "DenyAll", denyDoc([]string{"ec2:DeleteSnapshot"}, ""), memberID)
	if err := o.Authorize(c, "ec2:DeleteSnapshot", "*"); !isErr[*Denied](err) {
		t.Errorf("an SCP does not bind the SSO session in a member: %v", err)
	}
}
