// Package slackfake is a fake Slack for tests and drills: a Web API server that records
// every chat.postMessage, chat.update and chat.postEphemeral call and every
// response_url post, and rejects what real Slack rejects (message text over
// 40,000 characters, more than 50 blocks, section text over 3,000
// characters, and the other Block Kit limits the bot relies on), plus the
// helpers to sign requests the way Slack does.
package slackfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Methods recorded by the fake.
const (
	PostMessage   = "chat.postMessage"
	Update        = "chat.update"
	PostEphemeral = "chat.postEphemeral"
	ResponseURL   = "response_url"
)

// Call is one recorded call.
type Call struct {
	Method   string
	Channel  string
	TS       string // chat.update: the message updated; chat.postMessage: the ts assigned
	ThreadTS string
	User     string // chat.postEphemeral: the recipient
	Text     string
	Blocks   []map[string]any
	Hook     string // response_url: the hook name
	Ephem    bool   // response_url: response_type ephemeral
	Error    string // the error the fake answered ("" = ok)
	At       time.Time
}

// OK reports whether the fake accepted the call.
func (c Call) OK() bool { return c.Error == "" }

// AllText is the text and every text inside the blocks, for assertions.
func (c Call) AllText() string {
	var b strings.Builder
	b.WriteString(c.Text)
	for _, blk := range c.Blocks {
		collectText(blk, &b)
	}
	return b.String()
}

func collectText(v any, b *strings.Builder) {
	switch x := v.(type) {
	case map[string]any:
		for k, v := range x {
			if k == "text" {
				if s, ok := v.(string); ok {
					b.WriteString("\n")
					b.WriteString(s)
					continue
				}
			}
			collectText(v, b)
		}
	case []any:
		for _, v := range x {
			collectText(v, b)
		}
	}
}

// Buttons returns the buttons of the call's blocks: action_id -> value.
func (c Call) Buttons() map[string]string {
	out := map[string]string{}
	for _, blk := range c.Blocks {
		if blk["type"] != "actions" {
			continue
		}
		els, _ := blk["elements"].([]any)
		for _, e := range els {
			m, _ := e.(map[string]any)
			if m["type"] == "button" {
				id, _ := m["action_id"].(string)
				val, _ := m["value"].(string)
				out[id] = val
			}
		}
	}
	return out
}

// Button returns the button with action_id id, or nil.
func (c Call) Button(id string) map[string]any {
	for _, blk := range c.Blocks {
		if blk["type"] != "actions" {
			continue
		}
		els, _ := blk["elements"].([]any)
		for _, e := range els {
			m, _ := e.(map[string]any)
			if m["action_id"] == id {
				return m
			}
		}
	}
	return nil
}

// Fake is the fake Slack server.
type Fake struct {
	Server *httptest.Server // nil InProcess
	Token  string
	base   string

	mu       sync.Mutex
	calls    []Call
	seq      int
	messages map[string]bool // channel|ts of posted messages
	changed  chan struct{}
	fail     map[string]string // method -> error to answer next
}

// TB is the part of TB the test helpers use (the package does not
// import testing: drills use it in the product binary).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// New starts a fake Slack that accepts the bot token token, closed when the
// test ends.
func New(t TB, token string) *Fake {
	f := Start(token)
	t.Cleanup(f.Server.Close)
	return f
}

// Start starts a fake Slack on a loopback port; Close stops it.
func Start(token string) *Fake {
	f := newFake(token)
	f.Server = httptest.NewServer(f.Handler())
	f.base = f.Server.URL
	return f
}

// InProcess returns a fake Slack that listens nowhere: point a client at
// base (e.g. "http://slack.drill") with Transport, and every call is served
// in the calling goroutine (drills use this: no port, no other goroutine).
func InProcess(token, base string) *Fake {
	f := newFake(token)
	f.base = strings.TrimSuffix(base, "/")
	return f
}

func newFake(token string) *Fake {
	return &Fake{Token: token, messages: map[string]bool{}, changed: make(chan struct{}), fail: map[string]string{}}
}

// Transport serves requests with the fake's Handler, in process.
func (f *Fake) Transport() http.RoundTripper { return handlerTransport{f.Handler()} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// Handler serves the fake's Web API (/api/METHOD) and response URLs
// (/hooks/NAME); a drill calls it in process through Transport.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.api)
	mux.HandleFunc("/hooks/", f.hook)
	return mux
}

