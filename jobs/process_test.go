package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"dozor/internal/summary"
	"dozor/prompts"
	"dozor/storage"
)

// llmFake is an OpenAI-compatible chat completions endpoint. It checks each
// request like a real server would and answers with the behaviour set last;
// every answer carries token usage, as OpenAI's does.
type llmFake struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	reply   func(w http.ResponseWriter, r *http.Request)
	prompts []string // the user message of every request

	arrived chan struct{} // one send per request
	gaveUp  chan struct{} // one send per request whose client went away
}

const (
	fakeSummary = "ВТБ изучает создание центра ИИ в Китае."
	fakePoint   = "Центр нужен для совместных исследований."
	fakeModel   = "m-2025-01"
)

func newLLMFake(t *testing.T) *llmFake {
	f := &llmFake{t: t, arrived: make(chan struct{}, 64), gaveUp: make(chan struct{}, 64)}
	f.reply = f.answer
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *llmFake) baseURL() string { return f.srv.URL + "/v1" }

func (f *llmFake) set(reply func(http.ResponseWriter, *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reply = reply
}

func (f *llmFake) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.prompts)
}

func (f *llmFake) prompt(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prompts[i]
}

func (f *llmFake) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		f.t.Errorf("LLM request %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		fakeJSON(w, http.StatusNotFound, `{"error":{"message":"Not found","type":"invalid_request_error"}}`)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	user := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			user = m.Content
		}
	}
	if err != nil || req.Model != "m" || user == "" {
		f.t.Errorf("bad LLM request (model %q, %d messages): %v", req.Model, len(req.Messages), err)
		fakeJSON(w, http.StatusBadRequest, `{"error":{"message":"invalid request","type":"invalid_request_error"}}`)
		return
	}
	f.mu.Lock()
	f.prompts = append(f.prompts, user)
	reply := f.reply
	f.mu.Unlock()
	f.arrived <- struct{}{}
	reply(w, r)
}

func fakeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// answer is a successful chat completion with the structured reply the
// prompt asks for.
func (f *llmFake) answer(w http.ResponseWriter, r *http.Request) {
	content, _ := json.Marshal(map[string]any{"summary": fakeSummary, "key_points": []string{fakePoint}})
	msg, _ := json.Marshal(string(content))
	fakeJSON(w, http.StatusOK, fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1735800000,`+
		`"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":1200,"completion_tokens":85,"total_tokens":1285}}`, fakeModel, msg))
}

// slow answers after d unless the client gives up first.
func (f *llmFake) slow(d time.Duration) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			f.answer(w, r)
		case <-r.Context().Done():
			f.gaveUp <- struct{}{}
		}
	}
}

// hang never answers; it returns when the client gives up.
func (f *llmFake) hang(w http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
	f.gaveUp <- struct{}{}
}

func serverError(w http.ResponseWriter, r *http.Request) {
	fakeJSON(w, http.StatusInternalServerError, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`)
}

