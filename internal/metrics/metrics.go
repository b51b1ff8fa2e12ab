// Package metrics is dozor's Prometheus metrics and health check, served
// on METRICS_ADDR: /metrics for Prometheus, /healthz for Docker, systemd
// watchdogs and load balancers. The stages, the summariser and the bot
// report to it through small interfaces of their own; what is in the
// database (queue lengths, counts, source health, outbox age) is read at
// scrape time.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dozor/storage"
)

// Store is what metrics read from the database at scrape time.
type Store interface {
	Count() (storage.Counts, error)
	Sources() ([]storage.Source, error)
	OldestQueued(now time.Time) (time.Time, error)
}

// Metrics collects dozor's metrics. Its methods are safe for concurrent
// use, and on a nil *Metrics they do nothing.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	stageItems    *prometheus.CounterVec
	stageErrors   *prometheus.CounterVec
	stageDuration *prometheus.HistogramVec
	fetches       *prometheus.CounterVec
	matches       prometheus.Counter
	passDuration  prometheus.Histogram
	lastPass      prometheus.Gauge
	llmCalls      *prometheus.CounterVec
	llmTokens     *prometheus.CounterVec
	llmLatency    prometheus.Histogram
	fallbacks     prometheus.Counter
	embedCalls    *prometheus.CounterVec
	embedInputs   prometheus.Counter
	telegram      *prometheus.CounterVec

	mu        sync.Mutex
	started   time.Time
	passAt    time.Time // end of the last watch pass
	staleness time.Duration
	tgOK      bool      // the last call to Telegram got an answer
	tgAt      time.Time // when
}

// Options tune New.
type Options struct {
	// PassEvery is the watch schedule's interval; /healthz reports the
	// pass as stale when none ended for three of them (at least 15 min).
	PassEvery time.Duration
	// Now is the clock, time.Now if nil.
	Now func() time.Time
}

// New makes the metrics of one dozor run on st.
func New(st Store, opt Options) *Metrics {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		now:       now,
		started:   now(),
		staleness: max(3*opt.PassEvery, 15*time.Minute),
		stageItems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_stage_items_total",
			Help: "Items each pipeline stage finished."}, []string{"stage"}),
		stageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_stage_errors_total",
			Help: "Failed steps of each pipeline stage."}, []string{"stage"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dozor_stage_duration_seconds",
			Help: "How long one step (a batch, a page, a summary, a send) of each stage took.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"stage"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_feed_fetches_total",
			Help: "Feed fetches by result: ok, not_modified, error."}, []string{"result"}),
		matches: prometheus.NewCounter(prometheus.CounterOpts{Name: "dozor_matches_total",
			Help: "New articles that matched a topic on their feed text."}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dozor_pass_duration_seconds",
			Help: "Duration of watch passes.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 12)}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dozor_last_pass_timestamp_seconds",
			Help: "When the last watch pass ended, as a Unix time."}),
		llmCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_llm_calls_total",
			Help: "Calls to the LLM endpoint by result: ok, error."}, []string{"result"}),
		llmTokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_llm_tokens_total",
			Help: "Tokens the LLM endpoint reported, by kind: prompt, completion."}, []string{"kind"}),
		llmLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dozor_llm_call_duration_seconds",
			Help: "Duration of one call to the LLM endpoint.", Buckets: prometheus.ExponentialBuckets(0.25, 2, 10)}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "dozor_summary_fallbacks_total",
			Help: "Summaries made by the built-in extractive summary because the LLM did not answer in time."}),
		embedCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_embed_calls_total",
			Help: "Requests to the embeddings endpoint by result: ok, error."}, []string{"result"}),
		embedInputs: prometheus.NewCounter(prometheus.CounterOpts{Name: "dozor_embed_inputs_total",
			Help: "Texts sent to the embeddings endpoint."}),
		telegram: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dozor_telegram_requests_total",
			Help: "Bot API calls by method and HTTP status (0: no answer)."}, []string{"method", "code"}),
	}
	m.reg.MustRegister(m.stageItems, m.stageErrors, m.stageDuration, m.fetches, m.matches, m.passDuration, m.lastPass,
		m.llmCalls, m.llmTokens, m.llmLatency, m.fallbacks, m.embedCalls, m.embedInputs, m.telegram,
		&storeCollector{st: st, now: now},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// StageDone records one step of a stage: items finished, how long it
// took (0: not timed), and whether it failed.
func (m *Metrics) StageDone(stage string, items int, d time.Duration, err error) {
	if m == nil {
		return
	}
	if items > 0 {
		m.stageItems.WithLabelValues(stage).Add(float64(items))
	}
	if err != nil {
		m.stageErrors.WithLabelValues(stage).Inc()
	}
	if d > 0 {
		m.stageDuration.WithLabelValues(stage).Observe(d.Seconds())
	}
}

// Fetched records one feed fetch: "ok", "not_modified" or "error".
func (m *Metrics) Fetched(result string) {
	if m != nil {
		m.fetches.WithLabelValues(result).Inc()
	}
}

// Matched counts new articles that matched a topic.
func (m *Metrics) Matched(n int) {
	if m != nil && n > 0 {
		m.matches.Add(float64(n))
	}
}

// PassDone records a watch pass that ended at at.
func (m *Metrics) PassDone(elapsed time.Duration, at time.Time) {
	if m == nil {
		return
	}
	m.passDuration.Observe(elapsed.Seconds())
	m.lastPass.Set(float64(at.Unix()))
	m.mu.Lock()
	m.passAt = at
	m.mu.Unlock()
}

// LLMCall records one call to the LLM endpoint.
func (m *Metrics) LLMCall(d time.Duration, promptTokens, completionTokens int, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.llmCalls.WithLabelValues(result).Inc()
	m.llmLatency.Observe(d.Seconds())
	m.llmTokens.WithLabelValues("prompt").Add(float64(max(0, promptTokens)))
	m.llmTokens.WithLabelValues("completion").Add(float64(max(0, completionTokens)))
}

// EmbedCall records one request to the embeddings endpoint.
func (m *Metrics) EmbedCall(_ time.Duration, inputs, _ int, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.embedCalls.WithLabelValues(result).Inc()
	m.embedInputs.Add(float64(inputs))
}

// Fallback counts a summary the LLM did not make.
func (m *Metrics) Fallback() {
	if m != nil {
		m.fallbacks.Inc()
	}
}

// TelegramCall records one Bot API call: its method and HTTP status, 0
// when Telegram could not be reached. Any answer below 500 means the bot
// is connected.
func (m *Metrics) TelegramCall(method string, code int) {
	if m == nil {
		return
	}
	m.telegram.WithLabelValues(method, strconv.Itoa(code)).Inc()
	m.mu.Lock()
	m.tgOK, m.tgAt = code > 0 && code < 500, m.now()
	m.mu.Unlock()
}

// Health is what /healthz answers.
type Health struct {
	OK bool `json:"ok"`
	// Pass: "ok", "starting" (no pass yet, just started) or "stale".
	Pass     string    `json:"pass"`
	LastPass time.Time `json:"last_pass,omitzero"`
	// Telegram: "connected", "connecting" (no call answered yet) or
	// "unreachable".
	Telegram string `json:"telegram"`
}

// Health says whether the last pass is recent and the bot connected.
func (m *Metrics) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	h := Health{LastPass: m.passAt}
	switch {
	case !m.passAt.IsZero() && now.Sub(m.passAt) <= m.staleness:
		h.Pass = "ok"
	case m.passAt.IsZero() && now.Sub(m.started) <= m.staleness:
		h.Pass = "starting"
	default:
		h.Pass = "stale"
	}
	switch {
	case m.tgAt.IsZero():
		h.Telegram = "connecting"
	case m.tgOK:
		h.Telegram = "connected"
	default:
		h.Telegram = "unreachable"
	}
	h.OK = h.Pass != "stale" && h.Telegram != "unreachable"
	return h
}

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		h := m.Health()
		w.Header().Set("Content-Type", "application/json")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}

