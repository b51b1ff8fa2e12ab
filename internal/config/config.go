// Package config reads dozor's settings from the environment and an
// optional .env file. Every variable is declared once, in vars, with its
// default and help line; .env.example and the README table are checked
// against that table by tests.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"github.com/robfig/cron/v3"
)

// Config is the whole configuration, validated.
type Config struct {
	DB          string
	SearchIndex string
	// RetentionDays is how long article texts, delivery records and usage
	// counters are kept; 0 keeps them for ever.
	RetentionDays int
	LogLevel      slog.Level
	LogFormat     string

	WatchSchedule  string
	AlertBacklog   time.Duration
	FetchAllowPriv bool
	FetchTimeout   time.Duration
	FetchMaxBytes  int64
	FetchWorkers   int
	FetchFullText  bool

	OpenAIBaseURL   string
	OpenAIKey       string
	OpenAIModel     string
	PromptsDir      string
	SummaryLanguage string
	SummaryMaxInput int
	SummaryDeadline time.Duration
	LLMConcurrency  int
	LLMTimeout      time.Duration
	// Embeddings: the model (empty: off), an optional separate endpoint,
	// how long folding waits for a vector, and the fold threshold (0: the
	// model's default).
	EmbeddingsModel    string
	EmbeddingsBaseURL  string
	EmbeddingsDeadline time.Duration
	FoldThreshold      float64

	TelegramToken  string
	TelegramAPIURL string
	WebhookURL     string
	WebhookListen  string
	WebhookSecret  string
	AdminIDs       []int64
	Access         string

	ShutdownTimeout time.Duration
	// MetricsAddr is where /metrics and /healthz are served; empty: off.
	MetricsAddr string
}

// Var is one environment variable.
type Var struct {
	Name    string
	Default string
	Help    string
	Secret  bool // also read from NAME_FILE
	set     func(c *Config, v string) error
}

// Vars lists every variable dozor reads, in documentation order.
func Vars() []Var { return vars }

