package summary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sashabaranov/go-openai"

	"dozor/internal/backoff"
	"dozor/prompts"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxInput    = 12000
	DefaultConcurrency = 2
	DefaultCallTimeout = 60 * time.Second
	DefaultMaxRetries  = 3
	DefaultBaseURL     = "https://api.openai.com/v1"
)

const (
	// temperature is low for factual, repeatable summaries. It cannot be 0:
	// go-openai omits a zero temperature (omitempty) and the server then
	// uses its own default, usually 1.
	temperature = 0.2
	// maxWait caps one wait between attempts, Retry-After included; a server
	// asking for longer is treated as down for now.
	maxWait = 2 * time.Minute
	// Our own waits between attempts: about 1s, 2s, 4s … up to 30s, spread
	// ±50% so calls that failed together do not retry together.
	retryBase   = time.Second
	retryCap    = 30 * time.Second
	retryJitter = 0.5
	// maxResponseBytes caps what is read of a reply; a summary is a few KB.
	maxResponseBytes = 4 << 20
)

// ErrEmptyArticle is returned for an article with no text: a model asked to
// summarise a bare title can only invent.
var ErrEmptyArticle = errors.New("summary: article has no text")

// Config configures the LLM client. Zero values take the defaults above.
type Config struct {
	// BaseURL of an OpenAI-compatible API, including its version path as the
	// server expects it: "https://api.openai.com/v1",
	// "http://localhost:11434/v1" (Ollama). Requests go to BaseURL +
	// "/chat/completions". Empty means OpenAI when APIKey is set.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY"; empty sends no
	// Authorization header, as self-hosted servers expect.
	APIKey string
	Model  string
	// Language of the summaries, "ru" (default) or "en" (SUMMARY_LANGUAGE).
	Language string
	// MaxInput is how many characters of article text the model sees
	// (SUMMARY_MAX_INPUT); the beginning is kept.
	MaxInput int
	// Concurrency bounds requests in flight (LLM_CONCURRENCY).
	Concurrency int
	// CallTimeout bounds one HTTP attempt.
	CallTimeout time.Duration
	// MaxRetries after the first attempt for 429, 5xx, timeouts and
	// connection errors; 0 means DefaultMaxRetries, negative means none.
	MaxRetries int
	// Prompts renders the messages; nil means the embedded templates.
	Prompts *prompts.Set
	// HTTPClient nil means a client with a timeout a little over CallTimeout.
	HTTPClient *http.Client
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Observe is told about every call to the endpoint; nil: nobody.
	Observe CallObserver
}

// CallObserver is told about each call to the LLM endpoint: how long it
// took, the tokens the server reported, and whether it failed.
type CallObserver interface {
	LLMCall(d time.Duration, promptTokens, completionTokens int, err error)
}

// Enabled reports whether the configuration names an LLM endpoint at all;
// without one dozor runs on extractive summaries.
func Enabled(cfg Config) bool {
	return strings.TrimSpace(cfg.BaseURL) != "" || strings.TrimSpace(cfg.APIKey) != ""
}

// LLM summarises articles through an OpenAI-compatible chat completions API.
// It is safe for concurrent use.
type LLM struct {
	cfg     Config
	client  *openai.Client
	prompts *prompts.Set
	log     *slog.Logger
	sem     chan struct{}

	// Set once the server rejects them, so later calls skip the failed try.
	noSchema      atomic.Bool
	noTemperature atomic.Bool

	waiting atomic.Int32 // calls blocked on sem; tests watch it
	// retry and sleep are fields so tests can record waits instead of
	// sleeping them.
	retry backoff.Policy
	sleep func(context.Context, time.Duration) error
}

