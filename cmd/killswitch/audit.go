package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/store"
)

func cmdAudit(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		verbUsage(out, "audit", nil)
		return flag.ErrHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("audit needs: verify [--checkpoint FILE | --head HASH] [--config FILE] | show [--request ID] [--json] [--config FILE]")
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], out)
	case "show":
		return auditShow(ctx, args[1:], out)
	}
	return usagef("audit %q: want verify or show", args[0])
}

// openAudit opens the configured store, refusing a missing SQLite file
// (reading an audit log must never create an empty one that verifies).
func openAudit(ctx context.Context, cfg *Config) (store.Store, *audit.Log, error) {
	st, err := store.OpenExisting(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("no audit database at %s: give --config with the service's store", cfg.Store.DSN)
	}
	if err != nil {
		return nil, nil, err
	}
	return st, audit.New(st, nil), nil
}

var entryPrefix = regexp.MustCompile(`^entry \d+ `)

func auditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("audit verify", out)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	cpFile := fs.String("checkpoint", "", "a file with signed checkpoints (the service's log, or pasted from Slack): verify against the newest")
	head := fs.String("head", "", "a head recorded elsewhere: HASH or SEQ:HASH")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit verify takes no arguments (got %q)", pos[0])
	}
	if *cpFile != "" && *head != "" {
		return usagef("give --checkpoint FILE or --head HASH, not both")
	}
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	anchor, err := verifyAnchor(cfg, *cpFile, *head)
	if err != nil {
		return err
	}
	st, log, err := openAudit(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var res audit.VerifyResult
	if anchor == nil {
		res, err = log.Verify(ctx)
	} else {
		res, err = log.VerifyAnchored(ctx, *anchor)
	}
	if err != nil {
		return err
	}
	return reportVerify(out, res, anchor != nil)
}

// reportVerify prints the outcome; a bad chain is an error (exit 1).
func reportVerify(out io.Writer, res audit.VerifyResult, anchored bool) error {
	switch {
	case res.OK && anchored:
		fmt.Fprintf(out, "audit log intact: %d entries, head %d:%s, anchored by the checkpoint at entry %d\n", res.Entries, res.Entries, res.Head, res.Anchored)
		return nil
	case res.OK:
		fmt.Fprintf(out, "audit log intact: %d entries, head %d:%s (not anchored: give --checkpoint FILE or --head to catch truncation or a rewrite)\n", res.Entries, res.Entries, res.Head)
		return nil
	case res.Kind == audit.KindBroken:
		fmt.Fprintf(out, "audit log: %d entries read; entry %d is bad\n", res.Entries, res.FirstBad)
		return fmt.Errorf("audit log tampered: entry %d: %s", res.FirstBad, entryPrefix.ReplaceAllString(res.Problem, ""))
	case res.Kind == audit.KindUnanchored:
		fmt.Fprintf(out, "audit log: %d entries read; the chain is intact up to the checkpoint's entry %d\n", res.Entries, res.Anchored)
		return fmt.Errorf("audit log unanchored: %s", res.Problem)
	}
	fmt.Fprintf(out, "audit log: %d entries read; %s\n", res.Entries, res.Kind)
	return fmt.Errorf("audit log %s: %s", res.Kind, res.Problem)
}

// verifyAnchor reads the anchor of --checkpoint or --head (nil: none).
func verifyAnchor(cfg *Config, cpFile, head string) (*audit.Anchor, error) {
	switch {
	case head != "":
		return parseHead(head)
	case cpFile == "":
		return nil, nil
	}
	if cfg.Audit.PublicKey == "" {
		return nil, &configError{errors.New("--checkpoint needs audit.public_key in the configuration (the key that verifies the checkpoints)")}
	}
	pub, err := audit.ParsePublicKey(cfg.Audit.PublicKey)
	if err != nil {
		return nil, &configError{err}
	}
	f, err := os.Open(cpFile)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file: %w", err)
	}
	defer f.Close()
	cps, err := audit.ReadCheckpoints(f, pub)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", cpFile, err)
	}
	newest, err := audit.Newest(cps)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", cpFile, err)
	}
	a := audit.AnchorOf(newest)
	return &a, nil
}

var reHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parseHead reads --head HASH or SEQ:HASH.
func parseHead(v string) (*audit.Anchor, error) {
	a := audit.Anchor{Hash: v}
	if seq, hash, ok := strings.Cut(v, ":"); ok {
		n, err := strconv.ParseInt(seq, 10, 64)
		if err != nil || n < 0 {
			return nil, usagef("--head %q: want HASH or SEQ:HASH (as audit verify prints it)", v)
		}
		a = audit.Anchor{Seq: n, Hash: hash}
	}
	a.Hash = strings.ToLower(a.Hash)
	if !reHash.MatchString(a.Hash) {
		return nil, usagef("--head %q: a head hash is 64 hex characters (HASH or SEQ:HASH, as audit verify prints it)", v)
	}
	return &a, nil
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
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	st, log, err := openAudit(ctx, cfg)
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

// setupCheckpoints turns on signed audit checkpoints when the signing key
// is in the environment: written to the log stream, and (by the service)
// posted in each request's thread. The key must match audit.public_key;
// a configured public key without the key in the environment is refused.
func setupCheckpoints(cfg *Config, al *audit.Log, log logrus.FieldLogger) error {
	seed := os.Getenv(audit.EnvKey)
	if strings.TrimSpace(seed) == "" {
		if cfg.Audit.PublicKey != "" {
			return &configError{fmt.Errorf("audit.public_key is set but %s is not: export the checkpoint signing key (never in the config file)", audit.EnvKey)}
		}
		log.Warn("audit checkpoints are off: without them, truncating or rewriting the audit database goes unnoticed; set " + audit.EnvKey + " and audit.public_key")
		return nil
	}
	key, err := audit.ParsePrivateKey(seed)
	if err != nil {
		return &configError{err}
	}
	pub := audit.PublicKeyString(key)
	switch {
	case cfg.Audit.PublicKey == "":
		log.WithField("public_key", pub).Warn("audit checkpoints are signed, but audit.public_key is not configured: add this public key to the configuration to verify them")
	case cfg.Audit.PublicKey != pub:
		return &configError{fmt.Errorf("%s does not match audit.public_key", audit.EnvKey)}
	}
	al.SetCheckpoints(audit.Checkpoints{Key: key, Every: int64(cfg.Audit.CheckpointEvery), Sink: func(cp audit.Checkpoint) {
		log.WithField("checkpoint", cp).Info("audit checkpoint")
	}})
	return nil
}

// warnNewStore says so when the service starts on a new, empty SQLite file:
// a store that was deleted is never recreated silently.
func warnNewStore(st store.Store, cfg *Config, log logrus.FieldLogger) {
	if s, ok := st.(*store.SQLStore); ok && s.Created() {
		log.WithField("dsn", cfg.Store.DSN).Warn("created a new, empty SQLite store: if killswitch ran here before, its store was deleted: stop and restore it")
	}
}
