package drill

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"sort"
)

// The drill report for people: one self-contained page (no script, no
// external asset; its only style is inline and allowed by its hash) with a
// swimlane timeline on the simulated clock, the resources over time, the
// scorecard, and the same intrusion met the 2014 way beside it.

//go:embed report.css
var reportCSS string

//go:embed report.html.tmpl
var reportTemplate string

var reportTmpl = template.Must(template.New("report").Parse(reportTemplate))

// HTMLCSP is the Content-Security-Policy of the report: nothing but its own
// inline stylesheet (by hash). Served pages send it as a header too, where
// frame-ancestors applies.
var HTMLCSP = metaCSP + "; frame-ancestors 'none'"

// metaCSP is HTMLCSP in the page's meta element (where browsers ignore
// frame-ancestors).
var metaCSP = func() string {
	sum := sha256.Sum256([]byte(reportCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
}()

// lanes of the swimlane timeline, top to bottom.
var lanes = []struct{ actor, label string }{
	{ActorAttacker, "intruder"}, {ActorResponder, "responders"}, {ActorSlack, "Slack"}, {ActorBot, "bot"},
}

// Chart geometry (SVG user units).
const (
	chartW     = 1000.0
	laneH      = 34.0
	labelW     = 96.0
	axisH      = 26.0
	resourcesH = 120.0
)

type reportPage struct {
	CSS        template.CSS
	CSP        string
	Title      string
	Main, Bis  column
	Comparison string
}

type column struct {
	Heading, Description string
	Report               *Report
	Verdict              string
	Scorecard            []string
	Lanes                []lane
	Ticks                []tick
	Height, AxisY        float64
	Resources            resources
	Events               []Event
}

type lane struct {
	Label  string
	Class  string // the actor
	Y, Mid float64
	Dots   []dot
}

type dot struct {
	X     float64
	Title string
}

type tick struct {
	X     float64
	Label string
}

type resources struct {
	Points     string // SVG polyline of intact resources
	Losses     []dot
	H, Top     float64
	Total, End int
}

// HTML renders the report page of r (scenario description desc) beside
// manual, the same intrusion met the 2014 way, which note describes.
func HTML(r *Report, desc string, manual *Report, manualDesc, note string) ([]byte, error) {
	end := math.Max(lastT(r), lastT(manual))
	p := reportPage{CSS: template.CSS(reportCSS), CSP: metaCSP, Title: "killswitch drill: " + r.Scenario, Comparison: note,
		Main: newColumn("killswitch: "+r.Scenario, desc, r, end),
		Bis:  newColumn("2014: "+manual.Scenario, manualDesc, manual, end)}
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("drill report page: %w", err)
	}
	return b.Bytes(), nil
}

func lastT(r *Report) float64 {
	t := 60.0
	for _, e := range r.Timeline {
		t = math.Max(t, e.T)
	}
	for _, l := range r.Lost {
		t = math.Max(t, l.T)
	}
	return t
}

func newColumn(heading, desc string, r *Report, end float64) column {
	c := column{Heading: heading, Description: desc, Report: r, Verdict: "CONTAINED", Scorecard: r.ScorecardLines(), Events: r.Timeline}
	if !r.Contained {
		c.Verdict = "NOT CONTAINED"
	}
	x := func(t float64) float64 { return round1(labelW + (chartW-labelW-10)*t/end) }
	for i, l := range lanes {
		ln := lane{Label: l.label, Class: l.actor, Y: float64(i) * laneH, Mid: float64(i)*laneH + laneH/2}
		for _, e := range r.Timeline {
			if e.Actor == l.actor {
				ln.Dots = append(ln.Dots, dot{X: x(e.T), Title: fmt.Sprintf("t+%.1fs %s: %s", e.T, l.label, e.Event)})
			}
		}
		c.Lanes = append(c.Lanes, ln)
	}
	c.AxisY = float64(len(lanes)) * laneH
	step := niceStep(end)
	for t := 0.0; t <= end; t += step {
		c.Ticks = append(c.Ticks, tick{X: x(t), Label: clockLabel(t)})
	}
	c.Resources = resourceLine(r, x, end, c.AxisY+axisH)
	c.Height = c.Resources.Top + resourcesH + axisH
	return c
}

// resourceLine is the count of intact resources over time: the total
// until the first loss, one fewer at each loss.
func resourceLine(r *Report, x func(float64) float64, end, top float64) resources {
	res := resources{H: resourcesH, Top: top, Total: r.ResourcesTotal}
	lost := append([]Loss(nil), r.Lost...)
	sort.SliceStable(lost, func(i, j int) bool { return lost[i].T < lost[j].T })
	y := func(n int) float64 {
		if r.ResourcesTotal == 0 {
			return round1(top + resourcesH)
		}
		return round1(top + resourcesH - resourcesH*float64(n)/float64(r.ResourcesTotal))
	}
	n := r.ResourcesTotal
	pts := fmt.Sprintf("%.1f,%.1f", x(0), y(n))
	for _, l := range lost {
		pts += fmt.Sprintf(" %.1f,%.1f", x(l.T), y(n))
		n--
		pts += fmt.Sprintf(" %.1f,%.1f", x(l.T), y(n))
		res.Losses = append(res.Losses, dot{X: x(l.T), Title: fmt.Sprintf("t+%.1fs lost %s in %s (%s)", l.T, l.Resource, l.Account, l.Technique)})
	}
	pts += fmt.Sprintf(" %.1f,%.1f", x(end), y(n))
	res.Points, res.End = pts, n
	return res
}

func niceStep(end float64) float64 {
	for _, s := range []float64{10, 30, 60, 120, 300, 600, 900, 1800} {
		if end/s <= 8 {
			return s
		}
	}
	return 3600
}

func clockLabel(t float64) string {
	m, s := int(t)/60, int(t)%60
	if s == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
