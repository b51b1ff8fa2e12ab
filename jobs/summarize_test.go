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

	"dozor/internal/fetch"
	"dozor/internal/summary"
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
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// useLLM makes the harness's summarize stage talk to the model at base
// through the real summary package, on the harness's clock.
func (h *harness) useLLM(base string) *Summaries {
	h.t.Helper()
	llm := newTestLLM(h.t, base, 5*time.Second)
	s := h.p.Summaries
	s.Summarizer = &summary.Summarizer{LLM: llm, Deadline: time.Minute, Logger: discard()}
	s.Deadline = time.Minute
	s.Workers = 4
	s.Now = func() time.Time { return h.now }
	return s
}

// newTestLLM is the real model client, without retries, talking to base.
func newTestLLM(t *testing.T, base string, callTimeout time.Duration) *summary.LLM {
	t.Helper()
	llm, err := summary.NewLLM(summary.Config{
		BaseURL: base, Model: "m", Concurrency: 2, CallTimeout: callTimeout,
		MaxRetries: -1, Prompts: nil, Logger: discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return llm
}

// start runs stages in the background; stop cancels them and waits until
// every one has returned.
func (h *harness) start(stages ...func(context.Context) error) (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, len(stages))
	for _, run := range stages {
		go func() { errs <- run(ctx) }()
	}
	stopped := false
	stop = func() {
		h.t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range stages {
			if err := <-errs; err != nil {
				h.t.Errorf("stage returned %v", err)
			}
		}
	}
	h.t.Cleanup(stop)
	return stop
}

// waitCounts polls the store until cond holds.
func (h *harness) waitCounts(what string, cond func(storage.Counts) bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := h.store.Count()
		if err != nil {
			h.t.Fatal(err)
		}
		if cond(c) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s: %+v", what, c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fold runs the page and fold stages until every article is placed in a
// story; the alerts they queued stay queued.
func (h *harness) fold() {
	h.t.Helper()
	stop := h.start(h.p.Pager.Run, h.p.Folder.Run)
	h.waitCounts("pages and folding", func(c storage.Counts) bool { return c.PagesUrgent+c.PagesBulk+c.Fold == 0 })
	stop()
}

// summarise runs the summarize stage until no alert waits for its summary.
func (h *harness) summarise() {
	h.t.Helper()
	stop := h.start(h.p.Summaries.Run)
	h.waitCounts("summaries", func(c storage.Counts) bool { return c.Alerts == 0 })
	stop()
}

// pending returns the alerts waiting for their summary.
func (h *harness) pending() []storage.Alert {
	h.t.Helper()
	al, err := h.store.PendingAlerts(0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return al
}

func (h *harness) counts() storage.Counts {
	h.t.Helper()
	c, err := h.store.Count()
	if err != nil {
		h.t.Fatal(err)
	}
	return c
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
	addUser(h.t, h.store, id, status, inactive, h.now, topics...)
}

func addUser(t *testing.T, st *storage.Store, id int64, status storage.UserStatus, inactive bool, now time.Time, topics ...string) {
	t.Helper()
	_, created, err := st.CreateUser(storage.User{ID: id, ChatID: id, Name: fmt.Sprint("user", id),
		Lang: "ru", Status: status, Inactive: inactive, Mode: storage.ModeInstant, Topics: topics, Created: now})
	if err != nil || !created {
		t.Fatalf("create user %d: created=%v err=%v", id, created, err)
	}
}

// outbox returns the queued messages by user; it fails on a user with two
// messages for one story.
func outboxOf(t *testing.T, st *storage.Store) map[int64][]storage.OutMsg {
	t.Helper()
	out, err := st.Outbox(time.Now().Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64][]storage.OutMsg{}
	for _, m := range out {
		for _, o := range got[m.UserID] {
			if o.StoryID == m.StoryID {
				t.Errorf("user %d has two messages for story %d", m.UserID, m.StoryID)
			}
		}
		got[m.UserID] = append(got[m.UserID], m)
	}
	return got
}

// reopen closes the store and opens the same file again with a new
// pipeline over it, as a restart of dozor would.
func (h *harness) reopen() {
	h.t.Helper()
	path := h.store.Path()
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
	st, err := storage.Open(path, storage.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { st.Close() })
	h.store = st
	h.p = New(Config{
		Store:      st,
		Fetcher:    fetch.New(fetch.Options{AllowPrivate: true, Timeout: 2 * time.Second, MaxBodyBytes: 1 << 20}),
		Summarizer: &summary.Summarizer{},
		Backlog:    24 * time.Hour, FullText: true, FetchWorkers: 4,
		SummaryLang: "ru", Deadline: time.Minute, Log: discard(),
	})
	h.w = h.p.Watcher
	h.w.Now = func() time.Time { return h.now }
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

// finextra is the English seed as a feed item.
func finextra(t *testing.T, link string, published time.Time) item {
	return item{"Putin orders Russian bank to cooperate with China on AI", link,
		seedBody(t, "finextra-sberbank-china-ai.en.txt"), published}
}

func hasCyrillic(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0
}

func TestSummariesSummariseAStoryOnceAcrossReprints(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two", "/three")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/news/123", body + " Источник: «Известия».", h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	if rep := h.pass(false); rep.NewArticles != 2 || len(rep.Matches) != 2 {
		t.Fatalf("pass: %d new, %d matches; want 2 and 2", rep.NewArticles, len(rep.Matches))
	}
	h.fold()
	al := h.pending()
	if n := len(h.stories()); n != 1 || len(al) != 1 {
		t.Fatalf("folded into %d stories with %d alerts; want 1 and 1", n, len(al))
	}
	h.useLLM(llm.baseURL())
	h.summarise()
	if llm.calls() != 1 {
		t.Fatalf("model calls %d, want 1", llm.calls())
	}
	first := h.summaryOf(al[0].StoryID)
	if first.Extractive || first.Text != fakeSummary || !slices.Equal(first.KeyPoints, []string{fakePoint}) ||
		first.Model != fakeModel || first.Lang != "ru" || !first.Created.Equal(h.now) {
		t.Fatalf("summary: %+v", first)
	}
	if c := h.counts(); c.Alerts != 0 || c.Fanout != 1 {
		t.Errorf("after summarising: %d alerts waiting, %d for fan-out; want 0 and 1", c.Alerts, c.Fanout)
	}

	// A new topic, and a third reprint that matches it: a new alert on the
	// same story, summarised from the store.
	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/three", item{"ВТБ может открыть ИИ-центр в Китае", "https://three.example/a/1", body + " Перепечатка с разрешения редакции.", h.now})
	if rep := h.pass(false); rep.NewArticles != 1 {
		t.Fatalf("reprint pass: %d new, want 1", rep.NewArticles)
	}
	h.fold()
	al2 := h.pending()
	if len(al2) != 1 || al2[0].StoryID != al[0].StoryID || !slices.Equal(al2[0].Topics, []string{"shanghai"}) {
		t.Fatalf("reprint alerts %+v, want one on story %d for shanghai", al2, al[0].StoryID)
	}
	h.now = h.now.Add(time.Minute)
	h.summarise()
	if llm.calls() != 1 {
		t.Errorf("model calls = %d after the reprint, want still 1", llm.calls())
	}
	if s := h.summaryOf(al[0].StoryID); s.Text != fakeSummary || !s.Created.Equal(first.Created) {
		t.Errorf("reprint left summary %+v, want the stored one", s)
	}
	if c := h.counts(); c.Alerts != 0 || c.Fanout != 2 {
		t.Errorf("after the reprint: %d alerts waiting, %d for fan-out; want 0 and 2", c.Alerts, c.Fanout)
	}
	if u := h.usage(h.now); u.Calls != 1 || u.Fallbacks != 0 || u.PromptTokens != 1200 || u.CompletionTokens != 85 {
		t.Errorf("usage %+v, want one call", u)
	}
}

// Two alerts on one story in one run (the reprint matched a new topic
// before the first alert was summarised) still make one model call: the
// second waits for the first instead of calling too. The model takes its
// time, as models do, so that with workers to spare a second call would
// be sent while the first is in progress.
func TestSummariesOneCallForTwoAlertsInFlight(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	llm.set(llm.slow(500 * time.Millisecond))
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	h.pass(false)
	h.fold()
	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	h.pass(false)
	h.fold()
	pending := h.pending()
	if len(pending) != 2 || pending[0].StoryID != pending[1].StoryID {
		t.Fatalf("pending alerts %+v, want two on one story", pending)
	}
	h.useLLM(llm.baseURL())
	h.summarise()
	if llm.calls() != 1 {
		t.Errorf("model calls = %d, want 1", llm.calls())
	}
	if s := h.summaryOf(pending[0].StoryID); s.Text != fakeSummary || s.Extractive {
		t.Errorf("summary %+v", s)
	}
	if c := h.counts(); c.Fanout != 2 {
		t.Errorf("%d alerts moved on to fan-out, want 2", c.Fanout)
	}
	if u := h.usage(h.now); u.Calls != 1 || u.PromptTokens != 1200 {
		t.Errorf("usage %+v, want one call counted once", u)
	}
}

// With one worker the second alert on a story starts after the first is
// done but before its summary is committed: it reuses that summary rather
// than calling the model again.
func TestSummariesOneCallForTwoAlertsInOneBatch(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	h.pass(false)
	h.fold()
	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	h.pass(false)
	h.fold()
	if pending := h.pending(); len(pending) != 2 || pending[0].StoryID != pending[1].StoryID {
		t.Fatalf("pending alerts %+v, want two on one story", pending)
	}
	s := h.useLLM(llm.baseURL())
	s.Workers = 1
	h.summarise()
	if llm.calls() != 1 {
		t.Errorf("model calls = %d, want 1", llm.calls())
	}
	if c := h.counts(); c.Fanout != 2 {
		t.Errorf("%d alerts moved on to fan-out, want 2", c.Fanout)
	}
	if u := h.usage(h.now); u.Calls != 1 || u.PromptTokens != 1200 {
		t.Errorf("usage %+v, want one call", u)
	}
}

func TestSummariesKeptAcrossRestarts(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	body := seedBody(t, "vtb-ai-centre-china.ru.txt")
	rp := h.feeds(fs, "/one", "/two")
	rp.add("/one", item{vtbTitle, "https://one.example/vtb", body, h.now})
	h.topic("vtb", "ВТБ Китай ИИ")
	h.pass(false)
	h.fold()
	al := h.pending()
	if len(al) != 1 {
		t.Fatalf("alerts %+v, want 1", al)
	}
	story := al[0].StoryID
	h.useLLM(llm.baseURL())
	h.summarise()
	if llm.calls() != 1 {
		t.Fatalf("calls %d; want 1", llm.calls())
	}

	// Restart: the same file, a new store and new stages.
	h.reopen()
	h.topic("shanghai", "Шанхай Huawei")
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	h.pass(false)
	h.fold()
	al = h.pending()
	if len(al) != 1 || al[0].StoryID != story {
		t.Fatalf("after restart: alerts %+v, want one on story %d", al, story)
	}
	h.useLLM(llm.baseURL())
	h.summarise()
	if s := h.summaryOf(story); s.Text != fakeSummary || s.Extractive {
		t.Fatalf("after restart: summary %+v", s)
	}
	if llm.calls() != 1 {
		t.Errorf("model calls = %d after restart, want still 1", llm.calls())
	}
	if c := h.counts(); c.Alerts != 0 || c.Fanout != 2 {
		t.Errorf("after restart: %d alerts waiting, %d for fan-out; want 0 and 2", c.Alerts, c.Fanout)
	}
}

func TestSummariesDeadlineFallsBackToExtractive(t *testing.T) {
	t.Run("slow model", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		llm.set(llm.slow(time.Minute))
		rp := h.feeds(fs, "/en", "/reprint")
		// The deadline counts from when the article matched, in real time.
		h.now = time.Now()
		art := finextra(t, "https://www.finextra.com/newsarticle/1", h.now)
		rp.add("/en", art)
		h.topic("sber", "Sberbank China")
		h.pass(false)
		h.fold()
		al := h.pending()
		if len(al) != 1 {
			t.Fatalf("alerts %+v, want 1", al)
		}

		s := h.useLLM(llm.baseURL())
		// Neither the call timeout nor the summarizer's own deadline
		// comes first: SUMMARY_DEADLINE does.
		s.Summarizer = &summary.Summarizer{LLM: newTestLLM(t, llm.baseURL(), time.Minute), Deadline: time.Minute, Logger: discard()}
		s.Deadline = 1500 * time.Millisecond
		s.Now = nil
		h.summarise()
		wait(t, llm.gaveUp, "the model call to be abandoned at the deadline")
		if llm.calls() != 1 {
			t.Fatalf("calls %d; want 1", llm.calls())
		}
		sum := h.summaryOf(al[0].StoryID)
		if !sum.Extractive || sum.Model != "" || sum.Text == "" {
			t.Fatalf("stored summary %+v, want an extractive one", sum)
		}
		if d := sum.Created.Sub(h.now); d < s.Deadline || d > 20*time.Second {
			t.Errorf("summary stored %v after the match, want at the %v deadline", d, s.Deadline)
		}
		// Extractive summaries cannot translate: the article is English,
		// SUMMARY_LANGUAGE is ru, the summary is the article's sentences.
		flat := strings.Join(strings.Fields(art.text), " ")
		if hasCyrillic(sum.Text) || !strings.Contains(flat, sum.Text[:min(60, len(sum.Text))]) {
			t.Errorf("extractive summary is not the article's English text: %q", sum.Text)
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
		h.pass(false)
		h.fold()
		if again := h.pending(); len(again) != 1 || again[0].StoryID != al[0].StoryID {
			t.Fatalf("reprint alerts %+v, want one on story %d", again, al[0].StoryID)
		}
		h.summarise()
		if got := h.summaryOf(al[0].StoryID); !got.Extractive || got.Text != sum.Text {
			t.Fatalf("reprint left summary %+v, want the stored extractive one", got)
		}
		if llm.calls() != 1 {
			t.Errorf("model calls = %d, want no new call for a summarised story", llm.calls())
		}
		if c := h.counts(); c.Alerts != 0 || c.Fanout != 2 {
			t.Errorf("%d alerts waiting, %d for fan-out; want 0 and 2", c.Alerts, c.Fanout)
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
		h.fold()
		al := h.pending()
		if len(al) != 1 {
			t.Fatalf("alerts %+v, want 1", al)
		}
		// The alert waited an hour (the process was down).
		h.now = h.now.Add(time.Hour)
		h.useLLM(llm.baseURL())
		h.summarise()
		if s := h.summaryOf(al[0].StoryID); !s.Extractive || s.Text == "" || hasCyrillic(s.Text) {
			t.Fatalf("summary %+v, want an extractive English summary", s)
		}
		if llm.calls() != 0 {
			t.Errorf("model calls = %d for a late alert, want 0", llm.calls())
		}
		if u := h.usage(h.now); u.Fallbacks != 1 || u.Calls != 0 {
			t.Errorf("usage %+v, want one fallback", u)
		}
	})

	// The deadline counts from when the article matched, not from when its
	// story was folded: an article that matched two minutes ago (its page
	// took that long, or dozor was down) is past a one-minute deadline
	// however fresh its alert is.
	t.Run("counted from the match", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		h.now = time.Now().Add(-2 * time.Minute) // the watch stage's clock
		rp := h.feeds(fs, "/en")
		rp.add("/en", finextra(t, "https://www.finextra.com/newsarticle/1", h.now))
		h.topic("sber", "Sberbank China")
		rep := h.pass(false)
		if len(rep.Matches) != 1 {
			t.Fatalf("matches %+v, want 1", rep.Matches)
		}
		h.fold() // the fold stage runs on the real clock
		al := h.pending()
		if len(al) != 1 {
			t.Fatalf("alerts %+v, want 1", al)
		}
		a := h.article(al[0].ArticleID)
		if !a.Matched.Equal(h.now) || !al[0].Created.Equal(a.Matched) {
			t.Fatalf("alert created %v, article matched %v; want both %v", al[0].Created, a.Matched, h.now)
		}
		s := h.useLLM(llm.baseURL())
		s.Now = nil // real time: two minutes after the match
		h.summarise()
		if sum := h.summaryOf(al[0].StoryID); !sum.Extractive {
			t.Errorf("summary %+v, want the extractive one: the deadline passed a minute ago", sum)
		}
		if llm.calls() != 0 {
			t.Errorf("model calls = %d past the deadline, want 0", llm.calls())
		}
	})
}

func TestSummariesModelFailuresAndUsage(t *testing.T) {
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
			h.fold()
			al := h.pending()
			if len(al) != 1 {
				t.Fatalf("alerts %+v, want 1", al)
			}
			h.useLLM(base)
			h.summarise()
			if llm.calls() != tt.wantCalls {
				t.Errorf("model calls = %d, want %d", llm.calls(), tt.wantCalls)
			}
			s := h.summaryOf(al[0].StoryID)
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
			if pending := h.pending(); len(pending) != 0 {
				t.Errorf("alerts left queued: %+v", pending)
			}
			if c := h.counts(); c.Fanout != 1 {
				t.Errorf("%d alerts for fan-out, want 1", c.Fanout)
			}
		})
	}
}

// vtbParagraphs are the article body of the page the full-text tests serve.
var vtbParagraphs = []string{
	"Банк ВТБ прорабатывает создание центра компетенций в области искусственного интеллекта на территории Китая. Центр станет площадкой для прикладных совместных исследований российских и китайских специалистов.",
	"Основная цель центра — тестирование устройств с технологиями ИИ непосредственно в Китае, без сложностей и задержек, связанных с их ввозом в Россию.",
	"По данным источников, близких к банку, центр даст доступ к значительным вычислительным мощностям: Китай располагает избыточными ресурсами после строительства дата-центров в 2023–2024 годах.",
	"ВТБ уже имеет представительство в Шанхае, что упростит логистику и организацию нового центра.",
	"Партнером ВТБ по созданию лабораторий для тестирования инфраструктурных решений выступает Huawei. Российским технологическим партнером банка является компания T1.",
	"Представители ВТБ и T1 отказались от подробных комментариев: проект находится на стадии проработки, и его детали еще не финализированы.",
}

func vtbPage() string { return newsPage("Деловой вестник", vtbTitle, vtbParagraphs) }

// newsPage is an article page with a site's usual chrome around the body.
func newsPage(site, title string, paragraphs []string) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">
<title>` + title + ` — ` + site + `</title>
<meta property="og:title" content="` + title + `">
<meta property="article:published_time" content="2025-01-14T09:30:00+03:00">
</head><body>
<header class="header"><a class="logo" href="/">` + site + `</a>
<nav class="menu"><ul>
<li><a href="/politics">Политика</a></li><li><a href="/economics">Экономика</a></li>
<li><a href="/finance">Финансы</a></li><li><a href="/technology">Технологии</a></li>
</ul></nav>
<div class="market">USD 101,68 ₽ · EUR 104,51 ₽ · CNY 13,84 ₽</div>
</header>
<main><article class="article"><h1 class="article__title">` + title + `</h1>
<div class="article__meta"><time datetime="2025-01-14T09:30:00+03:00">14 января 2025, 09:30</time> · Анна Крылова</div>
<div class="article__body">
`)
	for _, p := range paragraphs {
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
<footer class="footer"><p>© 2025 ` + site + `. Все права защищены.</p>
<a href="/about">О проекте</a> <a href="/ads">Реклама</a> <a href="/privacy">Политика конфиденциальности</a></footer>
</body></html>`)
	return b.String()
}