var vars = []Var{
	{Name: "DOZOR_DB", Default: "data/dozor.db", Help: "bbolt database file; its directory is created, the file gets mode 0600",
		set: func(c *Config, v string) error { return nonEmpty(&c.DB, v) }},
	{Name: "SEARCH_INDEX", Default: "", Help: "directory of the search index, a copy of the articles rebuilt from the database when missing or damaged; empty means <DOZOR_DB>.search",
		set: func(c *Config, v string) error { c.SearchIndex = v; return nil }},
	{Name: "RETENTION_DAYS", Default: "365", Help: "days an article keeps its text and page text (its title, link, topics and story stay, so dedup still knows it); sent-alert records and usage counters are kept as long; 0 keeps everything for ever",
		set: func(c *Config, v string) error { return intRange(&c.RetentionDays, v, 0, 36_500) }},
	{Name: "LOG_LEVEL", Default: "info", Help: "debug, info, warn or error",
		set: func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
	{Name: "LOG_FORMAT", Default: "text", Help: "text or json (log/slog handlers on stderr)",
		set: func(c *Config, v string) error { return oneOf(&c.LogFormat, v, "text", "json") }},

	{Name: "WATCH_SCHEDULE", Default: "@every 5m", Help: "cron spec of the watcher pass (robfig/cron: @every 2s, */10 * * * *, CRON_TZ=Europe/Moscow 0 9 * * *)",
		set: func(c *Config, v string) error {
			if _, err := cron.ParseStandard(v); err != nil {
				return err
			}
			c.WatchSchedule = v
			return nil
		}},
	{Name: "ALERT_BACKLOG", Default: "24h", Help: "items already in a feed when it is first fetched alert only if published within this window",
		set: func(c *Config, v string) error { return duration(&c.AlertBacklog, v, 0) }},
	{Name: "FETCH_ALLOW_PRIVATE", Default: "false", Help: "allow sources on loopback, private and link-local addresses",
		set: func(c *Config, v string) error { return boolean(&c.FetchAllowPriv, v) }},
	{Name: "FETCH_TIMEOUT", Default: "20s", Help: "timeout of one HTTP request to a news site",
		set: func(c *Config, v string) error { return duration(&c.FetchTimeout, v, time.Second) }},
	{Name: "FETCH_MAX_BYTES", Default: "10485760", Help: "largest response body accepted, after decompression (bytes)",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 {
				return errors.New("want a number of bytes >= 1024")
			}
			c.FetchMaxBytes = n
			return nil
		}},
	{Name: "FETCH_CONCURRENCY", Default: "8", Help: "requests in flight at once overall (one per host at most)",
		set: func(c *Config, v string) error { return intRange(&c.FetchWorkers, v, 1, 256) }},

	{Name: "FETCH_FULL_TEXT", Default: "true", Help: "fetch article pages where they can change the outcome: teaser-only feeds, and every story that alerts (for its summary); false never fetches pages",
		set: func(c *Config, v string) error { return boolean(&c.FetchFullText, v) }},

	{Name: "OPENAI_BASE_URL", Default: "", Help: "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama; empty with no key = built-in extractive summaries",
		set: func(c *Config, v string) error { return optionalURL(&c.OpenAIBaseURL, v) }},
	{Name: "OPENAI_API_KEY", Default: "", Help: "API key; may be empty for self-hosted servers (OPENAI_API_KEY_FILE also works)", Secret: true,
		set: func(c *Config, v string) error { c.OpenAIKey = v; return nil }},
	{Name: "OPENAI_MODEL", Default: "gpt-4o-mini", Help: "model name as the endpoint knows it (e.g. qwen2.5:7b-instruct on Ollama)",
		set: func(c *Config, v string) error { return nonEmpty(&c.OpenAIModel, v) }},
	{Name: "PROMPTS_DIR", Default: "", Help: "directory whose *.tmpl files override the built-in prompts",
		set: func(c *Config, v string) error { c.PromptsDir = v; return nil }},
	{Name: "SUMMARY_LANGUAGE", Default: "ru", Help: "language of summaries: ru or en",
		set: func(c *Config, v string) error { return oneOf(&c.SummaryLanguage, v, "ru", "en") }},
	{Name: "SUMMARY_MAX_INPUT", Default: "12000", Help: "characters of article text sent to the model at most (the beginning is kept)",
		set: func(c *Config, v string) error { return intRange(&c.SummaryMaxInput, v, 500, 1_000_000) }},
	{Name: "SUMMARY_DEADLINE", Default: "2m", Help: "after this an alert goes out with the extractive summary instead of waiting for the model",
		set: func(c *Config, v string) error { return duration(&c.SummaryDeadline, v, time.Second) }},
	{Name: "LLM_CONCURRENCY", Default: "2", Help: "model calls in flight at once",
		set: func(c *Config, v string) error { return intRange(&c.LLMConcurrency, v, 1, 64) }},
	{Name: "LLM_TIMEOUT", Default: "60s", Help: "timeout of one model call",
		set: func(c *Config, v string) error { return duration(&c.LLMTimeout, v, time.Second) }},
	{Name: "EMBEDDINGS_MODEL", Default: "", Help: "embedding model on the OpenAI-compatible endpoint (e.g. bge-m3 on Ollama), to fold one story across languages; empty = off",
		set: func(c *Config, v string) error { c.EmbeddingsModel = v; return nil }},
	{Name: "EMBEDDINGS_BASE_URL", Default: "", Help: "a separate OpenAI-compatible endpoint for embeddings; empty = OPENAI_BASE_URL",
		set: func(c *Config, v string) error { return optionalURL(&c.EmbeddingsBaseURL, v) }},
	{Name: "EMBEDDINGS_DEADLINE", Default: "10s", Help: "how long folding waits for an article's embedding before it folds by words alone",
		set: func(c *Config, v string) error { return duration(&c.EmbeddingsDeadline, v, time.Second) }},
	{Name: "FOLD_THRESHOLD", Default: "", Help: "cosine similarity at or above which two articles can be one story (with shared named entities); empty = the default for the model (see README)",
		set: func(c *Config, v string) error {
			if v == "" {
				c.FoldThreshold = 0
				return nil
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f >= 1 {
				return fmt.Errorf("want a number between 0 and 1 such as 0.80")
			}
			c.FoldThreshold = f
			return nil
		}},

	{Name: "TELEGRAM_BOT_TOKEN", Default: "", Help: "bot token from @BotFather; required by dozor run (TELEGRAM_BOT_TOKEN_FILE also works)", Secret: true,
		set: func(c *Config, v string) error { c.TelegramToken = v; return nil }},
	{Name: "TELEGRAM_API_URL", Default: "https://api.telegram.org", Help: "Bot API server; set it for a self-hosted Bot API server",
		set: func(c *Config, v string) error { return requiredURL(&c.TelegramAPIURL, v) }},
	{Name: "WEBHOOK_URL", Default: "", Help: "public HTTPS URL for webhook mode; empty = long polling",
		set: func(c *Config, v string) error { return optionalURL(&c.WebhookURL, v) }},
	{Name: "WEBHOOK_LISTEN", Default: ":8443", Help: "address the webhook server listens on",
		set: func(c *Config, v string) error { return nonEmpty(&c.WebhookListen, v) }},
	{Name: "WEBHOOK_SECRET", Default: "", Help: "secret token Telegram sends with every webhook request; required in webhook mode (WEBHOOK_SECRET_FILE also works)", Secret: true,
		set: func(c *Config, v string) error { c.WebhookSecret = v; return nil }},
	{Name: "ADMIN_IDS", Default: "", Help: "comma-separated Telegram user ids with admin rights",
		set: func(c *Config, v string) error { return ids(&c.AdminIDs, v) }},
	{Name: "ACCESS", Default: "approval", Help: "approval: admins approve new users; open: anyone may subscribe",
		set: func(c *Config, v string) error { return oneOf(&c.Access, v, "approval", "open") }},
	{Name: "SHUTDOWN_TIMEOUT", Default: "30s", Help: "on SIGTERM, how long the pass, the replies and the sends in flight may take to finish; the queues keep the rest",
		set: func(c *Config, v string) error { return duration(&c.ShutdownTimeout, v, time.Second) }},
	{Name: "METRICS_ADDR", Default: "", Help: "address for Prometheus /metrics and /healthz, e.g. 127.0.0.1:9090 or :9090; empty = off",
		set: func(c *Config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("want host:port such as 127.0.0.1:9090: %w", err)
				}
			}
			c.MetricsAddr = v
			return nil
		}},
}