// Close stops the server (if it has one).
func (f *Fake) Close() {
	if f.Server != nil {
		f.Server.Close()
	}
}

// APIURL is the base URL for slack.api_url (the bot appends "/").
func (f *Fake) APIURL() string { return f.base + "/api" }

// HookURL is a response_url named name.
func (f *Fake) HookURL(name string) string { return f.base + "/hooks/" + url.PathEscape(name) }

// FailNext makes the next call of method answer {"ok":false,"error":err}.
func (f *Fake) FailNext(method, err string) {
	f.mu.Lock()
	f.fail[method] = err
	f.mu.Unlock()
}

// Calls returns every call so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Of returns the calls of a method (accepted or not).
func (f *Fake) Of(method string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Thread returns the accepted messages posted in the thread of ts.
func (f *Fake) Thread(ts string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == PostMessage && c.ThreadTS == ts && c.OK() {
			out = append(out, c)
		}
	}
	return out
}

// Latest returns the latest accepted version of the message ts (its post
// or its last update).
func (f *Fake) Latest(ts string) (Call, bool) {
	var last Call
	found := false
	for _, c := range f.Calls() {
		if c.OK() && c.TS == ts && (c.Method == PostMessage || c.Method == Update) {
			last, found = c, true
		}
	}
	return last, found
}

// Hook returns the accepted posts to the response_url named name.
func (f *Fake) Hook(name string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == ResponseURL && c.Hook == name && c.OK() {
			out = append(out, c)
		}
	}
	return out
}

// Rejected returns the calls the fake refused.
func (f *Fake) Rejected() []Call {
	var out []Call
	for _, c := range f.Calls() {
		if !c.OK() {
			out = append(out, c)
		}
	}
	return out
}

// WaitNth waits until n+1 successful calls match and returns the (n+1)-th
// (n = 0: the first).
func (f *Fake) WaitNth(t TB, timeout time.Duration, what string, n int, match func(Call) bool) Call {
	t.Helper()
	var got Call
	f.Wait(t, timeout, what, func(calls []Call) bool {
		i := 0
		for _, c := range calls {
			if c.OK() && match(c) {
				if i == n {
					got = c
					return true
				}
				i++
			}
		}
		return false
	})
	return got
}

// Wait waits until cond holds for the recorded calls, or fails the test.
func (f *Fake) Wait(t TB, timeout time.Duration, what string, cond func(calls []Call) bool) []Call {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f.mu.Lock()
		calls := append([]Call(nil), f.calls...)
		ch := f.changed
		f.mu.Unlock()
		if cond(calls) {
			return calls
		}
		left := time.Until(deadline)
		if left <= 0 {
			var b strings.Builder
			for _, c := range calls {
				fmt.Fprintf(&b, "\n  %s channel=%s ts=%s thread=%s user=%s hook=%s err=%s text=%.200q", c.Method, c.Channel, c.TS, c.ThreadTS, c.User, c.Hook, c.Error, c.Text)
			}
			t.Fatalf("fake Slack: timed out after %s waiting for %s; calls:%s", timeout, what, b.String())
		}
		select {
		case <-ch:
		case <-time.After(min(left, 200*time.Millisecond)):
		}
	}
}

