package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tg "github.com/go-telegram/bot"

	"dozor/bot"
	"dozor/internal/fetch"
	"dozor/internal/summary"
	"dozor/internal/tgfake"
	"dozor/jobs"
	"dozor/storage"
)

const latencyToken = "424242:AAH-dozor_latency_test_secret_0123456789"

// backlogSite is a news site with a large backlog of teaser-only items
// whose pages are slow, and one more feed where news is published later.
type backlogSite struct {
	pages, feeds *httptest.Server
	pageDelay    time.Duration

	mu    sync.Mutex
	news  []string // items of the news feed
	order []string // page paths in the order they were requested
}

// listenOn starts a test server on one loopback address: politeness is
// per host name, so each host needs its own address.
func listenOn(t testing.TB, ip string, h http.Handler) *httptest.Server {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func newBacklogSite(t testing.TB, feeds, perFeed int, delay time.Duration) *backlogSite {
	s := &backlogSite{pageDelay: delay}
	s.pages = listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.order = append(s.order, r.URL.Path)
		s.mu.Unlock()
		select {
		case <-time.After(s.pageDelay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if strings.HasPrefix(r.URL.Path, "/news/") {
			fmt.Fprint(w, `<html><body><article><h1>ВТБ рассматривает создание ИИ-центра в Китае</h1>
<p>Банк ВТБ прорабатывает создание центра компетенций в области искусственного интеллекта на территории Китая.</p>
<p>Партнером банка выступает Huawei, которая помогает тестировать инфраструктурные решения.</p></article></body></html>`)
			return
		}
		fmt.Fprintf(w, `<html><body><article><h1>Заметка %s</h1><p>Рынок облигаций оживился после решения регулятора о ставке.</p></article></body></html>`, r.URL.Path)
	}))
	s.feeds = listenOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Лента</title>`)
		if r.URL.Path == "/news" {
			s.mu.Lock()
			for _, it := range s.news {
				b.WriteString(it)
			}
			s.mu.Unlock()
		} else {
			var f int
			fmt.Sscanf(r.URL.Path, "/feed/%d", &f)
			pub := time.Now().Format(time.RFC1123Z)
			for i := range perFeed {
				fmt.Fprintf(&b, `<item><title>Заметка %d-%d о рынке</title><link>%s/p/%d/%d</link><description>Короткий анонс %d-%d.</description><pubDate>%s</pubDate></item>`,
					f, i, s.pages.URL, f, i, f, i, pub)
			}
		}
		b.WriteString(`</channel></rss>`)
		io.WriteString(w, b.String())
	}))
	return s
}

func (s *backlogSite) publish(title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.news = append(s.news, fmt.Sprintf(`<item><title>%s</title><link>%s/news/%d</link><description>Банк ВТБ и Китай: анонс.</description><pubDate>%s</pubDate></item>`,
		title, s.pages.URL, len(s.news), time.Now().Format(time.RFC1123Z)))
}

func (s *backlogSite) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// alertWhileBacklog stores feeds×perFeed teaser items whose pages are
// slow, publishes a matching story and returns how long it took to reach
// the fake Bot API, and how many pages were still queued then.
func alertWhileBacklog(t testing.TB, feeds, perFeed int) (time.Duration, int, tgfake.Message) {
	site := newBacklogSite(t, feeds, perFeed, 100*time.Millisecond)
	fake := tgfake.New(t, latencyToken)
	const user = 5001
	fake.AddChat(user)
	api, err := tg.New(fake.Token(), tg.WithServerURL(fake.URL()), tg.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(filepath.Join(t.TempDir(), "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	for f := range feeds {
		if _, _, err := st.AddSource(storage.NewSource{URL: fmt.Sprintf("%s/feed/%d", site.feeds.URL, f)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.AddSource(storage.NewSource{URL: site.feeds.URL + "/news"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutTopic("vtb-china", "ВТБ Китай", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateUser(storage.User{ID: user, ChatID: user, Lang: "ru", Status: storage.StatusApproved,
		Mode: storage.ModeInstant, TZ: "Europe/Moscow", Topics: []string{"vtb-china"}, Created: now}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	p := jobs.New(jobs.Config{
		Store:      st,
		Fetcher:    fetch.New(fetch.Options{AllowPrivate: true, Timeout: 5 * time.Second, MaxConcurrent: 4}),
		Summarizer: &summary.Summarizer{},
		Telegram:   bot.Alerts{API: api},
		Backlog:    24 * time.Hour, FullText: true, FetchWorkers: 4,
		SummaryLang: "ru", Deadline: time.Minute, Log: log,
	})
	// The backlog: every item is news (published now) and a teaser, so
	// each one's page is queued in the bulk lane.
	rep, err := p.Watcher.Pass(context.Background(), jobs.PassOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pages != feeds*perFeed {
		t.Fatalf("%d pages queued, want %d", rep.Pages, feeds*perFeed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// Let the page stage get going on the backlog.
	for site.requests() == 0 {
		time.Sleep(10 * time.Millisecond)
	}

	site.publish("ВТБ рассматривает создание ИИ-центра в Китае")
	start := time.Now()
	if _, err := p.Watcher.Pass(context.Background(), jobs.PassOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	msgs, err := fake.WaitMessages(wctx, user, 1)
	if err != nil {
		t.Fatalf("no alert while %d pages are pending: %v", feeds*perFeed, err)
	}
	took := time.Since(start)
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	return took, c.PagesBulk, msgs[0]
}

// An alert on fresh news is never held back by the page backlog: with
// 10,000 pages queued on one slow host (100 ms each, so 17 minutes of
// them), the story's own page is fetched ahead of them and the alert
// reaches Telegram while the backlog is still there.
func TestAlertNotHeldByPageBacklog(t *testing.T) {
	_, pending, msg := alertWhileBacklog(t, 10, 1000)
	if pending < 9000 {
		t.Errorf("only %d pages still queued when the alert arrived: it waited for the backlog", pending)
	}
	if !strings.Contains(msg.Text, "ВТБ рассматривает создание ИИ-центра в Китае") || !strings.Contains(msg.Text, "Huawei") {
		t.Errorf("alert lacks the title or the summary from the page's full text:\n%s", msg.Text)
	}
}

// BenchmarkAlertLatency measures how long an alert on a story published
// while 10,000 pages are pending on a slow host takes from the watch pass
// that found it to the fake Bot API (the schedule interval comes on top).
//
//	go test ./jobs -run '^$' -bench AlertLatency -benchtime 1x
func BenchmarkAlertLatency(b *testing.B) {
	for b.Loop() {
		took, pending, _ := alertWhileBacklog(b, 10, 1000)
		b.ReportMetric(took.Seconds(), "alert-s")
		b.ReportMetric(float64(pending), "pages-pending")
	}
}
