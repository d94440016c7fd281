package bot

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot/store"
)

// Slack's Block Kit and message limits (https://docs.slack.dev/reference/block-kit).
// Lengths are checked in bytes, which is never more than the characters
// Slack counts, so a cut text always fits.
const (
	maxBlocks        = 50
	maxSectionText   = 3000
	maxFieldText     = 2000
	maxFields        = 10
	maxHeaderText    = 150
	maxMessageText   = 40000
	maxContextText   = 2000
	maxConfirmTitle  = 100
	maxConfirmText   = 300
	maxConfirmButton = 30
	maxButtonText    = 75
	maxButtonValue   = 2000
)

// Action ids of the approval card's buttons (CONTRACT.md).
const (
	ActionApprove = "approve"
	ActionReject  = "reject"
)

// Lines shown per account before "…and N more".
const (
	showTargets    = 5
	showExempt     = 5
	showWarnings   = 5
	showSteps      = 12
	showDiffLines  = 10
	showAccountsIn = 40 // account sections on a card or result message
)

// esc escapes user- and AWS-provided text for mrkdwn, so it can neither
// mention (<!channel>, <@U…>) nor link.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most n bytes on a rune boundary, ending with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	b := n - len(ell)
	for b > 0 && !utf8.RuneStart(s[b]) {
		b--
	}
	return s[:b] + ell
}

// builder collects lines into a section text of at most maxSectionText
// bytes; a line that does not fit is replaced by the more line.
type builder struct {
	b     strings.Builder
	limit int
	full  bool
}

func newBuilder() *builder { return &builder{limit: maxSectionText - 200} }

// line adds a line; it reports false once the text is full.
func (b *builder) line(s string) bool {
	if b.full {
		return false
	}
	if b.b.Len() > 0 {
		s = "\n" + s
	}
	if b.b.Len()+len(s) > b.limit {
		b.full = true
		return false
	}
	b.b.WriteString(s)
	return true
}

// rest writes "…and N more WHAT" (it always fits: limit keeps room).
func (b *builder) rest(n int, what string) {
	if n <= 0 {
		return
	}
	if b.b.Len() > 0 {
		b.b.WriteString("\n")
	}
	fmt.Fprintf(&b.b, "_…and %d more %s_", n, what)
}

func (b *builder) String() string { return cut(b.b.String(), maxSectionText) }

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, cut(s, maxSectionText), false, false)
}

func plain(s string, n int) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, cut(s, n), false, false)
}

func section(s string) *slack.SectionBlock { return slack.NewSectionBlock(mrkdwn(s), nil, nil) }

func contextBlock(s string) *slack.ContextBlock {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, cut(s, maxContextText), false, false))
}

// shortPrincipal drops "arn:aws:iam::ACCOUNT:" from an ARN: the account is
// the section's heading.
func shortPrincipal(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[5] != "" {
		return parts[5]
	}
	return arn
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func userRef(id string) string {
	if reUserID.MatchString(id) {
		return "<@" + id + ">"
	}
	return esc(id)
}

func slackDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	fallback := t.UTC().Format("2006-01-02 15:04 UTC")
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), fallback)
}

func scopeText(accounts []string) string {
	return plural(len(accounts), "account", "accounts") + ": " + esc(listClip(accounts, 8))
}

// cardView is everything the approval card shows.
type cardView struct {
	Req       *store.Request
	Plan      *actions.Plan // nil when it cannot be decoded
	Approvals []store.Approval
	Required  int
	DecidedBy string // who rejected or cancelled, when known
}

var stateHeadline = map[store.State]string{
	store.Pending:   ":rotating_light: %s requested: waiting for approval",
	store.Approved:  ":white_check_mark: %s approved: starting",
	store.Running:   ":hourglass_flowing_sand: %s running",
	store.Succeeded: ":white_check_mark: %s succeeded",
	store.Partial:   ":warning: %s partially succeeded",
	store.Failed:    ":x: %s failed",
	store.Rejected:  ":no_entry: %s rejected",
	store.Expired:   ":hourglass: %s expired without approval",
	store.Cancelled: ":heavy_multiplication_x: %s cancelled",
}

