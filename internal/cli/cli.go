// Package cli is dozor's command line: it loads the configuration, opens
// the store and wires the parts together for each command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"dozor/internal/config"
	"dozor/internal/embed"
	"dozor/internal/fetch"
	"dozor/internal/logging"
	"dozor/internal/metrics"
	"dozor/storage"
)

const usage = `dozor watches Russian and English news feeds for analysts and alerts them in Telegram.

Usage:
  dozor [run]        start the scheduler and the Telegram bot; stop with Ctrl-C
  dozor poll         run one watcher pass now and print what matched
  dozor search [--limit N] [--json] [--since 7d] QUERY
                     search every stored article, in the topics' query language
  dozor reindex      rebuild the search index from the database
  dozor import FILE  add or update sources and topics from a YAML watchlist
  dozor export       print sources and topics as a YAML watchlist
  dozor prune        drop what RETENTION_DAYS lets go, now (dozor run does it daily)
  dozor compact      rewrite the database to give freed space back (stop dozor first)
  dozor backup FILE  write a consistent copy of the database, also while dozor runs
  dozor restore FILE put a backup in place of the database (stop dozor first)
  dozor healthcheck  exit 0 if dozor run answers on METRICS_ADDR/healthz, 1 if not
  dozor help         show this text

Configuration comes from environment variables and ./.env (see .env.example).
`

// Version is set at build time with -ldflags "-X dozor/internal/cli.Version=...".
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
	case "healthcheck":
		cfg, err := config.Load("")
		if err != nil {
			fmt.Fprintln(stderr, "dozor:", logging.NewScrubber().String(err.Error()))
			return 1 // not 2: Docker reserves exit code 2 for health checks
		}
		return healthcheck(ctx, cfg.MetricsAddr, stdout, stderr)
	case "run", "poll", "import", "export", "search", "reindex", "prune", "compact", "backup", "restore":
	default:
		fmt.Fprintf(stderr, "dozor: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := config.Load("")
	if err != nil {
		// No secrets are known yet; token-shaped text is still scrubbed.
		fmt.Fprintln(stderr, "dozor:", logging.NewScrubber().String(err.Error()))
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
	case "search":
		err = a.searchCmd(ctx, args)
	case "reindex":
		err = a.reindex(ctx)
	case "prune":
		err = a.prune(ctx)
	case "compact":
		err = a.compact(ctx)
	case "backup", "restore":
		if len(args) != 1 {
			fmt.Fprintf(stderr, "dozor: usage: dozor %s FILE\n", cmd)
			return 2
		}
		if cmd == "backup" {
			err = a.backup(ctx, args[0])
		} else {
			err = a.restore(ctx, args[0])
		}
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		// Errors may carry a request URL with the bot token in it (bot.New,
		// a rejected token): scrub them as the log is scrubbed.
		fmt.Fprintln(stderr, "dozor:", logging.NewScrubber(secrets(cfg)...).String(err.Error()))
		return 1
	}
	return 0
}

// errUsage ends a command whose arguments were wrong; the usage is printed.
var errUsage = errors.New("usage")

type app struct {
	cfg            *config.Config
	log            *slog.Logger
	stdout, stderr io.Writer
	// metrics of dozor run; nil (observing nothing) for other commands.
	metrics *metrics.Metrics
	// emb is the embeddings client, made once (see embedder).
	emb *embed.Client
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

// newLogger writes slog to w and scrubs secrets from every value, so a
// token that slips into an error message (a URL with the bot token in it)
// never reaches a log.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return logging.New(w, cfg.LogFormat, cfg.LogLevel, secrets(cfg)...)
}

// secrets are the configured values that must never be printed.
func secrets(cfg *config.Config) []string {
	return []string{cfg.TelegramToken, cfg.OpenAIKey, cfg.WebhookSecret}
}
