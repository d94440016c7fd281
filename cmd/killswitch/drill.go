package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/killswitch/killswitch/bot/drill"
)

// cmdDrill runs a tabletop exercise offline on the simulated organization
// and prints the timeline and the scorecard (CONTRACT.md's drill report
// with --json).
func cmdDrill(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("drill", out)
	scenario := fs.String("scenario", "codespaces", "a built-in scenario: "+strings.Join(drill.Scenarios(), ", "))
	asJSON := fs.Bool("json", false, "print the drill report as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("drill takes no arguments (got %q); try: killswitch drill --scenario codespaces", pos[0])
	}
	known := false
	for _, s := range drill.Scenarios() {
		known = known || s == *scenario
	}
	if !known {
		return usagef("--scenario %q: choose a built-in scenario (%s); scenario files are not supported yet", *scenario, strings.Join(drill.Scenarios(), ", "))
	}
	cfg, err := configFlag("")
	if err != nil {
		return err
	}
	r, err := drill.Run(ctx, *scenario, drill.Config{BreakGlassPatterns: cfg.BreakGlass.Principals, BreakGlassTag: cfg.BreakGlass.Tag, BotRoleName: cfg.AWS.RoleName})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, r)
	}
	fmt.Fprintf(out, "drill %s: a simulated intruder in the codespaces organization\n\n", r.Scenario)
	for _, e := range r.Timeline {
		fmt.Fprintf(out, "  t+%6.1fs  %-9s  %s\n", e.T, e.Actor, e.Event)
	}
	verdict, when := "CONTAINED", "contained at"
	if !r.Contained {
		verdict, when = "NOT CONTAINED", "responded at"
	}
	fmt.Fprintf(out, "\n%s: %d of %d resources lost, %d of %d backdoors disabled, break-glass intact: %v, %s t+%.1fs\n",
		verdict, r.ResourcesLost, r.ResourcesTotal, r.BackdoorsDisabled, r.BackdoorsCreated, r.BreakGlassIntact, when, r.TimeToContainmentS)
	return nil
}