func what(r *store.Request) string {
	if r.Kind == store.KindUndo {
		return "undo of " + r.Action + " (" + r.UndoOf + ")"
	}
	return r.Action
}

// cardText is the notification text of the card.
func cardText(r *store.Request) string {
	return cut(fmt.Sprintf("killswitch %s: %s requested by %s on %s (%s): %s",
		r.ID, what(r), userRef(r.Requester), plural(len(r.Accounts), "account", "accounts"), r.State, esc(r.Reason)), maxMessageText)
}

// renderCard builds the approval card for the request's current state.
// It never has more than maxBlocks blocks nor a text over Slack's limits.
func renderCard(v cardView) []slack.Block {
	r := v.Req
	format, ok := stateHeadline[r.State]
	if !ok {
		format = "%s: " + string(r.State)
	}
	headline := slack.NewTextBlockObject(slack.PlainTextType, cut(fmt.Sprintf(format, what(r)), maxHeaderText), true, false)
	blocks := []slack.Block{slack.NewHeaderBlock(headline)}

	incident := "—"
	if r.Incident != "" {
		incident = esc(r.Incident)
	}
	fields := []*slack.TextBlockObject{
		slack.NewTextBlockObject(slack.MarkdownType, cut("*Action*\n`"+esc(r.Action)+"`", maxFieldText), false, false),
		slack.NewTextBlockObject(slack.MarkdownType, cut("*Scope*\n"+scopeText(r.Accounts), maxFieldText), false, false),
		slack.NewTextBlockObject(slack.MarkdownType, cut("*Incident*\n"+incident, maxFieldText), false, false),
		slack.NewTextBlockObject(slack.MarkdownType, cut("*Requested by*\n"+userRef(r.Requester), maxFieldText), false, false),
		slack.NewTextBlockObject(slack.MarkdownType, cut("*Request*\n`"+esc(r.ID)+"`", maxFieldText), false, false),
	}
	if r.State == store.Pending {
		fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, "*Expires*\n"+slackDate(r.ExpiresAt), false, false))
	} else {
		fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, "*Status*\n"+string(r.State), false, false))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	blocks = append(blocks, section("*Reason*\n>"+esc(r.Reason)))
	if info, err := actions.Lookup(r.Action); err == nil && r.Kind != store.KindUndo {
		if len(info.Costs) > 0 {
			blocks = append(blocks, section(cut("*What it costs until undo*\n• "+esc(strings.Join(info.Costs, "\n• ")), maxSectionText)))
		}
		if w := irreversibleWarning(info, v.Required); w != "" {
			blocks = append(blocks, section(cut(w, maxSectionText)))
		}
	}
	blocks = append(blocks, section(statusLine(v)))
	blocks = append(blocks, slack.NewDividerBlock())

	footer := []slack.Block{}
	if r.State == store.Pending {
		footer = append(footer, decisionButtons(r))
	}
	if r.Kind == store.KindUndo {
		footer = append(footer, contextBlock("Approvers approve undoing what "+esc(r.UndoOf)+" changed, from its recorded steps."))
	} else {
		footer = append(footer, contextBlock("Approvers approve the intent (action, scope, exemptions): the bot re-reads the live state when it runs and reports what differed from this plan."))
	}
	room := maxBlocks - len(blocks) - len(footer)
	blocks = append(blocks, planBlocks(v.Plan, room)...)
	return append(blocks, footer...)
}

// irreversibleWarning is the card's warning for an action undo cannot take
// back, or "".
func irreversibleWarning(info actions.Info, required int) string {
	if !info.Mutating || info.Reversible && info.ExtraApprovals == 0 {
		return ""
	}
	s := ":warning: *This cannot be undone*: " + esc(info.Undo) + "."
	if info.ExtraApprovals > 0 {
		s += fmt.Sprintf(" It needs %s, %d more than other actions.", plural(required, "approval", "approvals"), info.ExtraApprovals)
	}
	return s
}

