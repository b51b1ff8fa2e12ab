package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"dozor/internal/tgfake"
)

// newsSite serves a feed and the article page it links to; the feed is
// empty until publish is called.
type newsSite struct {
	*httptest.Server
	mu    sync.Mutex
	items string
}

func newNewsSite(t *testing.T) *newsSite {
	s := &newsSite{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rss":
			s.mu.Lock()
			items := s.items
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Лента</title><link>%s/</link>%s</channel></rss>`, s.URL, items)
		case "/news/vtb":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<html><head><title>ВТБ и Китай</title></head><body><nav>Главная | Финансы</nav><article><h1>ВТБ рассматривает создание ИИ-центра в Китае</h1>
<p>Банк ВТБ прорабатывает создание центра компетенций в области искусственного интеллекта на территории Китая.</p>
<p>ВТБ уже имеет представительство в Шанхае, что может упростить создание нового центра.</p>
<p>Партнером банка выступает Huawei, которая помогает тестировать инфраструктурные решения.</p></article>
<div class="related">Читайте также: курс рубля</div></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *newsSite) publish(title, path, teaser string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items += fmt.Sprintf(`<item><title>%s</title><link>%s%s</link><description>%s</description><pubDate>%s</pubDate></item>`,
		title, s.URL, path, teaser, time.Now().Format(time.RFC1123Z))
}

// fakeLLM answers chat completions like an OpenAI-compatible server.
func fakeLLM(t *testing.T, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		calls.Add(1)
		var req struct {
			Model    string                     `json:"model"`
			Messages []struct{ Content string } `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Model != "test-model" || len(req.Messages) == 0 || !strings.Contains(req.Messages[len(req.Messages)-1].Content, "Шанхае") {
			t.Errorf("unexpected request: model %q, %d messages (the page's full text should be in the prompt)", req.Model, len(req.Messages))
		}
		content, _ := json.Marshal(map[string]any{
			"summary":    "ВТБ изучает открытие ИИ-центра в Китае для совместных исследований.",
			"key_points": []string{"Партнёр — Huawei", "Офис в Шанхае уже есть"},
		})
		json.NewEncoder(w).Encode(map[string]any{
			"id": "x", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": string(content)}}},
			"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunEndToEnd(t *testing.T) {
	const token, admin = "123456:SECRET-token-value", int64(1001)
	tg := tgfake.New(t, token)
	site := newNewsSite(t)
	var llmCalls atomic.Int32
	llm := fakeLLM(t, &llmCalls)
	metricsAddr := freeAddr(t)
	env(t, "TELEGRAM_BOT_TOKEN", token, "TELEGRAM_API_URL", tg.URL(), "ADMIN_IDS", fmt.Sprint(admin),
		"FETCH_ALLOW_PRIVATE", "true", "WATCH_SCHEDULE", "@every 1s", "LOG_LEVEL", "debug",
		"OPENAI_BASE_URL", llm.URL+"/v1", "OPENAI_MODEL", "test-model", "METRICS_ADDR", metricsAddr)
	os.WriteFile("wl.yaml", []byte(fmt.Sprintf("sources:\n  - url: %s/rss\n    name: Лента\ntopics:\n  - name: vtb-china\n    query: ВТБ Китай Шанхай\n", site.URL)), 0o600)
	if code, _, stderr := dozor(t, "import", "wl.yaml"); code != 0 {
		t.Fatal(stderr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	exited := make(chan int, 1)
	go func() { exited <- Run(ctx, []string{"run"}, &stdout, &stderr) }()
	defer func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("run exited %d: %s", code, lastLines(stderr.String(), 5))
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not stop within 30s of cancellation")
		}
		if strings.Contains(stderr.String(), "SECRET-token-value") {
			t.Error("the bot token reached the log")
		}
	}()

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	tg.SendText(admin, admin, "/start", tgfake.FirstName("Анна"), tgfake.LanguageCode("ru"))
	if _, err := tg.WaitMessages(wctx, admin, 1); err != nil {
		t.Fatalf("no reply to /start: %v\n%s", err, lastLines(stderr.String(), 10))
	}
	tg.SendText(admin, admin, "/subscribe vtb-china", tgfake.LanguageCode("ru"))
	if _, err := tg.WaitMessages(wctx, admin, 2); err != nil {
		t.Fatalf("no reply to /subscribe: %v", err)
	}

	// The teaser alone does not match (no «Шанхай»); the page's full text does.
	site.publish("ВТБ рассматривает создание ИИ-центра в Китае", "/news/vtb", "Банк ВТБ прорабатывает новый проект в Китае.")
	msgs, err := tg.WaitMessages(wctx, admin, 3)
	if err != nil {
		t.Fatalf("no alert: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	alert := msgs[2]
	for _, want := range []string{"ВТБ рассматривает создание ИИ-центра в Китае", "vtb-china", "ИИ-центра в Китае для совместных", "Huawei"} {
		if !strings.Contains(alert.Plain, want) {
			t.Errorf("alert lacks %q:\n%s", want, alert.Plain)
		}
	}
	if alert.ParseMode != "HTML" || !strings.Contains(alert.Text, `href="`+site.URL+`/news/vtb"`) {
		t.Errorf("alert should be HTML with the article link: %s", alert.Text)
	}
	// More passes: no second alert, no second model call.
	time.Sleep(2500 * time.Millisecond)
	if n := len(tg.Messages(admin)); n != 3 {
		t.Errorf("%d messages after more passes, want 3", n)
	}
	if n := llmCalls.Load(); n != 1 {
		t.Errorf("model called %d times, want once per story", n)
	}

	// The metrics moved with all that, and the health check is green.
	got, raw := scrape(t, "http://"+metricsAddr+"/metrics")
	for _, c := range []struct {
		series string
		min    float64
	}{
		{`dozor_feed_fetches_total{result="ok"}`, 2},
		{`dozor_matches_total`, 0}, // the teaser did not match; the page did
		{`dozor_stage_items_total{stage="page"}`, 1},
		{`dozor_stage_items_total{stage="fold"}`, 1},
		{`dozor_stage_items_total{stage="summarize"}`, 1},
		{`dozor_stage_items_total{stage="fanout"}`, 1},
		{`dozor_stage_items_total{stage="deliver"}`, 1},
		{`dozor_stage_items_total{stage="index"}`, 1},
		{`dozor_llm_calls_total{result="ok"}`, 1},
		{`dozor_llm_tokens_total{kind="prompt"}`, 120},
		{`dozor_llm_tokens_total{kind="completion"}`, 40},
		{`dozor_telegram_requests_total{code="200",method="sendMessage"}`, 3},
		{`dozor_records{kind="articles"}`, 1},
		{`dozor_records{kind="stories"}`, 1},
		{`dozor_sources{state="ok"}`, 1},
		{`dozor_pass_duration_seconds_count`, 2},
		{`dozor_queue_length{stage="deliver"}`, 0},
		{`dozor_outbox_oldest_age_seconds`, 0},
	} {
		v, ok := got[c.series]
		if !ok || v < c.min {
			t.Errorf("%s = %v (present %v), want at least %v", c.series, v, ok, c.min)
		}
	}
	if got[`dozor_llm_calls_total{result="error"}`] != 0 || got[`dozor_summary_fallbacks_total`] != 0 {
		t.Errorf("model errors or fallbacks counted: %v, %v", got[`dozor_llm_calls_total{result="error"}`], got[`dozor_summary_fallbacks_total`])
	}
	if strings.Contains(raw, "SECRET") {
		t.Error("the bot token reached /metrics")
	}
	resp, err := http.Get("http://" + metricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		OK       bool   `json:"ok"`
		Pass     string `json:"pass"`
		Telegram string `json:"telegram"`
	}
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || !health.OK || health.Pass != "ok" || health.Telegram != "connected" {
		t.Errorf("/healthz %d %+v", resp.StatusCode, health)
	}
	if code, out, errOut := dozor(t, "healthcheck"); code != 0 {
		t.Errorf("dozor healthcheck exited %d: %s %s", code, out, errOut)
	}
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrape reads a Prometheus text exposition into series → value, with
// labels in name order as in `name{a="x",b="y"}`.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %d %v", url, resp.StatusCode, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			series := name
			if len(labels) > 0 {
				series += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[series] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[series] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"] += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out, string(body)
}

func TestRunWithoutTokenSaysHowToGetOne(t *testing.T) {
	env(t, "TELEGRAM_BOT_TOKEN", "")
	code, _, stderr := dozor(t, "run")
	if code == 0 || !strings.Contains(stderr, "@BotFather") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