// Load reads the configuration from the process environment, falling back
// to the .env file in dir (if any) and then to the defaults.
func Load(dir string) (*Config, error) {
	file := map[string]string{}
	path := ".env"
	if dir != "" {
		path = dir + string(os.PathSeparator) + ".env"
	}
	if m, err := godotenv.Read(path); err == nil {
		file = m
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return Parse(func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		v, ok := file[name]
		return v, ok
	})
}

// Parse builds a Config from a lookup function; a bad value is reported in
// one line that names the variable.
func Parse(lookup func(string) (string, bool)) (*Config, error) {
	c := &Config{}
	for _, v := range vars {
		val, ok := lookup(v.Name)
		if v.Secret {
			if file, fok := lookup(v.Name + "_FILE"); fok && file != "" {
				if ok && val != "" {
					return nil, fmt.Errorf("config: set %s or %s_FILE, not both", v.Name, v.Name)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return nil, fmt.Errorf("config: %s_FILE: %w", v.Name, err)
				}
				val, ok = strings.TrimSpace(string(b)), true
			}
		}
		if !ok {
			val = v.Default
		}
		val = strings.TrimSpace(val)
		if err := v.set(c, val); err != nil {
			shown := strconv.Quote(val)
			if v.Secret {
				shown = "(hidden)"
			}
			return nil, fmt.Errorf("config: %s=%s: %v", v.Name, shown, err)
		}
	}
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		return nil, errors.New("config: WEBHOOK_SECRET is required when WEBHOOK_URL is set")
	}
	if c.SearchIndex == "" {
		c.SearchIndex = c.DB + ".search"
	}
	return c, nil
}

// LLMEnabled reports whether a model endpoint is configured.
func (c *Config) LLMEnabled() bool { return c.OpenAIBaseURL != "" || c.OpenAIKey != "" }

// IsAdmin reports whether a Telegram user id is in ADMIN_IDS.
func (c *Config) IsAdmin(id int64) bool {
	for _, a := range c.AdminIDs {
		if a == id {
			return true
		}
	}
	return false
}

func nonEmpty(dst *string, v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	*dst = v
	return nil
}

func oneOf(dst *string, v string, allowed ...string) error {
	v = strings.ToLower(v)
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
}

func boolean(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*dst = b
	return nil
}

func duration(dst *time.Duration, v string, min time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("want a duration such as 30s, 5m or 24h")
	}
	if d < min {
		return fmt.Errorf("want at least %s", min)
	}
	*dst = d
	return nil
}

func intRange(dst *int, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("want a whole number from %d to %d", lo, hi)
	}
	*dst = n
	return nil
}

func optionalURL(dst *string, v string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	return requiredURL(dst, v)
}

func requiredURL(dst *string, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL")
	}
	*dst = strings.TrimRight(v, "/")
	return nil
}

func ids(dst *[]int64, v string) error {
	*dst = nil
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a Telegram user id", f)
		}
		*dst = append(*dst, id)
	}
	return nil
}