func statusLine(v cardView) string {
	r := v.Req
	var who []string
	for _, a := range v.Approvals {
		if a.Approver != r.Requester {
			who = append(who, userRef(a.Approver))
		}
	}
	approvals := fmt.Sprintf("*Approvals*: %d of %d", len(who), max(v.Required, 1))
	if len(who) > 0 {
		approvals += ": " + strings.Join(who, ", ")
	}
	switch r.State {
	case store.Pending:
		return approvals + "\nApprove or reject below. The requester cannot approve their own request."
	case store.Rejected:
		if v.DecidedBy != "" {
			return approvals + "\nRejected by " + userRef(v.DecidedBy) + "."
		}
		return approvals + "\nRejected."
	case store.Cancelled:
		s := approvals + "\nCancelled"
		if v.DecidedBy != "" {
			s += " by " + userRef(v.DecidedBy)
		}
		if r.Error != "" {
			s += ": " + esc(cut(r.Error, 500))
		}
		return s + "."
	case store.Expired:
		return approvals + "\nExpired at " + slackDate(r.ExpiresAt) + " without enough approvals; request it again if it is still needed."
	case store.Approved, store.Running:
		return approvals + "\nProgress and results are in the thread."
	default:
		s := approvals + "\nThe per-account result is in the thread."
		if r.Error != "" {
			s += "\n:x: " + esc(cut(r.Error, 1000))
		}
		return s
	}
}

func decisionButtons(r *store.Request) *slack.ActionBlock {
	n := plural(len(r.Accounts), "account", "accounts")
	approveConfirm := slack.NewConfirmationBlockObject(
		plain(cut("Approve "+r.Action+"?", maxConfirmTitle), maxConfirmTitle),
		plain(cut(fmt.Sprintf("Run %s on %s now (request %s)? This changes live AWS access.", what(r), n, r.ID), maxConfirmText), maxConfirmText),
		plain("Approve", maxConfirmButton),
		plain("Back", maxConfirmButton),
	).WithStyle(slack.StylePrimary)
	rejectConfirm := slack.NewConfirmationBlockObject(
		plain("Reject this request?", maxConfirmTitle),
		plain(cut(fmt.Sprintf("Reject request %s (%s on %s)? It will not run; the requester can submit it again.", r.ID, what(r), n), maxConfirmText), maxConfirmText),
		plain("Reject", maxConfirmButton),
		plain("Back", maxConfirmButton),
	).WithStyle(slack.StyleDanger)
	approve := slack.NewButtonBlockElement(ActionApprove, cut(r.ID, maxButtonValue), plain("Approve", maxButtonText)).
		WithStyle(slack.StylePrimary).WithConfirm(approveConfirm)
	reject := slack.NewButtonBlockElement(ActionReject, cut(r.ID, maxButtonValue), plain("Reject", maxButtonText)).
		WithStyle(slack.StyleDanger).WithConfirm(rejectConfirm)
	return slack.NewActionBlock("decision", approve, reject)
}

// planBlocks renders a plan in at most room blocks.
func planBlocks(p *actions.Plan, room int) []slack.Block {
	if room <= 0 {
		return nil
	}
	if p == nil {
		return []slack.Block{section("_The plan could not be shown._")}
	}
	t, c, x := p.Counts()
	out := []slack.Block{section(fmt.Sprintf("*Plan* (%s): %s, %s, %s in %s",
		esc(p.Action), plural(t, "target", "targets"), plural(c, "change", "changes"), plural(x, "exemption", "exemptions"),
		plural(len(p.Accounts), "account", "accounts")))}
	room--
	shown := len(p.Accounts)
	if shown > room || shown > showAccountsIn {
		shown = min(room, showAccountsIn) - 1
	}
	for i := 0; i < shown && i < len(p.Accounts); i++ {
		out = append(out, section(accountPlanText(p.Accounts[i])))
	}
	if rest := len(p.Accounts) - max(shown, 0); rest > 0 && room > max(shown, 0) {
		var rt, rc int
		for _, a := range p.Accounts[max(shown, 0):] {
			rt += len(a.Targets)
			for _, tg := range a.Targets {
				rc += len(tg.Changes)
			}
		}
		out = append(out, section(fmt.Sprintf("_…and %s more (%s, %s); see `/killswitch plan %s` for every account._",
			plural(rest, "account", "accounts"), plural(rt, "target", "targets"), plural(rc, "change", "changes"), esc(p.Action))))
	}
	return out
}