// wait waits for one send on ch: a server reporting what it saw.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// processor builds a Processor on the harness's store and clock, with the
// real summary.Summarizer talking to baseURL.
func (h *harness) processor(baseURL string) *Processor {
	h.t.Helper()
	set, err := prompts.Load("")
	if err != nil {
		h.t.Fatal(err)
	}
	llm, err := summary.NewLLM(summary.Config{
		BaseURL: baseURL, Model: "m", Language: "ru", Prompts: set,
		CallTimeout: 5 * time.Second, MaxRetries: -1, Logger: discard(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return &Processor{
		Store: h.store, Fetcher: h.w.Fetcher,
		Summarizer: &summary.Summarizer{LLM: llm, Logger: discard()},
		Lang:       "ru", Deadline: time.Minute, Workers: 4,
		Now: func() time.Time { return h.now }, Log: discard(),
	}
}

func (h *harness) run(p *Processor) []Processed {
	h.t.Helper()
	done, err := p.Run(context.Background())
	if err != nil {
		h.t.Fatalf("process: %v", err)
	}
	return done
}

func (h *harness) summaryOf(storyID uint64) storage.Summary {
	h.t.Helper()
	s, err := h.store.Summary(storyID, "ru")
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) usage(day time.Time) storage.Usage {
	h.t.Helper()
	u, err := h.store.Usage(day)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func (h *harness) user(id int64, status storage.UserStatus, inactive bool, topics ...string) {
	h.t.Helper()
	_, created, err := h.store.CreateUser(storage.User{ID: id, ChatID: id, Name: fmt.Sprint("user", id),
		Lang: "ru", Status: status, Inactive: inactive, Mode: storage.ModeInstant, Topics: topics, Created: h.now})
	if err != nil || !created {
		h.t.Fatalf("create user %d: created=%v err=%v", id, created, err)
	}
}

// seedBody is a seed article without its first line (the title).
func seedBody(t *testing.T, name string) string {
	return strings.TrimSpace(strings.SplitN(seed(t, name), "\n", 2)[1])
}

// reprints serves one feed per path whose items can be added between passes.
type reprints struct {
	mu    sync.Mutex
	items map[string][]item
}

func (h *harness) feeds(fs *feedServer, paths ...string) *reprints {
	rp := &reprints{items: map[string][]item{}}
	for _, p := range paths {
		h.source(fs.rss(p, func() string {
			rp.mu.Lock()
			defer rp.mu.Unlock()
			return rssDoc("Feed "+p, rp.items[p]...)
		}))
	}
	return rp
}

func (rp *reprints) add(path string, it item) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.items[path] = append(rp.items[path], it)
}

const vtbTitle = "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований"

// alerts returns the alerts a pass queued.
func alerts(rep *Report) []*storage.Alert {
	var out []*storage.Alert
	for _, m := range rep.Matches {
		if m.Alert != nil {
			out = append(out, m.Alert)
		}
	}
	return out
}

func topicsOf(done []Processed) [][]string {
	var out [][]string
	for _, d := range done {
		out = append(out, d.Alert.Topics)
	}
	return out
}

func TestProcessorSummarisesAStoryOnceAcrossReprints(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two", "/three")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/news/123", body + " Источник: «Известия».", h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	if rep := h.pass(false); rep.NewArticles != 2 || rep.NewStories != 1 || len(alerts(rep)) != 1 {
		t.Fatalf("pass: %d new, %d stories, %d alerts; want 2, 1, 1", rep.NewArticles, rep.NewStories, len(alerts(rep)))
	}
	p := h.processor(llm.baseURL())
	done := h.run(p)
	if llm.calls() != 1 || len(done) != 1 {
		t.Fatalf("model calls %d, processed %d; want 1 and 1", llm.calls(), len(done))
	}
	first := done[0].Summary
	if first.Extractive || first.Text != fakeSummary || !slices.Equal(first.KeyPoints, []string{fakePoint}) || first.Model != fakeModel {
		t.Fatalf("summary: %+v", first)
	}
	if got := h.summaryOf(done[0].Alert.StoryID); got.Text != fakeSummary || !got.Created.Equal(first.Created) {
		t.Errorf("stored summary %+v, want what Run returned", got)
	}

	// A new topic, and a third reprint that matches it: a new alert on the
	// same story, summarised from the store.
	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/three", item{"ВТБ может открыть ИИ-центр в Китае", "https://three.example/a/1", body + " Перепечатка с разрешения редакции.", h.now})
	rep := h.pass(false)
	al := alerts(rep)
	if rep.NewArticles != 1 || rep.NewStories != 0 || len(al) != 1 || !slices.Equal(al[0].Topics, []string{"shanghai"}) {
		t.Fatalf("reprint pass: %d new, %d stories, alerts %v", rep.NewArticles, rep.NewStories, al)
	}
	done = h.run(p)
	if len(done) != 1 || done[0].Alert.ID != al[0].ID {
		t.Fatalf("processed %v, want the reprint's alert", topicsOf(done))
	}
	if llm.calls() != 1 {
		t.Errorf("model calls = %d after the reprint, want still 1", llm.calls())
	}
	if s := done[0].Summary; s.Text != fakeSummary || !s.Created.Equal(first.Created) {
		t.Errorf("reprint got summary %+v, want the stored one", s)
	}
	if u := h.usage(h.now); u.Calls != 1 || u.PromptTokens != 1200 || u.CompletionTokens != 85 {
		t.Errorf("usage %+v, want one call", u)
	}
}

// Two alerts on one story in one run (the reprint matched a new topic
// before the first alert was processed) still make one model call: the
// second waits for the first instead of calling too.
func TestProcessorOneCallForTwoAlertsInFlight(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	llm.set(llm.slow(200 * time.Millisecond)) // long enough for both alerts to ask
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	h.pass(false)
	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	h.pass(false)
	if pending, _ := h.store.PendingAlerts(0); len(pending) != 2 || pending[0].StoryID != pending[1].StoryID {
		t.Fatalf("pending alerts %+v, want two on one story", pending)
	}
	done := h.run(h.processor(llm.baseURL()))
	if len(done) != 2 {
		t.Fatalf("processed %d alerts, want 2", len(done))
	}
	if llm.calls() != 1 {
		t.Errorf("model calls = %d, want 1", llm.calls())
	}
	for _, d := range done {
		if d.Summary.Text != fakeSummary {
			t.Errorf("alert %v got summary %q", d.Alert.Topics, d.Summary.Text)
		}
	}
}

func TestProcessorKeepsSummariesAcrossRestarts(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	h.pass(false)
	done := h.run(h.processor(llm.baseURL()))
	if len(done) != 1 || llm.calls() != 1 {
		t.Fatalf("processed %d, calls %d; want 1 and 1", len(done), llm.calls())
	}
	story := done[0].Alert.StoryID

	// Restart: the same file, a new store and a new processor.
	path := h.store.Path()
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store, h.w.Store = st, st

	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	al := alerts(h.pass(false))
	if len(al) != 1 || al[0].StoryID != story {
		t.Fatalf("after restart: alerts %+v, want one on story %d", al, story)
	}
	done = h.run(h.processor(llm.baseURL()))
	if len(done) != 1 || done[0].Summary.Text != fakeSummary || done[0].Summary.Extractive {
		t.Fatalf("after restart: processed %+v", done)
	}
	if llm.calls() != 1 {
		t.Errorf("model calls = %d after restart, want still 1", llm.calls())
	}
}

// finextra is the English seed as a feed item.
func finextra(t *testing.T, link string, published time.Time) item {
	return item{"Putin orders Russian bank to cooperate with China on AI", link,
		seedBody(t, "finextra-sberbank-china-ai.en.txt"), published}
}

func hasCyrillic(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0
}

func TestProcessorDeadlineFallsBackToExtractive(t *testing.T) {
	t.Run("slow model", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		llm.set(llm.slow(3 * time.Second))
		rp := h.feeds(fs, "/en", "/reprint")
		// The deadline counts from the alert's creation, in real time.
		h.now = time.Now()
		art := finextra(t, "https://www.finextra.com/newsarticle/1", h.now)
		rp.add("/en", art)
		h.topic("sber", "Sberbank China")
		h.pass(false)

		p := h.processor(llm.baseURL())
		p.Deadline = 300 * time.Millisecond
		p.Now = nil
		done := h.run(p)
		wait(t, llm.gaveUp, "the model call to be abandoned at the deadline")
		if len(done) != 1 || llm.calls() != 1 {
			t.Fatalf("processed %d, calls %d; want 1 and 1", len(done), llm.calls())
		}
		s := h.summaryOf(done[0].Alert.StoryID)
		if !s.Extractive || s.Model != "" || s.Text == "" {
			t.Fatalf("stored summary %+v, want an extractive one", s)
		}
		// Extractive summaries cannot translate: the article is English,
		// SUMMARY_LANGUAGE is ru, the summary is the article's sentences.
		flat := strings.Join(strings.Fields(art.text), " ")
		if hasCyrillic(s.Text) || !strings.Contains(flat, s.Text[:min(60, len(s.Text))]) {
			t.Errorf("extractive summary is not the article's English text: %q", s.Text)
		}
		if u := h.usage(time.Now()); u.Fallbacks != 1 || u.Calls != 0 {
			t.Errorf("usage %+v, want one fallback and no call", u)
		}

		// The model is fast now, but the story keeps its summary: a new
		// alert on it (a reprint matching a new topic) makes no call.
		llm.set(llm.answer)
		h.topic("gref", "Gref Sberbank")
		h.now = time.Now()
		reprint := art
		reprint.title, reprint.link = "Putin tells Sberbank to work with China on AI", "https://reprint.example/sber"
		reprint.text += " Source: Finextra."
		rp.add("/reprint", reprint)
		if al := alerts(h.pass(false)); len(al) != 1 || al[0].StoryID != done[0].Alert.StoryID {
			t.Fatalf("reprint alerts %+v, want one on story %d", al, done[0].Alert.StoryID)
		}
		again := h.run(p)
		if len(again) != 1 || !again[0].Summary.Extractive || again[0].Summary.Text != s.Text {
			t.Fatalf("reprint processed %+v, want the stored extractive summary", again)
		}
		if llm.calls() != 1 {
			t.Errorf("model calls = %d, want no new call for a summarised story", llm.calls())
		}
	})

	t.Run("alert already past its deadline", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		rp := h.feeds(fs, "/en")
		rp.add("/en", finextra(t, "https://www.finextra.com/newsarticle/1", h.now))
		h.topic("sber", "Sberbank China")
		h.pass(false)
		// The alert waited an hour (the process was down).
		h.now = h.now.Add(time.Hour)
		done := h.run(h.processor(llm.baseURL()))
		if len(done) != 1 || !done[0].Summary.Extractive || hasCyrillic(done[0].Summary.Text) {
			t.Fatalf("processed %+v, want an extractive English summary", done)
		}
		if llm.calls() != 0 {
			t.Errorf("model calls = %d for a late alert, want 0", llm.calls())
		}
		if u := h.usage(h.now); u.Fallbacks != 1 || u.Calls != 0 {
			t.Errorf("usage %+v, want one fallback", u)
		}
	})
}

func TestProcessorModelFailuresAndUsage(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name      string
		reply     func(*llmFake) func(http.ResponseWriter, *http.Request) // nil: use the closed server
		wantCalls int                                                     // requests the fake saw
		want      storage.Usage
	}{
		{"answers", func(f *llmFake) func(http.ResponseWriter, *http.Request) { return f.answer }, 1,
			storage.Usage{Calls: 1, PromptTokens: 1200, CompletionTokens: 85}},
		{"500 always", func(*llmFake) func(http.ResponseWriter, *http.Request) { return serverError }, 1,
			storage.Usage{Fallbacks: 1}},
		{"nobody listening", nil, 0, storage.Usage{Fallbacks: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			fs := newFeedServer(t)
			llm := newLLMFake(t)
			base := closed.URL + "/v1"
			if tt.reply != nil {
				llm.set(tt.reply(llm))
				base = llm.baseURL()
			}
			rp := h.feeds(fs, "/ru")
			rp.add("/ru", item{vtbTitle, "https://one.example/vtb", seedBody(t, "vtb-ai-centre-china.ru.txt"), h.now})
			h.topic("vtb", "ВТБ Китай ИИ")
			h.pass(false)
			done := h.run(h.processor(base))
			if len(done) != 1 {
				t.Fatalf("processed %d, want 1", len(done))
			}
			if llm.calls() != tt.wantCalls {
				t.Errorf("model calls = %d, want %d", llm.calls(), tt.wantCalls)
			}
			s := h.summaryOf(done[0].Alert.StoryID)
			if s.Extractive != (tt.want.Fallbacks == 1) || s.Text == "" {
				t.Errorf("stored summary %+v", s)
			}
			if s.Extractive && (s.Model != "" || !hasCyrillic(s.Text)) {
				t.Errorf("fallback summary %+v, want the Russian article's sentences", s)
			}
			u := h.usage(h.now)
			tt.want.Day = u.Day
			if u != tt.want {
				t.Errorf("usage %+v, want %+v", u, tt.want)
			}
			if pending, _ := h.store.PendingAlerts(0); len(pending) != 0 {
				t.Errorf("alerts left queued: %+v", pending)
			}
		})
	}
}