func (f *Fake) record(c Call) {
	f.mu.Lock()
	c.At = time.Now()
	f.calls = append(f.calls, c)
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	c := Call{Method: method, Channel: r.PostForm.Get("channel"), ThreadTS: r.PostForm.Get("thread_ts"),
		User: r.PostForm.Get("user"), Text: r.PostForm.Get("text")}
	token := r.PostForm.Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	fail := func(e string) {
		c.Error = e
		f.record(c)
		writeJSON(w, map[string]any{"ok": false, "error": e})
	}
	if token != f.Token {
		fail("invalid_auth")
		return
	}
	if raw := r.PostForm.Get("blocks"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.Blocks); err != nil {
			fail("invalid_blocks_format")
			return
		}
	}
	f.mu.Lock()
	injected := f.fail[method]
	delete(f.fail, method)
	f.mu.Unlock()
	if injected != "" {
		fail(injected)
		return
	}
	switch method {
	case PostMessage, Update, PostEphemeral:
	default:
		fail("unknown_method")
		return
	}
	if c.Channel == "" {
		fail("channel_not_found")
		return
	}
	if e := CheckMessage(c.Text, c.Blocks); e != "" {
		fail(e)
		return
	}
	switch method {
	case PostMessage:
		if c.ThreadTS != "" && !f.posted(c.Channel, c.ThreadTS) {
			fail("thread_not_found")
			return
		}
		f.mu.Lock()
		f.seq++
		c.TS = fmt.Sprintf("1700000000.%06d", f.seq)
		f.messages[c.Channel+"|"+c.TS] = true
		f.mu.Unlock()
		f.record(c)
		writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS, "message": map[string]any{"text": c.Text, "ts": c.TS}})
	case Update:
		c.TS = r.PostForm.Get("ts")
		if !f.posted(c.Channel, c.TS) {
			fail("message_not_found")
			return
		}
		f.record(c)
		writeJSON(w, map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS, "text": c.Text})
	case PostEphemeral:
		if c.User == "" {
			fail("user_not_in_channel")
			return
		}
		f.mu.Lock()
		f.seq++
		ts := fmt.Sprintf("1700000000.%06d", f.seq)
		f.mu.Unlock()
		f.record(c)
		writeJSON(w, map[string]any{"ok": true, "message_ts": ts})
	}
}

func (f *Fake) posted(channel, ts string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messages[channel+"|"+ts]
}

