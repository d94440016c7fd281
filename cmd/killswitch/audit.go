package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
)

func cmdAudit(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("audit needs: verify [--config FILE] | show [--request ID] [--json] [--config FILE]")
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], out)
	case "show":
		return auditShow(ctx, args[1:], out)
	}
	return usagef("audit %q: want verify or show", args[0])
}

func openAudit(ctx context.Context, cfgPath string) (store.Store, *audit.Log, error) {
	cfg, err := configFlag(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return nil, nil, err
	}
	return st, audit.New(st, nil), nil
}

var entryPrefix = regexp.MustCompile(`^entry \d+ `)

func auditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("audit verify", out)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit verify takes no arguments (got %q)", pos[0])
	}
	st, log, err := openAudit(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := log.Verify(ctx)
	if err != nil {
		return err
	}
	if !res.OK {
		fmt.Fprintf(out, "audit log: %d entries read; entry %d is bad\n", res.Entries, res.FirstBad)
		return fmt.Errorf("audit log tampered: entry %d: %s", res.FirstBad, entryPrefix.ReplaceAllString(res.Problem, ""))
	}
	fmt.Fprintf(out, "audit log intact: %d entries, head %s\n", res.Entries, res.Head)
	return nil
}

// shownEntry is one entry of `audit show --json`.
type shownEntry struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"request_id,omitempty"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Hash      string          `json:"hash"`
}

func auditShow(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("audit show", out)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	request := fs.String("request", "", "only the entries of this request id")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit show takes no arguments (got %q); use --request ID", pos[0])
	}
	st, log, err := openAudit(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := log.Entries(ctx, *request)
	if err != nil {
		return err
	}
	if *asJSON {
		entries := make([]shownEntry, 0, len(recs))
		for _, r := range recs {
			data := json.RawMessage(r.Data)
			if !json.Valid(data) {
				data = json.RawMessage("null")
			}
			entries = append(entries, shownEntry{Seq: r.Seq, At: r.At, Actor: r.Actor, RequestID: r.RequestID, Event: r.Event, Data: data, Hash: r.Hash})
		}
		return writeJSON(out, entries)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tREQUEST\tEVENT\tDETAIL")
	for _, r := range recs {
		req := r.RequestID
		if req == "" {
			req = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.At.UTC().Format(time.RFC3339), oneLine(r.Actor), oneLine(req), oneLine(r.Event), detail(r))
	}
	return tw.Flush()
}

// detail summarises an entry's data on one line: the AWS call and its
// outcome, a step, or the event's fields.
func detail(r store.AuditRecord) string {
	var m map[string]any
	if json.Unmarshal(r.Data, &m) != nil || m == nil {
		return oneLine(string(r.Data))
	}
	str := func(k string) string {
		if v, ok := m[k]; ok && v != nil {
			return oneLine(fmt.Sprint(v))
		}
		return ""
	}
	switch r.Event {
	case audit.EventAWSCall:
		s := fmt.Sprintf("%s.%s %s", str("service"), str("operation"), str("account"))
		if t := str("target"); t != "" {
			s += " " + t
		}
		s += " " + str("outcome")
		if e := str("error"); e != "" {
			s += ": " + e
		}
		return s
	case approval.EventRefused:
		return fmt.Sprintf("%s refused: %s", str("verb"), str("refusal"))
	case "step":
		s := fmt.Sprintf("%s %s %s: %s [%s]", str("account"), str("op"), str("principal"), str("change"), str("status"))
		if e := str("error"); e != "" {
			s += ": " + e
		}
		return s
	}
	b, _ := json.Marshal(m)
	return oneLine(string(b))
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
