package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"dozor/internal/fetch"
	"dozor/storage"
)

// BenchmarkWatcherPass serves 1,000 feeds × 50 items from httptest and runs
// a first pass (everything new) and a second one (everything 304): the
// watch stage alone, nothing after it running. BenchmarkPipeline runs
// every stage.
//
//	go test ./jobs -run '^$' -bench WatcherPass -benchtime 1x
func BenchmarkWatcherPass(b *testing.B) {
	const feeds, perFeed = 1000, 50
	words := strings.Fields(`банк рынок кредит ставка рубль доллар нефть газ экспорт импорт санкции бюджет налог
		инфляция регулятор биржа акции облигации компания прибыль выручка сделка инвестиции технологии
		bank market credit rate ruble dollar oil gas export import sanctions budget tax inflation regulator
		министерство правительство президент заявил сообщил рост снижение процент квартал год месяц неделя
		China Russia VTB Sberbank Китай Россия ВТБ Сбербанк ИИ AI центр исследование партнер платформа`)
	docs := make([]string, feeds)
	for f := range feeds {
		var items []pbItem
		for i := range perFeed {
			// Distinct stories: random word sequences share almost no bigrams.
			rnd := rand.New(rand.NewPCG(uint64(f), uint64(i)))
			var text strings.Builder
			for range 60 {
				text.WriteString(words[rnd.IntN(len(words))])
				text.WriteByte(' ')
			}
			items = append(items, pbItem{
				title:     fmt.Sprintf("Новость %d из ленты %d: %s %s", i, f, words[rnd.IntN(len(words))], words[rnd.IntN(len(words))]),
				link:      fmt.Sprintf("https://site%d.example/news/%d?utm_source=rss", f, i),
				text:      text.String(),
				published: time.Now().Add(-time.Duration(i) * time.Minute),
			})
		}
		docs[f] = pbRSSDoc(fmt.Sprintf("Лента %d", f), items...)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/feed/%d", &n)
		etag := fmt.Sprintf(`"f%d"`, n)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprint(w, docs[n])
	})
	srv := newBenchServer(b, handler)

	topics := benchTopics()
	for b.Loop() {
		b.StopTimer()
		st, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for f := range feeds {
			st.AddSource(storage.NewSource{URL: fmt.Sprintf("%s/feed/%d", srv, f)}, time.Now())
		}
		for i, q := range topics {
			st.PutTopic(fmt.Sprintf("t%d", i), q, time.Now())
		}
		w := &Watcher{Store: st, Fetcher: fetch.New(fetch.Options{AllowPrivate: true, MaxConcurrent: 8}),
			Backlog: 24 * time.Hour, Workers: 16, Log: pbDiscard}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		peak := newPeakMeter()
		b.StartTimer()

		start := time.Now()
		rep, err := w.Pass(context.Background(), PassOptions{})
		first := time.Since(start)
		if err != nil || rep.NewArticles != feeds*perFeed {
			b.Fatalf("first pass: %v, %d new", err, rep.NewArticles)
		}
		runtime.ReadMemStats(&m1)

		start = time.Now()
		rep2, err := w.Pass(context.Background(), PassOptions{})
		second := time.Since(start)
		if err != nil || rep2.NotModified != feeds {
			b.Fatalf("second pass: %v, %d not modified", err, rep2.NotModified)
		}

		b.StopTimer()
		b.ReportMetric(first.Seconds(), "first-pass-s")
		b.ReportMetric(float64(feeds*perFeed)/first.Seconds(), "items/s")
		b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(feeds*perFeed), "allocs/item")
		b.ReportMetric(second.Seconds(), "second-pass-s")
		b.ReportMetric(float64(peak.stop())/(1<<20), "peak-heap-MiB")
		st.Close()
		b.StartTimer()
	}
}

// benchTopics returns 200 topics of which, as in real watchlists, only a
// few match a given article: ten built from the feed vocabulary, the rest
// on subjects the benchmark feeds never mention.
func benchTopics() []string {
	base := []string{
		`(ВТБ OR VTB) (Китай OR China) (ИИ OR AI)`, `Сбербанк ИИ платформа`, `"центральный банк" ставка`, `нефть экспорт -газ`,
		`(санкции OR sanctions) (банк OR bank) регулятор`, `lang:en inflation regulator`, `site:site1.example рубль`,
		`облигации (выручка OR прибыль) квартал`, `министерство бюджет налог`, `China Russia AI`,
	}
	out := append([]string(nil), base...)
	for i := len(base); i < 200; i++ {
		out = append(out, fmt.Sprintf(`(тема%d OR subject%d) -спорт`, i, i))
	}
	return out
}

// pbItem is one RSS item of pbRSSDoc.
type pbItem struct {
	title, link, text string
	published         time.Time
}

// pbRSSDoc is an RSS 2.0 document of items.
func pbRSSDoc(title string, items ...pbItem) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>` + title + `</title><link>https://news.example/</link>`)
	for _, it := range items {
		fmt.Fprintf(&b, "<item><title>%s</title><link>%s</link><description><![CDATA[%s]]></description>", it.title, it.link, it.text)
		if !it.published.IsZero() {
			fmt.Fprintf(&b, "<pubDate>%s</pubDate>", it.published.Format(time.RFC1123Z))
		}
		b.WriteString("</item>")
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

var pbDiscard = slog.New(slog.DiscardHandler)

func newBenchServer(b *testing.B, h http.Handler) string {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

// peakMeter samples the heap while a benchmark runs. With
// DOZOR_BENCH_HEAPPROFILE=file it also writes a heap profile to file each
// time the peak grows by a tenth (at most every half second), so the
// profile left behind shows what was live near the peak:
//
//	go tool pprof -sample_index=inuse_space -top jobs.test file
type peakMeter struct {
	done chan struct{}
	peak chan uint64
}

func newPeakMeter() *peakMeter {
	p := &peakMeter{done: make(chan struct{}), peak: make(chan uint64, 1)}
	profile := os.Getenv("DOZOR_BENCH_HEAPPROFILE")
	go func() {
		var max, written uint64
		var last time.Time
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > max {
				max = m.HeapInuse
			}
			if profile != "" && max > written+written/10 && time.Since(last) > 500*time.Millisecond {
				if f, err := os.Create(profile); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
				written, last = max, time.Now()
			}
			select {
			case <-p.done:
				p.peak <- max
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakMeter) stop() uint64 { close(p.done); return <-p.peak }