// NewLLM checks cfg and builds the client. It makes no request.
func NewLLM(cfg Config) (*LLM, error) {
	if !Enabled(cfg) {
		return nil, errors.New("summary: LLM not configured: set a base URL or an API key")
	}
	cfg.BaseURL = strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("summary: LLM base URL %q: want http(s)://host[/path]", cfg.BaseURL)
	}
	cfg.Model = strings.TrimSpace(cfg.Model)
	if cfg.Model == "" {
		return nil, errors.New("summary: LLM model name is required")
	}
	cfg.Language = strings.ToLower(strings.TrimSpace(cfg.Language))
	switch cfg.Language {
	case "":
		cfg.Language = "ru"
	case "ru", "en":
	default:
		return nil, fmt.Errorf("summary: summary language %q: want ru or en", cfg.Language)
	}
	if cfg.MaxInput <= 0 {
		cfg.MaxInput = DefaultMaxInput
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	cfg.MaxRetries = retries(cfg.MaxRetries)
	if cfg.Prompts == nil {
		if cfg.Prompts, err = prompts.Load(""); err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
	}
	if cfg.HTTPClient == nil {
		// A backstop only: the per-call context ends first, with a clearer error.
		cfg.HTTPClient = &http.Client{Timeout: cfg.CallTimeout + 5*time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	oc := openai.DefaultConfig(cfg.APIKey) // an empty key sends no Authorization header
	oc.BaseURL = cfg.BaseURL
	oc.HTTPClient = NewHTTPDoer(cfg.HTTPClient, maxResponseBytes)
	return &LLM{
		cfg:     cfg,
		client:  openai.NewClientWithConfig(oc),
		prompts: cfg.Prompts,
		log:     cfg.Logger,
		sem:     make(chan struct{}, cfg.Concurrency),
		retry:   defaultBackoff(),
		sleep:   backoff.Sleep,
	}, nil
}

// Language is the language summaries are written in.
func (l *LLM) Language() string { return l.cfg.Language }

// Summarize asks the model for a summary of a. It retries what is worth
// retrying until ctx ends or the retries run out; the caller decides what a
// failure means (Summarizer falls back to Extractive).
func (l *LLM) Summarize(ctx context.Context, a Article) (Summary, error) {
	if strings.TrimSpace(a.Text) == "" {
		return Summary{}, ErrEmptyArticle
	}
	text, cut := truncate(strings.ToValidUTF8(a.Text, ""), l.cfg.MaxInput)
	if cut {
		text += " […]"
	}
	sys, user, err := l.prompts.Summary(prompts.SummaryInput{
		Title: a.Title, Source: a.Source, URL: a.URL, Published: a.Published,
		Lang: a.Lang, Text: text, Topics: a.Topics, SummaryLanguage: l.cfg.Language,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("summary: %w", err)
	}
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: sys},
		{Role: openai.ChatMessageRoleUser, Content: user},
	}

	var resp openai.ChatCompletionResponse
	adjustments := 0
	policy := RetryPolicy{Name: "summary: llm", MaxRetries: l.cfg.MaxRetries,
		Backoff: l.retry, MaxWait: maxWait, Sleep: l.sleep, Logger: l.log}
	err = Retry(ctx, policy, func(ctx context.Context) error {
		for {
			r, sent, err := l.call(ctx, msgs)
			if err == nil {
				resp = r
				return nil
			}
			// A rejected response_format or temperature is fixed and resent
			// at once; it does not count as a retry.
			if ctx.Err() == nil && adjustments < 2 && l.adjust(err, sent) {
				adjustments++
				continue
			}
			return err
		}
	})
	if err != nil {
		return Summary{}, fmt.Errorf("summary: llm: %w", err)
	}
	return l.result(resp)
}

func (l *LLM) result(resp openai.ChatCompletionResponse) (Summary, error) {
	if len(resp.Choices) == 0 {
		return Summary{}, errors.New("summary: llm: reply has no choices")
	}
	msg := resp.Choices[0].Message
	if strings.TrimSpace(msg.Content) == "" {
		if msg.Refusal != "" {
			return Summary{}, fmt.Errorf("summary: llm: model refused: %s", cutRunes(cleanReply(msg.Refusal), 200))
		}
		return Summary{}, errors.New("summary: llm: empty reply")
	}
	text, points := sanitize(parseReply(msg.Content))
	if text == "" {
		return Summary{}, errors.New("summary: llm: reply has no usable summary")
	}
	model := resp.Model
	if model == "" {
		model = l.cfg.Model
	}
	return Summary{
		Text:             text,
		KeyPoints:        points,
		Lang:             l.cfg.Language,
		Model:            cutRunes(cleanLine(model), 100),
		PromptTokens:     resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens,
	}, nil
}

// sentParams records the optional request fields an attempt carried.
type sentParams struct{ schema, temperature bool }

// call makes one attempt under the concurrency bound and CallTimeout. Its
// error is a *CallError or, when ctx ended while waiting for a slot, ctx's.
func (l *LLM) call(ctx context.Context, msgs []openai.ChatCompletionMessage) (openai.ChatCompletionResponse, sentParams, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.waiting.Add(1)
		select {
		case l.sem <- struct{}{}:
			l.waiting.Add(-1)
		case <-ctx.Done():
			l.waiting.Add(-1)
			return openai.ChatCompletionResponse{}, sentParams{}, ctx.Err()
		}
	}
	defer func() { <-l.sem }()

	req := openai.ChatCompletionRequest{Model: l.cfg.Model, Messages: msgs}
	sent := sentParams{}
	if !l.noTemperature.Load() {
		req.Temperature = temperature
		sent.temperature = true
	}
	if !l.noSchema.Load() {
		req.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:   "summary",
				Schema: replySchema,
				Strict: true,
			},
		}
		sent.schema = true
	}
	var resp openai.ChatCompletionResponse
	err := Attempt(ctx, l.cfg.CallTimeout, func(ctx context.Context) error {
		start := time.Now()
		var err error
		resp, err = l.client.CreateChatCompletion(ctx, req)
		if l.cfg.Observe != nil {
			l.cfg.Observe.LLMCall(time.Since(start), resp.Usage.PromptTokens, resp.Usage.CompletionTokens, err)
		}
		return err
	})
	return resp, sent, err
}