func accountPlanText(a actions.AccountPlan) string {
	b := newBuilder()
	changes := 0
	for _, t := range a.Targets {
		changes += len(t.Changes)
	}
	head := "*" + esc(a.Account) + "*"
	if a.Kind != "" {
		head += " (" + esc(a.Kind) + ")"
	}
	b.line(fmt.Sprintf("%s: %s, %s, %s", head, plural(len(a.Targets), "target", "targets"), plural(changes, "change", "changes"), plural(len(a.Exempt), "exemption", "exemptions")))
	if a.Error != "" {
		b.line(":x: could not read the account: " + esc(cut(a.Error, 500)))
	}
	some(b, a.Targets, showTargets, "targets", func(t actions.Target) string {
		return "• `" + esc(cut(shortPrincipal(t.Principal), 200)) + "`: " + esc(cut(strings.Join(t.Changes, "; "), 400))
	})
	some(b, a.Exempt, showExempt, "exemptions", func(e actions.Exemption) string {
		return "_exempt_ `" + esc(cut(shortPrincipal(e.Principal), 200)) + "`: " + esc(cut(e.Reason, 300))
	})
	some(b, orderWarnings(a.Warnings), showWarnings, "warnings", warningLine)
	return b.String()
}

// some writes at most max items, a line each, then how many more there are.
func some[T any](b *builder, items []T, max int, what string, line func(T) string) {
	n := 0
	for _, it := range items {
		if n >= max || !b.line(line(it)) {
			break
		}
		n++
	}
	b.rest(len(items)-n, what)
}

func warningLine(w string) string { return ":warning: " + slackWarning(esc(cut(w, 400))) }

// countSteps counts the steps that took effect and those that did not.
func countSteps(steps []actions.Step) (done, failed int) {
	for _, s := range steps {
		if stepFailed(s) {
			failed++
		} else {
			done++
		}
	}
	return done, failed
}

// stepFailed: the step did not (or may not) take effect.
func stepFailed(s actions.Step) bool {
	return s.Status == actions.StepFailed || s.Status == actions.StepUndoFailed || s.Status == actions.StepInterrupted
}

// planMessage is a plan shown to one user (the plan command).
func planMessage(p *actions.Plan) (string, []slack.Block) {
	t, c, x := p.Counts()
	text := fmt.Sprintf("plan %s on %s: %s, %s, %s (read-only: nothing was changed)", p.Action,
		plural(len(p.Accounts), "account", "accounts"), plural(t, "target", "targets"), plural(c, "change", "changes"), plural(x, "exemption", "exemptions"))
	blocks := planBlocks(p, maxBlocks-1)
	blocks = append(blocks, contextBlock("Read-only dry run: nothing was changed. To request it: `/killswitch "+esc(p.Action)+" --all --incident INC-1 REASON`"))
	return cut(text, maxMessageText), blocks
}

// resultView is what a finished run reports in the card's thread.
type resultView struct {
	Req       *store.Request
	Result    *actions.Result
	Plan      *actions.Plan // for the diff; nil for undo
	Err       string
	Unplanned []string
	NotDone   []string
	// Before: how many of the result's steps a run before a restart made
	// (the resumed run skipped them, finding them done).
	Before int
	// Original: for an undo, the recorded steps of the request it undoes.
	Original []actions.Step
}

// undoSummary compares an undo with what the request it undoes changed.
type undoSummary struct {
	total, undone, failed, notReached int
	passwords                         []string // users whose console password cannot come back
	other                             []string // other changes that cannot be undone
}

// Console-password deletions (actions' delete-login-profile op) cannot be
// undone: AWS never reveals a password.
const opDeleteLoginProfile = "delete-login-profile"