// vtbParagraphs are the article body of the page the full-text test serves.
var vtbParagraphs = []string{
	"Банк ВТБ прорабатывает создание центра компетенций в области искусственного интеллекта на территории Китая. Центр станет площадкой для прикладных совместных исследований российских и китайских специалистов.",
	"Основная цель центра — тестирование устройств с технологиями ИИ непосредственно в Китае, без сложностей и задержек, связанных с их ввозом в Россию.",
	"По данным источников, близких к банку, центр даст доступ к значительным вычислительным мощностям: Китай располагает избыточными ресурсами после строительства дата-центров в 2023–2024 годах.",
	"ВТБ уже имеет представительство в Шанхае, что упростит логистику и организацию нового центра.",
	"Партнером ВТБ по созданию лабораторий для тестирования инфраструктурных решений выступает Huawei. Российским технологическим партнером банка является компания T1.",
	"Представители ВТБ и T1 отказались от подробных комментариев: проект находится на стадии проработки, и его детали еще не финализированы.",
}

func vtbPage() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">
<title>` + vtbTitle + ` — Деловой вестник</title>
<meta property="og:title" content="` + vtbTitle + `">
<meta property="article:published_time" content="2025-01-14T09:30:00+03:00">
</head><body>
<header class="header"><a class="logo" href="/">Деловой вестник</a>
<nav class="menu"><ul>
<li><a href="/politics">Политика</a></li><li><a href="/economics">Экономика</a></li>
<li><a href="/finance">Финансы</a></li><li><a href="/technology">Технологии</a></li>
</ul></nav>
<div class="market">USD 101,68 ₽ · EUR 104,51 ₽ · CNY 13,84 ₽</div>
</header>
<main><article class="article"><h1 class="article__title">` + vtbTitle + `</h1>
<div class="article__meta"><time datetime="2025-01-14T09:30:00+03:00">14 января 2025, 09:30</time> · Анна Крылова</div>
<div class="article__body">
`)
	for _, p := range vtbParagraphs {
		b.WriteString("<p>" + p + "</p>\n")
	}
	b.WriteString(`</div>
