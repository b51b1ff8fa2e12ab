// Package embed gives dozor a second way to see that two articles report
// one story: embeddings from an OpenAI-compatible /embeddings endpoint (the
// same kind of server as the summaries), which place a Russian report and
// its English translation close together where word shingles cannot, and
// named entities matched across scripts, which keep apart different events
// on one subject that embeddings alone would call close.
//
// Client.Embed turns texts (Input of an article: title and lead) into
// Vectors, unit length and quantised to int8, compared with Cosine.
// Entities.Of lists an article's entities; SameStory combines the two
// signals into the fold decision, with a threshold per model from
// DefaultThreshold.
package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"
	"golang.org/x/sync/errgroup"

	"dozor/internal/summary"
)

// Defaults for Config fields left zero.
const (
	DefaultConcurrency = 2
	DefaultCallTimeout = 60 * time.Second
	DefaultMaxRetries  = summary.DefaultMaxRetries
	DefaultBatchSize   = 64
	// MaxBatchSize is OpenAI's limit of inputs per request.
	MaxBatchSize   = 2048
	DefaultBaseURL = summary.DefaultBaseURL
)

// maxResponseBytes caps what is read of one reply: 2,048 inputs of 1,024
// floats as JSON take about 25 MB.
const maxResponseBytes = 64 << 20

// Config of the embeddings client. Zero values take the defaults above.
type Config struct {
	// BaseURL of an OpenAI-compatible API with its version path, as for
	// summaries: requests go to BaseURL + "/embeddings". Empty means OpenAI
	// when APIKey is set.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY"; empty sends none.
	APIKey string
	// Model is the served model name (EMBEDDINGS_MODEL). It stamps every
	// Vector and chooses the prefixes (see Prefixes) and DefaultThreshold.
	Model string
	// Concurrency bounds requests in flight over all calls of Embed.
	Concurrency int
	// CallTimeout bounds one HTTP attempt.
	CallTimeout time.Duration
	// MaxRetries after the first attempt of a request, as
	// summary.Config.MaxRetries: 0 means DefaultMaxRetries, negative none.
	MaxRetries int
	// BatchSize is how many inputs go in one request (at most MaxBatchSize).
	BatchSize int
	// HTTPClient nil means a client with a timeout a little over CallTimeout.
	HTTPClient *http.Client
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Observe is told about every request; nil: nobody.
	Observe CallObserver
}

// CallObserver is told about each request to the endpoint: how long it
// took, how many inputs it carried, the tokens the server counted and
// whether it failed.
type CallObserver interface {
	EmbedCall(d time.Duration, inputs, tokens int, err error)
}

// Kind is what a text is to the model. Most models embed both kinds alike;
// some are trained with a prefix for each (see Prefixes).
type Kind int

const (
	// Passage is a document: an article, stored and compared with other
	// articles and with queries. Folding compares passages with passages.
	Passage Kind = iota
	// Query is a search query, compared with stored passages.
	Query
)