func servePage(page string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}
}

func TestSummariesFullText(t *testing.T) {
	t.Run("page text replaces the teaser", func(t *testing.T) {
		h := newHarness(t)
		fs := newFeedServer(t)
		llm := newLLMFake(t)
		page := fs.handle("/finance/vtb-ai", servePage(vtbPage()))
		teaser := "ВТБ рассматривает создание ИИ-центра в Китае."
		rp := h.feeds(fs, "/rss")
		rp.add("/rss", item{vtbTitle, page, teaser, h.now})
		h.topic("vtb", "ВТБ Китай ИИ")
		// Only the page's text mentions Shanghai and Huawei.
		h.topic("shanghai", "Шанхай Huawei")
		if rep := h.pass(false); len(rep.Matches) != 1 || !slices.Equal(rep.Matches[0].Topics, []string{"vtb"}) {
			t.Fatalf("feed matches %+v, want one on vtb", rep.Matches)
		}
		h.fold()
		// The page is fetched before the story is folded, so the story
		// alerts once, on both topics.
		al := h.pending()
		if len(al) != 1 || !slices.Equal(al[0].Topics, []string{"vtb", "shanghai"}) {
			t.Fatalf("alerts %+v, want one on vtb and shanghai (from the full text)", al)
		}
		if fs.Hits("/finance/vtb-ai") != 1 {
			t.Errorf("page fetched %d times, want 1", fs.Hits("/finance/vtb-ai"))
		}
		a := h.article(al[0].ArticleID)
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
		h.useLLM(llm.baseURL())
		h.summarise()
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
		if c := h.counts(); c.PagesUrgent+c.PagesBulk != 0 {
			t.Errorf("articles still waiting for their page: %+v", c)
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
		if c := h.counts(); c.PagesUrgent != 1 {
			t.Fatalf("queued %+v, want the teaser's page in the urgent lane", c)
		}
		h.useLLM(llm.baseURL())
		h.fold()
		al := h.pending()
		if len(al) != 1 {
			t.Fatalf("alerts %+v, want 1", al)
		}
		h.summarise()
		if fs.Hits("/gone") != 1 {
			t.Errorf("page fetched %d times, want 1", fs.Hits("/gone"))
		}
		a := h.article(al[0].ArticleID)
		if a.FullText != "" || a.Text == "" {
			t.Errorf("article full text %q, feed text %q: want the feed's text kept", a.FullText, a.Text)
		}
		if c := h.counts(); c.PagesUrgent+c.PagesBulk != 0 {
			t.Errorf("article still queued for its page after a 404: %+v", c)
		}
		if llm.calls() != 1 || !strings.Contains(llm.prompt(0), strings.TrimSpace(sentences[3])) {
			t.Errorf("model calls %d; want one with the feed's text", llm.calls())
		}
		// A later run does not fetch the page again.
		h.settle()
		if fs.Hits("/gone") != 1 {
			t.Errorf("page fetched %d times after a second run, want 1", fs.Hits("/gone"))
		}
	})
}

func TestSummariesFanOutToSubscribers(t *testing.T) {
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
	h.useLLM(llm.baseURL())
	h.settle()
	stories := h.stories()
	if len(stories) != 1 {
		t.Fatalf("%d stories, want 1", len(stories))
	}
	var story storage.Story
	for _, st := range stories {
		story = st
	}
	if !slices.Equal(story.Topics, []string{"shanghai", "vtb"}) {
		t.Fatalf("story alerted on %v, want both", story.Topics)
	}
	want := map[int64][]string{1: {"vtb"}, 2: {"shanghai", "vtb"}, 7: {"shanghai"}}
	checkOutbox := func() {
		t.Helper()
		got := outboxOf(t, h.store)
		if len(got) != len(want) {
			t.Errorf("outbox for users %v, want %v", got, want)
		}
		for id, topics := range want {
			if len(got[id]) != 1 {
				t.Errorf("user %d has %d messages, want 1", id, len(got[id]))
				continue
			}
			m := got[id][0]
			if !slices.Equal(m.Topics, topics) || m.StoryID != story.ID {
				t.Errorf("user %d message on story %d names %v, want story %d and %v", id, m.StoryID, m.Topics, story.ID, topics)
			}
		}
	}
	checkOutbox()
	if n := h.counts().Outbox; n != 3 {
		t.Errorf("outbox holds %d messages, want 3 (users 1, 2 and 7)", n)
	}

	// A reprint matches a new topic user 1 follows too: the story is still
	// queued for them, so their message gains the topic and nothing new is
	// queued.
	h.topic("huawei", "Huawei лаборатории")
	if _, err := h.store.UpdateUser(1, func(u *storage.User) { u.Topics = append(u.Topics, "huawei") }); err != nil {
		t.Fatal(err)
	}
	rp.add("/two", item{"ВТБ рассматривает создание ИИ-центра в Китае", "https://two.example/n/1", body + " Источник: «Известия».", h.now})
	h.pass(false)
	h.settle()
	if st, err := h.store.Story(story.ID); err != nil || !slices.Equal(st.Topics, []string{"shanghai", "vtb", "huawei"}) {
		t.Fatalf("story %+v (%v), want the reprint to add huawei", st, err)
	}
	want[1] = []string{"vtb", "huawei"}
	checkOutbox()
	if n := h.counts().Outbox; n != 3 {
		t.Errorf("outbox holds %d messages after the reprint, want still 3", n)
	}
	if llm.calls() != 1 {
		t.Errorf("model calls = %d, want 1", llm.calls())
	}
}

func TestSummariesShutdownLeavesAlertsQueued(t *testing.T) {
	h := newHarness(t)
	fs := newFeedServer(t)
	llm := newLLMFake(t)
	llm.set(llm.hang)
	rp := h.feeds(fs, "/ru", "/en")
	rp.add("/ru", item{vtbTitle, "https://one.example/vtb", seedBody(t, "vtb-ai-centre-china.ru.txt"), h.now})
	rp.add("/en", finextra(t, "https://www.finextra.com/newsarticle/1", h.now))
	h.topic("banks-china", "(ВТБ OR Sberbank) (Китай OR China)")
	h.user(1, storage.StatusApproved, false, "banks-china")
	h.pass(false)
	h.fold()
	if al := h.pending(); len(al) != 2 || al[0].StoryID == al[1].StoryID {
		t.Fatalf("alerts %+v, want two stories", al)
	}

	s := h.useLLM(llm.baseURL())
	s.Workers = 1 // the second alert waits for the first
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	wait(t, llm.arrived, "the model call")
	cancel() // shut down while the model is thinking
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the summarize stage did not stop")
	}
	wait(t, llm.gaveUp, "the model call to be abandoned")
	pending := h.pending()
	if len(pending) != 2 {
		t.Fatalf("pending alerts %d, want both still queued", len(pending))
	}
	for _, al := range pending {
		if _, err := h.store.Summary(al.StoryID, "ru"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("story %d has a summary after shutdown (%v); want none stored", al.StoryID, err)
		}
	}
	if u := h.usage(h.now); u.Calls != 0 || u.Fallbacks != 0 {
		t.Errorf("usage %+v after shutdown, want nothing counted", u)
	}
	if c := h.counts(); c.Fanout != 0 || c.Outbox != 0 {
		t.Errorf("after shutdown %d alerts for fan-out and %d messages, want none", c.Fanout, c.Outbox)
	}

	// The next run picks both up.
	llm.set(llm.answer)
	calls := llm.calls()
	h.settle()
	for _, al := range pending {
		if sum := h.summaryOf(al.StoryID); sum.Extractive || sum.Text != fakeSummary {
			t.Errorf("story %d: summary %+v", al.StoryID, sum)
		}
	}
	if msgs := outboxOf(t, h.store)[1]; len(msgs) != 2 {
		t.Errorf("user 1 has %d messages, want one per story", len(msgs))
	}
	if llm.calls() != calls+2 {
		t.Errorf("model calls %d → %d, want two more", calls, llm.calls())
	}
}
