package drill

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ManualFallback is the built-in scenario a report compares with when a
// scenario's own 2014 variant cannot be derived.
const ManualFallback = "codespaces-manual"

// ManualVariant derives the same intrusion met the 2014 way: the same
// organization, intruder, latencies and seed, but instead of the
// scenario's killswitch commands the responders change the console
// password of every user whose credential the intruder holds, at the time
// of the first command (no guardrail; keys and sessions untouched), as
// codespaces-manual does for codespaces. It is not derivable when the
// intruder holds no user credential, or the scenario already is manual.
func (s *Scenario) ManualVariant() (*Scenario, bool) {
	var at time.Duration = -1
	for _, m := range s.Responders {
		if m.Manual != "" {
			return nil, false
		}
		if m.Command != "" && at < 0 {
			at = m.At.D()
		}
	}
	if at < 0 {
		return nil, false
	}
	var users []string
	for _, h := range s.Intruder.Holds {
		if h.User != "" && !slices.Contains(users, h.User) {
			users = append(users, h.User)
		}
	}
	if len(users) == 0 {
		return nil, false
	}
	m := *s
	m.Name = s.Name + " (the 2014 response)"
	m.Responders = nil
	for _, u := range users {
		m.Responders = append(m.Responders, Move{At: Duration(at), Manual: "change-password " + u})
	}
	return &m, true
}

// Comparison plays s and the same intrusion met the 2014 way (derived, or
// ManualFallback when it cannot be derived) and returns both reports and
// a sentence saying which comparison it is.
func Comparison(ctx context.Context, s *Scenario, seed int64, cfg Config) (main, manual *Report, note string, err error) {
	main, err = Run(ctx, s, seed, cfg)
	if err != nil {
		return nil, nil, "", err
	}
	m, ok := s.ManualVariant()
	note = fmt.Sprintf("The same scenario (%s, seed %d) with the responders doing what Code Spaces did in 2014: change the console password of every user the intruder holds, at the time of the first killswitch command; no guardrail, keys and sessions untouched.", s.Name, main.Seed)
	if !ok {
		if m, err = Open(ManualFallback); err != nil {
			return nil, nil, "", err
		}
		seed = 0
		note = fmt.Sprintf("The 2014 response cannot be derived from %s (its intruder holds no user's credential, or its responders already act by hand), so this is the built-in %s scenario: the Code Spaces intrusion met by changing a password.", s.Name, ManualFallback)
	}
	manual, err = Run(ctx, m, seed, cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("the 2014 comparison: %w", err)
	}
	return main, manual, note, nil
}

// RunPage plays s and its 2014 comparison and returns s's report and the
// HTML page of both.
func RunPage(ctx context.Context, s *Scenario, seed int64, cfg Config) (*Report, []byte, error) {
	main, manual, note, err := Comparison(ctx, s, seed, cfg)
	if err != nil {
		return nil, nil, err
	}
	desc := strings.TrimSpace(s.Description)
	mdesc := desc
	if m, ok := s.ManualVariant(); !ok {
		if fb, err := Open(ManualFallback); err == nil {
			mdesc = strings.TrimSpace(fb.Description)
		}
	} else {
		mdesc = strings.TrimSpace(m.Description)
	}
	page, err := HTML(main, desc, manual, mdesc, note)
	if err != nil {
		return nil, nil, err
	}
	return main, page, nil
}