// hook is a response_url: Slack answers "ok" as text, or an error status.
func (f *Fake) hook(w http.ResponseWriter, r *http.Request) {
	name, _ := url.PathUnescape(strings.TrimPrefix(r.URL.Path, "/hooks/"))
	c := Call{Method: ResponseURL, Hook: name}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var msg struct {
		Text         string           `json:"text"`
		ResponseType string           `json:"response_type"`
		Blocks       []map[string]any `json:"blocks"`
	}
	if err != nil || json.Unmarshal(body, &msg) != nil {
		c.Error = "invalid_payload"
		f.record(c)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	c.Text, c.Blocks, c.Ephem = msg.Text, msg.Blocks, msg.ResponseType == "ephemeral"
	if e := CheckMessage(c.Text, c.Blocks); e != "" {
		c.Error = e
		f.record(c)
		http.Error(w, e, http.StatusBadRequest)
		return
	}
	f.record(c)
	_, _ = io.WriteString(w, "ok")
}

// Limits real Slack enforces (https://docs.slack.dev/reference/block-kit).
const (
	MaxText          = 40000
	MaxBlocks        = 50
	MaxSectionText   = 3000
	MaxFieldText     = 2000
	MaxFields        = 10
	MaxHeaderText    = 150
	MaxContextItems  = 10
	MaxActions       = 25
	MaxButtonText    = 75
	MaxButtonValue   = 2000
	MaxActionID      = 255
	MaxConfirmTitle  = 100
	MaxConfirmText   = 300
	MaxConfirmButton = 30
)

func runes(s string) int { return utf8.RuneCountInString(s) }

// CheckMessage returns the error real Slack gives for a message, or "".
func CheckMessage(text string, blocks []map[string]any) string {
	if runes(text) > MaxText {
		return "msg_too_long"
	}
	if text == "" && len(blocks) == 0 {
		return "no_text"
	}
	if len(blocks) > MaxBlocks {
		return "invalid_blocks"
	}
	for _, b := range blocks {
		if e := checkBlock(b); e != "" {
			return "invalid_blocks"
		}
	}
	return ""
}

func textOf(v any) (typ, text string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap {
		return "", "", false
	}
	typ, _ = m["type"].(string)
	text, ok = m["text"].(string)
	return typ, text, ok && (typ == "plain_text" || typ == "mrkdwn")
}

func checkBlock(b map[string]any) string {
	switch b["type"] {
	case "section":
		if t, ok := b["text"]; ok {
			_, s, valid := textOf(t)
			if !valid || runes(s) > MaxSectionText || s == "" {
				return "section text"
			}
		}
		if fs, ok := b["fields"].([]any); ok {
			if len(fs) > MaxFields {
				return "fields"
			}
			for _, fv := range fs {
				_, s, valid := textOf(fv)
				if !valid || runes(s) > MaxFieldText {
					return "field text"
				}
			}
		}
		if _, hasText := b["text"]; !hasText {
			if _, hasFields := b["fields"]; !hasFields {
				return "empty section"
			}
		}
	case "header":
		typ, s, valid := textOf(b["text"])
		if !valid || typ != "plain_text" || runes(s) > MaxHeaderText {
			return "header"
		}
	case "divider":
	case "context":
		els, _ := b["elements"].([]any)
		if len(els) == 0 || len(els) > MaxContextItems {
			return "context"
		}
		for _, e := range els {
			if _, s, valid := textOf(e); !valid || runes(s) > MaxSectionText {
				return "context text"
			}
		}
	case "actions":
		els, _ := b["elements"].([]any)
		if len(els) == 0 || len(els) > MaxActions {
			return "actions"
		}
		for _, e := range els {
			m, _ := e.(map[string]any)
			if m["type"] != "button" {
				continue
			}
			typ, s, valid := textOf(m["text"])
			if !valid || typ != "plain_text" || runes(s) > MaxButtonText {
				return "button text"
			}
			if v, _ := m["value"].(string); runes(v) > MaxButtonValue {
				return "button value"
			}
			if id, _ := m["action_id"].(string); id == "" || runes(id) > MaxActionID {
				return "action_id"
			}
			if st, ok := m["style"].(string); ok && st != "primary" && st != "danger" {
				return "style"
			}
			if cf, ok := m["confirm"].(map[string]any); ok {
				if _, s, valid := textOf(cf["title"]); !valid || runes(s) > MaxConfirmTitle {
					return "confirm title"
				}
				if _, s, valid := textOf(cf["text"]); !valid || runes(s) > MaxConfirmText {
					return "confirm text"
				}
				for _, k := range []string{"confirm", "deny"} {
					if _, s, valid := textOf(cf[k]); !valid || runes(s) > MaxConfirmButton {
						return "confirm button"
					}
				}
			}
		}
	default:
		return "unknown block type"
	}
	return ""
}

// Sign returns Slack's v0 signature headers for body at time ts:
// X-Slack-Request-Timestamp and X-Slack-Signature = "v0=" +
// hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func Sign(secret string, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", timestamp)
	mac.Write(body)
	return timestamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SignedRequest builds a form POST to url signed with secret at ts.
func SignedRequest(t TB, url, secret string, ts time.Time, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	stamp, sig := Sign(secret, ts, []byte(body))
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	return req
}

var triggers atomic.Int64

// triggerID is unique per request, like Slack's (so no two requests have
// the same signature).
func triggerID() string {
	return fmt.Sprintf("%d.%d.%x", time.Now().Unix(), triggers.Add(1), time.Now().UnixNano())
}

// SlashBody is the form body Slack posts for "/killswitch text".
func SlashBody(team, user, channel, text, responseURL string) string {
	return url.Values{
		"token":        {"deprecated-verification-token"},
		"team_id":      {team},
		"team_domain":  {"example"},
		"channel_id":   {channel},
		"channel_name": {"incident"},
		"user_id":      {user},
		"user_name":    {strings.ToLower(user)},
		"command":      {"/killswitch"},
		"text":         {text},
		"response_url": {responseURL},
		"trigger_id":   {triggerID()},
		"api_app_id":   {"A0KILLSW"},
	}.Encode()
}

// BlockAction is the payload Slack posts when user clicks the button
// actionID (value) on the message ts in channel.
func BlockAction(team, user, channel, ts, actionID, value, responseURL string) string {
	payload := map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": team, "domain": "example"},
		"user":         map[string]any{"id": user, "username": strings.ToLower(user), "team_id": team},
		"api_app_id":   "A0KILLSW",
		"token":        "deprecated-verification-token",
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   triggerID(),
		"channel":      map[string]any{"id": channel, "name": "incident"},
		"message":      map[string]any{"type": "message", "ts": ts, "text": "card"},
		"response_url": responseURL,
		"actions": []any{map[string]any{
			"action_id": actionID, "block_id": "decision", "value": value, "type": "button",
			"text":      map[string]any{"type": "plain_text", "text": actionID},
			"action_ts": fmt.Sprintf("%d.%06d", time.Now().Unix(), time.Now().Nanosecond()/1000),
		}},
	}
	b, _ := json.Marshal(payload)
	return url.Values{"payload": {string(b)}}.Encode()
}
