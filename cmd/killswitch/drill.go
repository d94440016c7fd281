package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/killswitch/killswitch/bot/drill"
)

// cmdDrill runs a tabletop exercise offline on the simulated organization,
// through the in-process service, and prints the timeline and the
// scorecard (CONTRACT.md's drill report with --json). It exits 1 when the
// intrusion was not contained.
func cmdDrill(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("drill", out)
	scenario := fs.String("scenario", "codespaces", "a built-in scenario ("+strings.Join(drill.Scenarios(), ", ")+") or a scenario YAML file")
	seed := fs.Int64("seed", 0, "the seed for random playbooks (default: the scenario's)")
	asJSON := fs.Bool("json", false, "print the drill report as JSON")
	htmlOut := fs.String("html", "", "also write the report for people to this file: one self-contained page with the swimlane timeline, the resources over time, the scorecard, and the same intrusion met the 2014 way beside it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("drill takes no arguments (got %q); try: killswitch drill --scenario codespaces", pos[0])
	}
	s, err := drill.Open(*scenario)
	var fe *drill.FileError
	if errors.As(err, &fe) {
		return &configError{err}
	}
	if err != nil {
		return err
	}
	cfg, err := configFlag("")
	if err != nil {
		return err
	}
	var r *drill.Report
	if *htmlOut != "" {
		var page []byte
		if r, page, err = drill.RunPage(ctx, s, *seed, drillConfig(cfg)); err == nil {
			err = writeFileAtomic(*htmlOut, page)
		}
	} else {
		r, err = drill.Run(ctx, s, *seed, drillConfig(cfg))
	}
	if errors.As(err, &fe) {
		return &configError{err}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(out, r); err != nil {
			return err
		}
	} else {
		printDrill(out, s, r)
	}
	if !r.Contained {
		return fmt.Errorf("not contained: %d of %d resources lost, %d intruder credential(s) still working", r.ResourcesLost, r.ResourcesTotal, r.CredentialsWorking)
	}
	return nil
}

// drillConfig is what a drill takes from the configuration: the
// exemptions and the engine's concurrency (never its AWS backend).
func drillConfig(cfg *Config) drill.Config {
	return drill.Config{BreakGlassPatterns: cfg.BreakGlass.Principals, BreakGlassTag: cfg.BreakGlass.Tag,
		BreakGlassICUsers: cfg.BreakGlass.IdentityCenterUsers, BreakGlassICGroups: cfg.BreakGlass.IdentityCenterGroups,
		BotRoleName: cfg.AWS.RoleName, Concurrency: cfg.AWS.Concurrency}
}

func printDrill(out io.Writer, s *drill.Scenario, r *drill.Report) {
	fmt.Fprintf(out, "DRILL %s (seed %d): %s\n\n", r.Scenario, r.Seed, strings.TrimSpace(s.Description))
	for _, e := range r.Timeline {
		fmt.Fprintf(out, "  t+%8.3fs  %-9s  %s\n", e.T, e.Actor, e.Event)
	}
	verdict := "CONTAINED"
	if !r.Contained {
		verdict = "NOT CONTAINED"
	}
	fmt.Fprintf(out, "\nScorecard: %s\n", verdict)
	for _, l := range r.ScorecardLines() {
		fmt.Fprintf(out, "  %s\n", l)
	}
	for _, l := range r.Lost {
		fmt.Fprintf(out, "  lost at t+%.1fs: %s in %s, by %s with %s\n", l.T, l.Resource, l.Account, l.Technique, l.Credential)
	}
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so a reader never sees half a page.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".killswitch-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
