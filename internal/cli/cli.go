// Package cli is dozor's command line: it loads the configuration, opens
// the store and wires the parts together for each command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"dozor/internal/config"
	"dozor/internal/fetch"
	"dozor/jobs"
	"dozor/storage"
)

const usage = `dozor watches Russian and English news feeds for analysts and alerts them in Telegram.

Usage:
  dozor [run]        start the scheduler and the Telegram bot; stop with Ctrl-C
  dozor poll         run one watcher pass now and print what matched
  dozor import FILE  add or update sources and topics from a YAML watchlist
  dozor export       print sources and topics as a YAML watchlist
  dozor help         show this text

Configuration comes from environment variables and ./.env (see .env.example).
`

// Version is set at build time with -ldflags "-X dozor/cli.Version=...".
var Version = "dev"

// Run executes one command and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "dozor", Version)
		return 0
	case "run", "poll", "import", "export":
	default:
		fmt.Fprintf(stderr, "dozor: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := config.Load("")
	if err != nil {
		fmt.Fprintln(stderr, "dozor:", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	a := &app{cfg: cfg, log: log, stdout: stdout, stderr: stderr}
	switch cmd {
	case "run":
		err = a.run(ctx)
	case "poll":
		err = a.poll(ctx)
	case "import":
		if len(args) != 1 {
			fmt.Fprintln(stderr, "dozor: usage: dozor import FILE")
			return 2
		}
		err = a.importFile(ctx, args[0])
	case "export":
		err = a.export()
	}
	if err != nil {
		fmt.Fprintln(stderr, "dozor:", err)
		return 1
	}
	return 0
}

type app struct {
	cfg            *config.Config
	log            *slog.Logger
	stdout, stderr io.Writer
}

func (a *app) open(cmd string) (*storage.Store, error) {
	st, err := storage.Open(a.cfg.DB, storage.Options{Timeout: 500 * time.Millisecond, Command: "dozor " + cmd})
	if errors.Is(err, storage.ErrLocked) {
		return nil, fmt.Errorf("%w; stop it first or point DOZOR_DB at another file", err)
	}
	return st, err
}

func (a *app) fetcher() *fetch.Fetcher {
	return fetch.New(fetch.Options{
		Timeout:       a.cfg.FetchTimeout,
		MaxBodyBytes:  a.cfg.FetchMaxBytes,
		MaxConcurrent: a.cfg.FetchWorkers,
		AllowPrivate:  a.cfg.FetchAllowPriv,
	})
}

func (a *app) watcher(st *storage.Store, f jobs.Fetcher) *jobs.Watcher {
	return &jobs.Watcher{Store: st, Fetcher: f, Backlog: a.cfg.AlertBacklog, Workers: a.cfg.FetchWorkers * 2, Log: a.log}
}

// newLogger writes slog to stderr and scrubs secrets from every value, so a
// token that slips into an error message (a URL with the bot token in it)
// never reaches a log.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	secrets := []string{}
	for _, s := range []string{cfg.TelegramToken, cfg.OpenAIKey, cfg.WebhookSecret} {
		if len(s) >= 6 {
			secrets = append(secrets, s)
		}
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: func(_ []string, at slog.Attr) slog.Attr {
		if len(secrets) == 0 {
			return at
		}
		switch at.Value.Kind() {
		case slog.KindString:
			at.Value = slog.StringValue(redact(at.Value.String(), secrets))
		case slog.KindAny:
			if err, ok := at.Value.Any().(error); ok {
				at.Value = slog.StringValue(redact(err.Error(), secrets))
			} else if s, ok := at.Value.Any().(fmt.Stringer); ok {
				at.Value = slog.StringValue(redact(s.String(), secrets))
			}
		}
		return at
	}}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(redactMsg{h, secrets})
}

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

// redactMsg scrubs the message itself, which ReplaceAttr does not see.
type redactMsg struct {
	slog.Handler
	secrets []string
}

func (h redactMsg) Handle(ctx context.Context, r slog.Record) error {
	if len(h.secrets) > 0 {
		r.Message = redact(r.Message, h.secrets)
	}
	return h.Handler.Handle(ctx, r)
}

func (h redactMsg) WithAttrs(as []slog.Attr) slog.Handler {
	return redactMsg{h.Handler.WithAttrs(as), h.secrets}
}

func (h redactMsg) WithGroup(name string) slog.Handler {
	return redactMsg{h.Handler.WithGroup(name), h.secrets}
}
