package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/killswitch/killswitch/actions"
)

// cmdDrill runs lockdown on a simulated organization, offline, and prints
// the plan and the result. (The scripted attacker and the scorecard of
// CONTRACT.md's drill report come with the drills work; until then this is
// the rehearsal of the containment itself.)
func cmdDrill(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("drill", out)
	scenario := fs.String("scenario", "codespaces", "a built-in simulated organization (codespaces, org) or a sim YAML file")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("drill takes no arguments (got %q); try: killswitch drill --scenario codespaces", pos[0])
	}
	cfg, err := configFlag("")
	if err != nil {
		return err
	}
	e, err := newEnv(ctx, cfg, *scenario, nil)
	if err != nil {
		return err
	}
	opt := actions.Options{RequestID: "drill-" + time.Now().UTC().Format("20060102T150405")}
	plan, err := e.engine.Plan(ctx, actions.Lockdown, e.all, opt)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := e.engine.Apply(ctx, actions.Lockdown, e.all, opt, nil)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if *asJSON {
		return writeJSON(out, map[string]any{"scenario": *scenario, "plan": plan, "result": res, "apply_seconds": took.Seconds()})
	}
	fmt.Fprintf(out, "drill on the simulated organization %q: lockdown\n\n", *scenario)
	printPlan(out, plan)
	fmt.Fprintln(out)
	printResult(out, res)
	fmt.Fprintf(out, "\napplied in %s\n", took.Round(time.Millisecond))
	if res.Status != actions.StatusSucceeded {
		return fmt.Errorf("lockdown %s", res.Status)
	}
	return nil
}
