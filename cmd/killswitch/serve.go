package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/killswitch/killswitch/actions"
	"github.com/killswitch/killswitch/bot"
	"github.com/killswitch/killswitch/bot/approval"
	"github.com/killswitch/killswitch/bot/audit"
	"github.com/killswitch/killswitch/bot/drill"
	"github.com/killswitch/killswitch/bot/store"
)

// Environment variables holding the Slack secrets (never in the config file).
const (
	envSigningSecret = "SLACK_SIGNING_SECRET"
	envBotToken      = "SLACK_BOT_TOKEN"
	envAppToken      = "SLACK_APP_TOKEN"
)

// Shutdown budget: stop accepting, then let running requests finish; what is
// still running after serviceGrace is parked and resumes at next start.
const (
	httpGrace    = 10 * time.Second
	serviceGrace = 20 * time.Second
)

// stderr is where serve logs (a variable for tests).
var stderr io.Writer = os.Stderr

func secretFromEnv(name, what string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", &configError{fmt.Errorf("%s is not set: export the Slack %s in the environment (it is never read from the config file)", name, what)}
	}
	return v, nil
}

func cmdServe(ctx context.Context, args []string, out io.Writer) error {
	fs := flags("serve", out)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments (got %q); try: killswitch serve --config killswitch.yaml", pos[0])
	}
	cfg, err := configFlag(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Slack.TeamID == "" || cfg.Slack.Channel == "" {
		return &configError{errors.New("serve needs slack.team_id and slack.channel")}
	}
	if len(cfg.Approval.Requesters) == 0 || len(cfg.Approval.Approvers) == 0 {
		return &configError{errors.New("serve needs approval.requesters and approval.approvers")}
	}
	signing, err := secretFromEnv(envSigningSecret, "signing secret")
	if err != nil && !cfg.Slack.SocketMode {
		return err
	}
	token, err := secretFromEnv(envBotToken, "bot token (xoxb-…)")
	if err != nil {
		return err
	}
	var appToken string
	if cfg.Slack.SocketMode {
		if appToken, err = secretFromEnv(envAppToken, "app-level token (xapp-…) for Socket Mode"); err != nil {
			return err
		}
	}

	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(stderr)

	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	warnNewStore(st, cfg, log)
	al := audit.New(st, nil)
	if err := setupCheckpoints(cfg, al, log); err != nil {
		return err
	}
	appr := &approval.Service{Store: st, Audit: al, Policy: approval.Policy{
		Requesters: cfg.Approval.Requesters, Approvers: cfg.Approval.Approvers,
		Required: cfg.Approval.Required, Expiry: cfg.Approval.Expiry,
	}}
	router := &bot.CallRouter{}
	e, err := newEnv(ctx, cfg, "", router.OnCall)
	if err != nil {
		return err
	}
	svc, err := bot.New(bot.Config{
		TeamID: cfg.Slack.TeamID, Channel: cfg.Slack.Channel, SigningSecret: signing,
		Requesters: cfg.Approval.Requesters, Approvers: cfg.Approval.Approvers,
		Required: cfg.Approval.Required, Expiry: cfg.Approval.Expiry,
		SocketMode: cfg.Slack.SocketMode, AppToken: appToken, Accounts: e.all,
		ExemptBaseline: true, BaselineInterval: cfg.BreakGlass.BaselineInterval,
		Runbooks: runbookDeployment(cfg, *cfgPath), PublicURL: cfg.Slack.PublicURL,
		Workers: cfg.Service.Workers, Queue: cfg.Service.Queue,
	}, bot.Deps{
		Engine: e.engine, Store: st, Audit: al, Approval: appr,
		Slack: bot.NewSlackClient(token, cfg.Slack.APIURL, appToken), Log: log,
		Drills: drill.SlackRunner{Config: drillConfig(cfg)},
	})
	if err != nil {
		return &configError{err}
	}
	router.Set(svc)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	// the background work outlives the signal: Shutdown ends it
	if err := svc.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return err
	}
	fields := logrus.Fields{"addr": ln.Addr().String(), "backend": cfg.AWS.Backend, "accounts": len(e.all),
		"store": cfg.Store.Driver, "socket_mode": cfg.Slack.SocketMode, "actions": strings.Join(actions.Names(), ",")}
	log.WithFields(fields).Info("listening")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("signal received: shutting down")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("serve: %w", err)
			log.WithError(err).Error("HTTP server stopped")
		}
	}
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), httpGrace)
	if err := srv.Shutdown(hctx); err != nil {
		log.WithError(err).Warn("HTTP shutdown")
	}
	hcancel()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), serviceGrace)
	if err := svc.Shutdown(sctx); err != nil {
		log.WithError(err).Warn("service shutdown")
	}
	scancel()
	log.Info("stopped")
	return runErr
}