func (k Kind) String() string {
	switch k {
	case Passage:
		return "passage"
	case Query:
		return "query"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Client embeds texts through an OpenAI-compatible embeddings API. It is
// safe for concurrent use.
type Client struct {
	cfg    Config
	api    *openai.Client
	sem    chan struct{}
	prefix [2]string // by Kind
	// retry is a field so tests can record waits instead of sleeping.
	retry summary.RetryPolicy
}

// New checks cfg and builds the client. It makes no request.
func New(cfg Config) (*Client, error) {
	cfg.BaseURL = strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	cfg.Model = strings.TrimSpace(cfg.Model)
	if cfg.BaseURL == "" && strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("embed: not configured: set a base URL or an API key")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("embed: base URL %q: want http(s)://host[/path]", cfg.BaseURL)
	}
	if cfg.Model == "" {
		return nil, errors.New("embed: model name is required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, MaxBatchSize)
	if cfg.HTTPClient == nil {
		// A backstop only: the per-call context ends first, with a clearer error.
		cfg.HTTPClient = &http.Client{Timeout: cfg.CallTimeout + 5*time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	retry := summary.DefaultRetry("embed: request", cfg.MaxRetries, cfg.Logger)
	cfg.MaxRetries = retry.MaxRetries

	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = cfg.BaseURL
	oc.HTTPClient = summary.NewHTTPDoer(cfg.HTTPClient, maxResponseBytes)
	c := &Client{
		cfg:   cfg,
		api:   openai.NewClientWithConfig(oc),
		sem:   make(chan struct{}, cfg.Concurrency),
		retry: retry,
	}
	c.prefix[Passage], c.prefix[Query] = Prefixes(cfg.Model)
	return c, nil
}

// Model is the configured model name, the stamp on every Vector.
func (c *Client) Model() string { return c.cfg.Model }

// Embed returns one normalised, quantised vector per text, in order. It
// splits texts into requests of BatchSize inputs, runs them with bounded
// concurrency, retries what is worth retrying like the summary client
// (429, 5xx, timeouts, broken connections; Retry-After honoured), and
// returns ctx's error when ctx ends. Texts of kind get the model's prefix
// (see Prefixes). A blank text is not sent: its Vector is the zero Vector,
// close to nothing. Any failed request fails the call.
func (c *Client) Embed(ctx context.Context, kind Kind, texts []string) ([]Vector, error) {
	if kind != Passage && kind != Query {
		return nil, fmt.Errorf("embed: unknown kind %v", kind)
	}
	out := make([]Vector, len(texts))
	todo := make([]int, 0, len(texts))
	for i, t := range texts {
		if strings.TrimSpace(t) != "" {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	prefix := c.prefix[kind]
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for start := 0; start < len(todo) && gctx.Err() == nil; start += c.cfg.BatchSize {
		batch := todo[start:min(start+c.cfg.BatchSize, len(todo))]
		g.Go(func() error {
			inputs := make([]string, len(batch))
			for j, i := range batch {
				inputs[j] = prefix + strings.ToValidUTF8(texts[i], "")
			}
			vs, err := c.request(gctx, inputs)
			if err != nil {
				return err
			}
			for j, i := range batch {
				out[i] = vs[j]
			}
			return nil
		})
	}
	err := g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		if err == nil || !errors.Is(err, cerr) {
			return nil, fmt.Errorf("embed: %w", errors.Join(cerr, err))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	return out, nil
}

// request embeds one batch, retrying as the summary client does.
func (c *Client) request(ctx context.Context, inputs []string) ([]Vector, error) {
	var vs []Vector
	err := summary.Retry(ctx, c.retry, func(ctx context.Context) error {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-c.sem }()
		return summary.Attempt(ctx, c.cfg.CallTimeout, func(ctx context.Context) error {
			start := time.Now()
			resp, err := c.api.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{
				Input: inputs,
				Model: openai.EmbeddingModel(c.cfg.Model),
			})
			if err == nil {
				// A reply that does not fit the request is malformed: Attempt
				// sees a 2xx and makes it final.
				vs, err = c.vectors(resp, len(inputs))
			}
			if c.cfg.Observe != nil {
				c.cfg.Observe.EmbedCall(time.Since(start), len(inputs), resp.Usage.PromptTokens, err)
			}
			return err
		})
	})
	return vs, err
}

// vectors checks a reply against the request and quantises it in input
// order (servers may answer in any order; index says which input).
func (c *Client) vectors(resp openai.EmbeddingResponse, n int) ([]Vector, error) {
	if len(resp.Data) != n {
		return nil, fmt.Errorf("%d embeddings for %d inputs", len(resp.Data), n)
	}
	vs := make([]Vector, n)
	dim := len(resp.Data[0].Embedding)
	for _, d := range resp.Data {
		switch {
		case d.Index < 0 || d.Index >= n:
			return nil, fmt.Errorf("embedding index %d out of range for %d inputs", d.Index, n)
		case vs[d.Index].Q != nil:
			return nil, fmt.Errorf("embedding index %d repeated", d.Index)
		case len(d.Embedding) == 0 || len(d.Embedding) > MaxDim:
			return nil, fmt.Errorf("embedding %d has %d dimensions", d.Index, len(d.Embedding))
		case len(d.Embedding) != dim:
			return nil, fmt.Errorf("embeddings of %d and %d dimensions in one reply", dim, len(d.Embedding))
		}
		v := Quantize(c.cfg.Model, d.Embedding)
		if v.Dim() == 0 {
			return nil, fmt.Errorf("embedding %d is zero or not finite", d.Index)
		}
		vs[d.Index] = v
	}
	return vs, nil
}

// Prefixes returns the texts a model wants before passages and before
// queries, detected from its name (lower case, as served: an Ollama tag or a
// Hugging Face id both work):
//
//   - e5 models ("multilingual-e5-base", "intfloat/e5-large-v2"): "passage: "
//     and "query: ", as they were trained; without them e5 vectors are
//     measurably worse. The e5 authors advise "query: " on both sides for
//     symmetric tasks; dozor stores one vector per article for both folding
//     and search, so articles are passages — what matters for folding is
//     that both sides carry the same prefix, which they do.
//   - e5 "instruct" models and Qwen3-Embedding: nothing before passages, an
//     "Instruct: …\nQuery: " line before queries.
//   - nomic-embed-text (v1.5, v2-moe): "search_document: " and
//     "search_query: ".
//   - anything else (bge-m3, OpenAI's text-embedding-3): none.
//
// A model served under a name that hides its family gets no prefix.
func Prefixes(model string) (passage, query string) {
	m := strings.ToLower(model)
	const instruct = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
	switch {
	case strings.Contains(m, "qwen3-embedding") || strings.Contains(m, "qwen3_embedding"):
		return "", instruct
	case hasPart(m, "e5") && strings.Contains(m, "instruct"):
		return "", instruct
	case hasPart(m, "e5"):
		return "passage: ", "query: "
	case strings.Contains(m, "nomic-embed-text"):
		return "search_document: ", "search_query: "
	}
	return "", ""
}

// hasPart reports whether part is one of the pieces of name between
// separators: "e5" is a part of "intfloat/multilingual-e5-base:latest" but
// not of "gte5x".
func hasPart(name, part string) bool {
	for p := range strings.FieldsFuncSeq(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) {
		if p == part {
			return true
		}
	}
	return false
}