func summariseUndo(orig []actions.Step, res *actions.Result) undoSummary {
	var u undoSummary
	for _, st := range orig {
		switch st.Status {
		case actions.StepDone, actions.StepStarted, actions.StepInterrupted:
		default:
			continue // never took effect: nothing to undo
		}
		u.total++
		if st.Reversible {
			continue
		}
		if st.Op == opDeleteLoginProfile {
			u.passwords = append(u.passwords, principalName(st.Principal))
		} else {
			u.other = append(u.other, st.Change)
		}
	}
	for _, st := range res.Steps() {
		switch st.Status {
		case actions.StepUndone:
			u.undone++
		case actions.StepUndoFailed:
			u.failed++
		}
	}
	u.notReached = max(u.total-u.undone-u.failed-len(u.passwords)-len(u.other), 0)
	return u
}

// principalName is the last part of an ARN (a user's name).
func principalName(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// headline: "46 of 54 changes undone" and what did not come back, in short.
func (u undoSummary) headline() string {
	s := fmt.Sprintf("%d of %s undone", u.undone, plural(u.total, "change", "changes"))
	if u.failed > 0 {
		s += fmt.Sprintf(", %d failed to undo", u.failed)
	}
	if u.notReached > 0 {
		s += fmt.Sprintf(", %d not reached", u.notReached)
	}
	if n := len(u.passwords) + len(u.other); n > 0 {
		s += fmt.Sprintf(", %d cannot come back", n)
	}
	return s
}

// lines says what cannot come back and what to do about it (mrkdwn).
func (u undoSummary) lines() []string {
	var out []string
	if n := len(u.passwords); n > 0 {
		out = append(out, fmt.Sprintf(":warning: %s cannot come back (AWS never reveals a password): issue new passwords with `aws iam create-login-profile --user-name NAME --password-reset-required` for %s",
			plural(n, "console password", "console passwords"), esc(listClip(u.passwords, 10))))
	}
	if n := len(u.other); n > 0 {
		out = append(out, fmt.Sprintf(":warning: %s cannot be undone: %s", plural(n, "change", "changes"), esc(cut(listClip(u.other, 5), 1000))))
	}
	if u.failed > 0 || u.notReached > 0 {
		out = append(out, fmt.Sprintf(":x: %s did not come back (failed or not reached): run the undo again; every undo step is idempotent", plural(u.failed+u.notReached, "change", "changes")))
	}
	return out
}

func resultIcon(status string) string {
	switch status {
	case actions.StatusSucceeded:
		return ":white_check_mark:"
	case actions.StatusPartial:
		return ":warning:"
	}
	return ":x:"
}

// resultMessage renders the per-account result for the thread.
func resultMessage(v resultView) (string, []slack.Block) {
	r, res := v.Req, v.Result
	verb := r.Action
	if r.Kind == store.KindUndo {
		verb = "undo of " + r.Action + " (" + r.UndoOf + ")"
	}
	if res == nil {
		text := fmt.Sprintf("%s %s failed: %s", r.ID, verb, v.Err)
		return cut(esc(text), maxMessageText), []slack.Block{section(":x: *" + esc(verb) + " failed*: " + esc(cut(v.Err, 2000)))}
	}
	done, failed := countSteps(res.Steps())
	summary := fmt.Sprintf("%s *%s %s* in %s: %s made, %s failed", resultIcon(res.Status), esc(verb), res.Status,
		plural(len(res.Accounts), "account", "accounts"), plural(done, "change", "changes"), plural(failed, "change", "changes"))
	text := fmt.Sprintf("%s %s %s: %d change(s) made, %d failed", r.ID, verb, res.Status, done, failed)
	if r.Kind == store.KindUndo && v.Original != nil {
		u := summariseUndo(v.Original, res)
		summary = fmt.Sprintf("%s *%s %s* in %s: %s", resultIcon(res.Status), esc(verb), res.Status,
			plural(len(res.Accounts), "account", "accounts"), u.headline())
		for _, l := range u.lines() {
			summary += "\n" + l
		}
		text = fmt.Sprintf("%s %s %s: %s", r.ID, verb, res.Status, u.headline())
	}
	if v.Before > 0 {
		summary += fmt.Sprintf("\n_Counting %s recorded before the restart; the resumed run re-read the live state and did the rest._", plural(v.Before, "step", "steps"))
	}
	if v.Err != "" {
		summary += "\n:x: " + esc(cut(v.Err, 1000))
	}
	blocks := []slack.Block{section(cut(summary, maxSectionText))}
	footer := []slack.Block{}
	if r.Kind != store.KindUndo {
		if info, err := actions.Lookup(r.Action); err == nil && info.Reversible && done > 0 {
			footer = append(footer, contextBlock("To undo: `/killswitch undo "+esc(r.ID)+" REASON` (needs approval)"))
		}
	}
	var diff []slack.Block
	if len(v.Unplanned) > 0 {
		diff = append(diff, section(diffText("*Done but not in the approved plan* (the live state changed since the plan):", v.Unplanned)))
	}
	if len(v.NotDone) > 0 {
		diff = append(diff, section(diffText("*Planned but not done* (already contained, gone, or failed):", v.NotDone)))
	}
	room := maxBlocks - len(blocks) - len(diff) - len(footer)
	shown := len(res.Accounts)
	if shown > room || shown > showAccountsIn {
		shown = min(room, showAccountsIn) - 1
	}
	for i := 0; i < shown && i < len(res.Accounts); i++ {
		blocks = append(blocks, section(accountResultText(res.Accounts[i])))
	}
	if rest := len(res.Accounts) - max(shown, 0); rest > 0 {
		var st []string
		for _, a := range res.Accounts[max(shown, 0):] {
			if a.Status != actions.StatusSucceeded {
				st = append(st, a.Account+" "+a.Status)
			}
		}
		line := fmt.Sprintf("_…and %s more._", plural(rest, "account", "accounts"))
		if len(st) > 0 {
			line += " Not succeeded: " + esc(listClip(st, 20))
		}
		blocks = append(blocks, section(line))
	}
	blocks = append(blocks, diff...)
	blocks = append(blocks, footer...)
	return cut(text, maxMessageText), blocks
}

func diffText(title string, lines []string) string {
	b := newBuilder()
	b.line(title)
	some(b, lines, showDiffLines, "lines", func(l string) string { return "• " + esc(cut(l, 300)) })
	return b.String()
}

func accountResultText(a actions.AccountResult) string {
	b := newBuilder()
	steps := append([]actions.Step(nil), a.Steps...)
	done, failed := countSteps(steps)
	// failures first: they are what a responder must act on
	sort.SliceStable(steps, func(i, j int) bool { return stepFailed(steps[i]) && !stepFailed(steps[j]) })
	b.line(fmt.Sprintf("%s *%s*: %s: %d done, %d failed", resultIcon(a.Status), esc(a.Account), a.Status, done, failed))
	if a.Error != "" {
		b.line(":x: " + esc(cut(a.Error, 800)))
	}
	if g := a.Guardrail; g != nil {
		if g.Confirmed {
			b.line(fmt.Sprintf(":shield: guardrail confirmed in effect after %.1fs, before any access was cut", g.AfterS))
		} else {
			b.line(fmt.Sprintf(":warning: guardrail NOT confirmed after %.1fs (%s); access was cut anyway", g.AfterS, esc(cut(g.Note, 300))))
		}
	}
	some(b, steps, showSteps, "steps", func(s actions.Step) string {
		mark := "✓"
		if stepFailed(s) {
			mark = "✗"
		}
		line := fmt.Sprintf("%s `%s`: %s", mark, esc(cut(shortPrincipal(s.Principal), 200)), esc(cut(s.Change, 300)))
		if s.Error != "" {
			line += " (" + esc(cut(s.Error, 300)) + ")"
		}
		return line
	})
	some(b, a.Findings, showTargets, "findings", func(f actions.Target) string {
		return ":mag: `" + esc(cut(shortPrincipal(f.Principal), 200)) + "`: " + esc(cut(strings.Join(f.Changes, "; "), 400))
	})
	some(b, orderWarnings(a.Warnings), showWarnings, "warnings", warningLine)
	return b.String()
}