// Serve serves the handler on addr until ctx ends.
func Serve(ctx context.Context, addr string, m *Metrics, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	log.Info("metrics: serving /metrics and /healthz", "addr", ln.Addr().String())
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// storeCollector reads what the database holds at scrape time.
type storeCollector struct {
	st  Store
	now func() time.Time
}

var (
	queueDesc   = prometheus.NewDesc("dozor_queue_length", "Items waiting in each stage's queue.", []string{"stage"}, nil)
	recordsDesc = prometheus.NewDesc("dozor_records", "Records stored, by kind: articles, stories, sources, topics.", []string{"kind"}, nil)
	sourcesDesc = prometheus.NewDesc("dozor_sources", "Sources by health: ok, failing (the last fetch failed).", []string{"state"}, nil)
	outboxDesc  = prometheus.NewDesc("dozor_outbox_oldest_age_seconds", "Age of the oldest alert that should have been sent by now (0: none).", nil, nil)
	scrapeDesc  = prometheus.NewDesc("dozor_store_scrape_errors", "1 if the database could not be read for this scrape.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDesc, recordsDesc, sourcesDesc, outboxDesc, scrapeDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	failed := 0.0
	if n, err := c.st.Count(); err == nil {
		for stage, v := range map[string]int{
			"page_urgent": n.PagesUrgent, "page_bulk": n.PagesBulk, "fold": n.Fold, "summarize": n.Alerts,
			"fanout": n.Fanout, "deliver": n.Outbox, "index": n.Index, "digest": n.Held, "embed": n.Embed, "edit": n.Edit,
		} {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(v), stage)
		}
		for kind, v := range map[string]int{"articles": n.Articles, "stories": n.Stories, "sources": n.Sources, "topics": n.Topics} {
			ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.GaugeValue, float64(v), kind)
		}
	} else {
		failed = 1
	}
	if srcs, err := c.st.Sources(); err == nil {
		ok, failing := 0, 0
		for _, s := range srcs {
			if s.Failures > 0 {
				failing++
			} else {
				ok++
			}
		}
		ch <- prometheus.MustNewConstMetric(sourcesDesc, prometheus.GaugeValue, float64(ok), "ok")
		ch <- prometheus.MustNewConstMetric(sourcesDesc, prometheus.GaugeValue, float64(failing), "failing")
	} else {
		failed = 1
	}
	now := c.now()
	if at, err := c.st.OldestQueued(now); err == nil {
		age := 0.0
		if !at.IsZero() {
			age = max(0, now.Sub(at).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, age)
	} else {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(scrapeDesc, prometheus.GaugeValue, failed)
}