// replySchema is the JSON schema of the reply the prompt asks for.
var replySchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "summary": {"type": "string", "description": "2-3 sentences"},
    "key_points": {"type": "array", "items": {"type": "string"}, "maxItems": 3}
  },
  "required": ["summary", "key_points"],
  "additionalProperties": false
}`)

// adjust handles a server that rejects a request parameter: it drops the
// parameter for this client from now on and reports whether to resend.
func (l *LLM) adjust(e error, sent sentParams) bool {
	if sent.temperature && (errors.Is(e, openai.ErrReasoningModelLimitationsOther) ||
		errors.Is(e, openai.ErrReasoningSamplingUnsupported)) {
		l.noTemperature.Store(true)
		l.log.Info("summary: model takes no temperature, sending none from now on", "model", l.cfg.Model)
		return true
	}
	var he *HTTPError
	if !errors.As(e, &he) || (he.StatusCode != http.StatusBadRequest && he.StatusCode != http.StatusUnprocessableEntity) {
		return false
	}
	msg := strings.ToLower(he.Message + " " + he.Param)
	if sent.temperature && strings.Contains(msg, "temperature") {
		l.noTemperature.Store(true)
		l.log.Info("summary: server rejects temperature, sending none from now on", "model", l.cfg.Model, "err", he.Message)
		return true
	}
	if sent.schema {
		for _, w := range []string{"response_format", "response format", "json_schema", "json schema", "structured", "unsupported", "not supported"} {
			if strings.Contains(msg, w) {
				l.noSchema.Store(true)
				l.log.Info("summary: server rejects structured output, asking for plain JSON from now on", "model", l.cfg.Model, "err", he.Message)
				return true
			}
		}
	}
	return false
}