<div class="share">Поделиться: <a href="#">ВКонтакте</a> <a href="#">Telegram</a></div>
</article>
<aside class="related"><h2>Читайте также</h2><ul>
<li><a href="/finance/sber-beijing">Сбербанк открыл офис в Пекине</a></li>
<li><a href="/finance/rub-cny">Рубль укрепился к юаню на Мосбирже</a></li>
<li><a href="/technology/gigachat">GigaChat обновили до новой версии</a></li>
</ul></aside></main>
<footer class="footer"><p>© 2025 Деловой вестник. Все права защищены.</p>
<a href="/about">О проекте</a> <a href="/ads">Реклама</a> <a href="/privacy">Политика конфиденциальности</a></footer>
</body></html>`)
	return b.String()
}

func TestProcessorFullText(t *testing.T) {
	t.Run("page text replaces the teaser", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		page := fs.handle("/finance/vtb-ai", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, vtbPage())
		})
		teaser := "ВТБ рассматривает создание ИИ-центра в Китае."
		rp := h.feeds(fs, "/rss")
		rp.add("/rss", item{vtbTitle, page, teaser, h.now})
		h.topic("vtb", "ВТБ Китай ИИ")
		// Only the page's text mentions Shanghai and Huawei.
		h.topic("shanghai", "Шанхай Huawei")
		if al := alerts(h.pass(false)); len(al) != 1 || !slices.Equal(al[0].Topics, []string{"vtb"}) {
			t.Fatalf("feed alerts %+v, want one on vtb", al)
		}
		p := h.processor(llm.baseURL())
		p.FullText = true
		done := h.run(p)

		if got := topicsOf(done); !slices.EqualFunc(got, [][]string{{"vtb"}, {"shanghai"}}, slices.Equal) {
			t.Fatalf("processed alerts on %v, want [vtb] then [shanghai] from the full text", got)
		}
		if fs.Hits("/finance/vtb-ai") != 1 {
			t.Errorf("page fetched %d times, want 1", fs.Hits("/finance/vtb-ai"))
		}
		a, err := h.store.Article(done[0].Alert.ArticleID)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Join(vtbParagraphs, "\n\n"); a.FullText != want {
			t.Errorf("full text:\n%s\nwant:\n%s", a.FullText, want)
		}
		for _, junk := range []string{"Читайте также", "Политика", "USD", "Поделиться", "Все права защищены", "Сбербанк открыл"} {
			if strings.Contains(a.FullText, junk) {
				t.Errorf("full text keeps boilerplate %q", junk)
			}
		}
		if a.Text != teaser || !slices.Equal(a.Topics, []string{"vtb", "shanghai"}) {
			t.Errorf("article text %q topics %v", a.Text, a.Topics)
		}
		if llm.calls() != 1 {
			t.Fatalf("model calls = %d, want 1 for the story", llm.calls())
		}
		prompt := llm.prompt(0)
		for _, p := range vtbParagraphs {
			if !strings.Contains(prompt, p) {
				t.Errorf("the model was not sent the paragraph %q", p)
			}
		}
		if strings.Contains(prompt, "Читайте также") {
			t.Error("the model was sent the page's boilerplate")
		}
		if ids, _ := h.store.PendingEnrich(0); len(ids) != 0 {
			t.Errorf("articles still waiting for their page: %v", ids)
		}
	})

	t.Run("page missing keeps the feed text", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		sentences := strings.SplitAfter(seedBody(t, "vtb-ai-centre-china.ru.txt"), ". ")
		text := strings.TrimSpace(strings.Join(sentences[:5], ""))
		rp := h.feeds(fs, "/rss")
		rp.add("/rss", item{vtbTitle, fs.URL + "/gone", text, h.now})
		h.topic("vtb", "ВТБ Китай ИИ")
		h.pass(false)
		p := h.processor(llm.baseURL())
		p.FullText = true
		done := h.run(p)
		if len(done) != 1 {
			t.Fatalf("processed %d, want 1", len(done))
		}
		if fs.Hits("/gone") != 1 {
			t.Errorf("page fetched %d times, want 1", fs.Hits("/gone"))
		}
		a, err := h.store.Article(done[0].Alert.ArticleID)
		if err != nil {
			t.Fatal(err)
		}
		if a.FullText != "" || a.Text == "" {
			t.Errorf("article full text %q, feed text %q: want the feed's text kept", a.FullText, a.Text)
		}
		if h.store.NeedsEnrich(a.ID) {
			t.Error("article still queued for its page after a 404")
		}
		if llm.calls() != 1 || !strings.Contains(llm.prompt(0), strings.TrimSpace(sentences[3])) {
			t.Errorf("model calls %d; want one with the feed's text", llm.calls())
		}
		// A later run does not fetch the page again.
		h.run(p)
		if fs.Hits("/gone") != 1 {
			t.Errorf("page fetched %d times after a second run, want 1", fs.Hits("/gone"))
		}
	})
}

func TestProcessorFansOutToSubscribers(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	h.topic("shanghai", "Шанхай Huawei")
	h.topic("oil", "нефть")
	h.user(1, storage.StatusApproved, false, "vtb")
	h.user(2, storage.StatusApproved, false, "vtb", "shanghai")
	h.user(3, storage.StatusApproved, false, "oil")
	h.user(4, storage.StatusPending, false, "vtb")
	h.user(5, storage.StatusApproved, true, "vtb") // blocked the bot
	h.user(6, storage.StatusBanned, false, "shanghai")
	h.user(7, storage.StatusApproved, false, "shanghai")

	h.pass(false)
	p := h.processor(llm.baseURL())
	done := h.run(p)
	if len(done) != 1 {
		t.Fatalf("processed %d, want 1", len(done))
	}
	if got := done[0].Alert.Topics; !slices.Equal(got, []string{"shanghai", "vtb"}) {
		t.Fatalf("alert topics %v, want both", got)
	}
	if done[0].Queued != 3 {
		t.Errorf("queued %d, want 3 (users 1, 2 and 7)", done[0].Queued)
	}
	want := map[int64][]string{1: {"vtb"}, 2: {"shanghai", "vtb"}, 7: {"shanghai"}}
	checkOutbox := func() {
		t.Helper()
		out, err := h.store.Outbox(h.now, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64][]string{}
		for _, m := range out {
			if _, dup := got[m.UserID]; dup {
				t.Errorf("user %d has two messages for one story", m.UserID)
			}
			got[m.UserID] = m.Topics
			if m.StoryID != done[0].Alert.StoryID {
				t.Errorf("message for story %d, want %d", m.StoryID, done[0].Alert.StoryID)
			}
		}
		if len(got) != len(want) {
			t.Errorf("outbox %v, want %v", got, want)
		}
		for id, topics := range want {
			if !slices.Equal(got[id], topics) {
				t.Errorf("user %d message names %v, want %v", id, got[id], topics)
			}
		}
	}
	checkOutbox()

	// A reprint matches a new topic user 1 follows too: the story is still
	// queued for them, so their message gains the topic and nothing new is
	// queued.
	h.topic("huawei", "Huawei лаборатории")
	if _, err := h.store.UpdateUser(1, func(u *storage.User) { u.Topics = append(u.Topics, "huawei") }); err != nil {
		t.Fatal(err)
	}
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	h.pass(false)
	done = h.run(p)
	if len(done) != 1 || !slices.Equal(done[0].Alert.Topics, []string{"huawei"}) || done[0].Queued != 0 {
		t.Fatalf("reprint processed %+v, want the huawei alert queueing nothing new", topicsOf(done))
	}
	want[1] = []string{"vtb", "huawei"}
	checkOutbox()
	if llm.calls() != 1 {
		t.Errorf("model calls = %d, want 1", llm.calls())
	}
}

func TestProcessorShutdownLeavesAlertsQueued(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	llm.set(llm.hang)
	rp := h.feeds(fs, "/ru", "/en")
	rp.add("/ru", item{vtbTitle, "https://one.example/vtb", seedBody(t, "vtb-ai-centre-china.ru.txt"), h.now})
	rp.add("/en", finextra(t, "https://www.finextra.com/newsarticle/1", h.now))
	h.topic("banks-china", "(ВТБ OR Sberbank) (Китай OR China)")
	h.user(1, storage.StatusApproved, false, "banks-china")
	if al := alerts(h.pass(false)); len(al) != 2 {
		t.Fatalf("alerts %+v, want two stories", al)
	}

	p := h.processor(llm.baseURL())
	p.Workers = 1 // the second alert waits for the first
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-llm.arrived:
			cancel() // shut down while the model is thinking
		case <-ctx.Done():
		}
	}()
	done, err := p.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if len(done) != 0 {
		t.Errorf("Run reported %d alerts processed during shutdown: %+v", len(done), topicsOf(done))
	}
	wait(t, llm.gaveUp, "the model call to be abandoned")
	pending, err := h.store.PendingAlerts(0)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending alerts %d (%v), want both still queued", len(pending), err)
	}
	for _, al := range pending {
		if _, err := h.store.Summary(al.StoryID, "ru"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("story %d has a summary after shutdown (%v); want none stored", al.StoryID, err)
		}
	}
	if u := h.usage(h.now); u.Calls != 0 || u.Fallbacks != 0 {
		t.Errorf("usage %+v after shutdown, want nothing counted", u)
	}
	if n := h.store.OutboxLen(); n != 0 {
		t.Errorf("outbox has %d messages after shutdown", n)
	}

	// The next run picks both up.
	llm.set(llm.answer)
	calls := llm.calls()
	done = h.run(p)
	if len(done) != 2 {
		t.Fatalf("next run processed %d, want 2", len(done))
	}
	for _, d := range done {
		if d.Summary.Extractive || d.Summary.Text != fakeSummary || d.Queued != 1 {
			t.Errorf("story %d: summary %+v queued %d", d.Alert.StoryID, d.Summary, d.Queued)
		}
	}
	if llm.calls() != calls+2 {
		t.Errorf("model calls %d → %d, want two more", calls, llm.calls())
	}
}
