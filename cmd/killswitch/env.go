package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/actions/awsapi"
	"github.com/killswitch/killswitch/actions/sim"
)

// env is the engine wired from a configuration.
type env struct {
	cfg      *Config
	org      *sim.Org // the simulated organization, when backend is sim
	provider awsapi.Provider
	engine   *actions.Engine
	all      []string // the accounts of --all
}

// openSim returns a built-in simulated organization or one loaded from a
// YAML file.
func openSim(name string) (*sim.Org, error) {
	for _, b := range sim.BuiltinNames() {
		if name == b {
			return sim.Builtin(name)
		}
	}
	if strings.ContainsAny(name, "/.") {
		if _, err := os.Stat(name); err == nil {
			org, err := sim.LoadFile(name)
			if err != nil {
				// a mistake in the file is a usage or configuration error (exit 2)
				if !strings.Contains(err.Error(), name) {
					err = fmt.Errorf("%s: %w", name, err)
				}
				return nil, &configError{fmt.Errorf("--sim %s: not a valid organization file: %w", name, err)}
			}
			return org, nil
		}
	}
	return nil, usagef("--sim %q: not a built-in organization (%s) nor a readable YAML file", name, strings.Join(sim.BuiltinNames(), ", "))
}

// newEnv builds the engine. simOverride (the --sim flag) forces the
// simulated backend.
func newEnv(ctx context.Context, cfg *Config, simOverride string, onCall func(actions.Call)) (*env, error) {
	e := &env{cfg: cfg}
	backend := cfg.AWS.Backend
	simName := cfg.AWS.Sim
	if simOverride != "" {
		backend, simName = "sim", simOverride
	}
	switch backend {
	case "sim":
		org, err := openSim(simName)
		if err != nil {
			return nil, err
		}
		e.org = org
		e.provider = org.Provider(cfg.AWS.RoleName)
		e.all = org.Accounts()
		if len(cfg.AWS.Accounts) > 0 && simOverride == "" {
			e.all = cfg.AWS.Accounts
		}
	case "aws":
		p, all, err := awsProvider(ctx, cfg)
		if err != nil {
			return nil, err
		}
		e.provider, e.all = p, all
	default:
		return nil, &configError{fmt.Errorf("aws.backend %q: aws or sim", backend)}
	}
	eng, err := actions.New(e.provider, actions.Config{
		BreakGlassPatterns: cfg.BreakGlass.Principals,
		BreakGlassTag:      cfg.BreakGlass.Tag,
		BreakGlassICUsers:  cfg.BreakGlass.IdentityCenterUsers,
		BreakGlassICGroups: cfg.BreakGlass.IdentityCenterGroups,
		BotRoleName:        cfg.AWS.RoleName,
		Concurrency:        cfg.AWS.Concurrency,
		PerAccount:         cfg.AWS.PerAccount,
		Regions:            cfg.AWS.Regions,
		ConfirmTimeout:     cfg.AWS.ConfirmTimeout,
		OnCall:             onCall,
		BaselineMinAge:     cfg.BreakGlass.BaselineAge,
	})
	if err != nil {
		return nil, &configError{err}
	}
	e.engine = eng
	return e, nil
}

// scope resolves --accounts / --all against the configured accounts.
func (e *env) scope(accounts string, all bool) ([]string, error) {
	if accounts != "" && all {
		return nil, usagef("give --accounts or --all, not both")
	}
	if accounts == "" {
		return e.all, nil
	}
	ids := splitList(accounts)
	known := map[string]bool{}
	for _, a := range e.all {
		known[a] = true
	}
	for _, id := range ids {
		if !actions.ValidAccountID(id) {
			return nil, usagef("--accounts: %q is not an account id (12 digits, e.g. 111122223333)", id)
		}
		if !known[id] {
			return nil, usagef("--accounts: %s is not one of the configured accounts (%s)", id, strings.Join(e.all, ", "))
		}
	}
	if len(ids) == 0 {
		return nil, usagef("--accounts is empty: give account ids like 111122223333,444455556666 or use --all")
	}
	return ids, nil
}
