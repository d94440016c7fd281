package sim

// orgIdentityCenter gives the built-in "org" its IAM Identity Center: users
// alice (whose access-portal sign-in the intruder holds), bob and
// breakglass-ic (the break-glass Identity Center user); groups Admins
// (alice), ReadOnly (bob) and BreakGlass (breakglass-ic); permission sets
// AdministratorAccess, ReadOnlyAccess and BreakGlassAccess. Admins has
// AdministratorAccess in prod and staging, alice also directly in sandbox,
// ReadOnly has ReadOnlyAccess everywhere, and breakglass-ic has
// BreakGlassAccess everywhere, the management account included.
func orgIdentityCenter(o *Org) error {
	if err := o.EnableIdentityCenter(); err != nil {
		return err
	}
	for _, u := range []struct {
		name        string
		compromised bool
	}{{"alice", true}, {"bob", false}, {"breakglass-ic", false}} {
		if _, err := o.AddICUser(u.name, u.compromised); err != nil {
			return err
		}
	}
	for g, m := range map[string]string{"Admins": "alice", "ReadOnly": "bob", "BreakGlass": "breakglass-ic"} {
		if _, err := o.AddICGroup(g, m); err != nil {
			return err
		}
	}
	for ps, p := range map[string]string{"AdministratorAccess": adminARN, "ReadOnlyAccess": readOnlyARN, "BreakGlassAccess": adminARN} {
		if _, err := o.AddICPermissionSet(ps, p); err != nil {
			return err
		}
	}
	type as struct{ ps, ptype, who, acct string }
	list := []as{
		{"AdministratorAccess", "GROUP", "Admins", "222222222222"},
		{"AdministratorAccess", "GROUP", "Admins", "333333333333"},
		{"AdministratorAccess", "USER", "alice", "555555555555"},
	}
	for _, acct := range o.Accounts() {
		list = append(list, as{"ReadOnlyAccess", "GROUP", "ReadOnly", acct}, as{"BreakGlassAccess", "USER", "breakglass-ic", acct})
	}
	for _, x := range list {
		if err := o.AssignIC(x.ps, x.ptype, x.who, x.acct); err != nil {
			return err
		}
	}
	return nil
}
