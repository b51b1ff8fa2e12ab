package jobs

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"dozor/internal/extract"
	"dozor/internal/fetch"
	"dozor/internal/summary"
	"dozor/storage"
)

// The scale: 1,000 feeds × 50 items from 8 hosts, 200 topics.
const (
	pbFeeds   = 1000
	pbPerFeed = 50
	// -short: a smoke run of a few seconds.
	pbShortFeeds   = 64
	pbShortPerFeed = 20
	// pbFetchWorkers is FETCH_CONCURRENCY.
	pbFetchWorkers = 8
	pbDrainTimeout = 30 * time.Minute
)

var pbPageLatency = flag.Duration("pipeline.latency", 2*time.Millisecond,
	"BenchmarkPipeline: how long each article page takes to answer")

// pbScale is the benchmark's size: the issue's, a smoke run with -short,
// or DOZOR_BENCH_SCALE=<feeds>x<items>.
func pbScale(b *testing.B) (feeds, perFeed int) {
	if s := os.Getenv("DOZOR_BENCH_SCALE"); s != "" {
		f, i, ok := strings.Cut(s, "x")
		nf, err1 := strconv.Atoi(f)
		ni, err2 := strconv.Atoi(i)
		if !ok || err1 != nil || err2 != nil || nf < 1 || ni < 1 {
			b.Fatalf("DOZOR_BENCH_SCALE=%q: want <feeds>x<items>, e.g. 200x50", s)
		}
		return nf, ni
	}
	if testing.Short() {
		return pbShortFeeds, pbShortPerFeed
	}
	return pbFeeds, pbPerFeed
}

// BenchmarkPipeline runs the whole pipeline over the scale:
// 1,000 feeds × 50 items from 8 httptest hosts (127.0.0.2 … 127.0.0.9),
// 200 topics of which a few percent of the articles match, 5 % reprints,
// 100 subscribers, everything new, from the watch pass until nothing is
// queued before the outbox. Beside it, in the same run, it measures the
// bare work: fetching and parsing the same feeds with no storage.
//
//	fulltext=off  the items are all there is; target: pipeline-s within
//	              1.5× bare-s, the bare fetch+parse (metric ratio)
//	fulltext=on   the items are teasers, so every page is fetched (bulk
//	              lane; urgent for those that matched) from the same 8
//	              hosts, each after -pipeline.latency; target: within the
//	              politeness floor (pages ÷ 8 × latency, floor-s) plus the
//	              extraction CPU over the cores (extract-cpu-s ÷ cores):
//	              bound-s, and vs-bound = pipeline-s ÷ bound-s; bound-gc-s
//	              and vs-bound-gc count extraction's CPU as the process's
//	              while it extracts, the garbage collection it causes
//	              included
//
// Both report commits per article (commits/article, target < 0.05) and
// peak RSS (peak-RSS-MiB, VmHWM, target < 400 MB; peak-anon-MiB and
// peak-file-MiB split it into the Go heap and bbolt's mmap), the peak heap,
// the CPU used (cpu-s), the match rate on feed text and on the best text,
// the alerts, stories and outbox messages, and others-cpu-s: the CPU the
// rest of the machine used meanwhile, which should be near zero for the
// times to mean anything. VmHWM is the peak of the whole process and
// cannot be reset, so run each case in its own process for its RSS:
//
//	go test ./jobs -run '^$' -bench 'Pipeline/fulltext=off' -benchtime 1x
//	go test ./jobs -run '^$' -bench 'Pipeline/fulltext=on' -benchtime 1x
//	go test ./jobs -run '^$' -bench Pipeline -benchtime 1x -short   # smoke run
//
// DOZOR_BENCH_SCALE=200x50 sets another scale; DOZOR_BENCH_NOSYNC=1 opens
// the store without fsync, to tell what commits cost; with
// DOZOR_BENCH_HEAPPROFILE=file a heap profile near the peak is left in
// file; DOZOR_BENCH_TRACE=1 logs the cores, fetches, commits, heap and RSS
// each second. At the end it logs how much of each bucket was mapped in
// (/proc/self/pagemap), which says what the file part of the RSS is.
func BenchmarkPipeline(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "fulltext=off"
		if full {
			name = "fulltext=on"
		}
		b.Run(name, func(b *testing.B) { benchPipeline(b, full) })
	}
}

func benchPipeline(b *testing.B, fullText bool) {
	feeds, perFeed := pbScale(b)
	items := feeds * perFeed
	w := newPBWorld(feeds, perFeed)
	latency := *pbPageLatency
	w.serve(b, latency)
	fopts := fetch.Options{AllowPrivate: true, MaxConcurrent: pbFetchWorkers}
	var perPage, perPageProc time.Duration
	if fullText {
		perPage, perPageProc = pbExtractCost(b, w, 100)
	}
	feedGen, pageGen := pbGenCost(w)
	reprints := 0
	for f := range feeds {
		for i := range perFeed {
			if w.reprint(f, i) {
				reprints++
			}
		}
	}

	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		// DOZOR_BENCH_NOSYNC=1 skips fsync, to tell what commits cost.
		st, err := storage.Open(filepath.Join(dir, "bench.db"), storage.Options{NoSync: os.Getenv("DOZOR_BENCH_NOSYNC") != ""})
		if err != nil {
			b.Fatal(err)
		}
		pbSetup(b, st, w)

		// The bare work, twice, keeping the faster: a second of work is
		// easily slowed by whatever else the machine runs.
		var bare, stock time.Duration
		for range 2 {
			for _, plain := range []bool{false, true} {
				runtime.GC()
				d, bareItems, err := pbBare(w, fopts, plain)
				if err != nil || bareItems != items {
					b.Fatalf("bare fetch+parse: %v, %d items of %d", err, bareItems, items)
				}
				if plain && (stock == 0 || d < stock) {
					stock = d
				}
				if !plain && (bare == 0 || d < bare) {
					bare = d
				}
			}
		}

		fetcher := fetch.New(fopts)
		p := New(Config{
			Store: st, Fetcher: fetcher, Summarizer: &summary.Summarizer{},
			Backlog: 24 * time.Hour, FullText: fullText, FetchWorkers: pbFetchWorkers,
			SummaryLang: "ru", Deadline: 2 * time.Minute, Log: pbDiscard,
		})
		runtime.GC()
		commits0 := st.Commits()
		cpu0, sys0 := pbCPU(), pbSystemCPU()
		heap := newPeakMeter()
		rss := newPBRSSMeter()
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		b.StartTimer()

		start := time.Now()
		stopTrace := pbTrace(b, st, fetcher, start)
		go func() { stopped <- p.Run(ctx) }()
		rep, err := p.Watcher.Pass(context.Background(), PassOptions{})
		pass := time.Since(start)
		if err != nil || rep.NewArticles != items {
			b.Fatalf("pass: %v, %d new of %d", err, rep.NewArticles, items)
		}
		var polls time.Duration
		for {
			t0 := time.Now()
			done, err := pbDrained(st)
			polls += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
			if time.Since(start) > pbDrainTimeout {
				c, _ := st.Count()
				b.Fatalf("pipeline not drained after %v: %+v", pbDrainTimeout, c)
			}
			// Looking costs the pipeline CPU: often enough for an end
			// within 0.5 % of the run, and no oftener.
			time.Sleep(min(250*time.Millisecond, max(10*time.Millisecond, time.Since(start)/200)))
		}
		elapsed := time.Since(start)

		b.StopTimer()
		stopTrace()
		cpu := pbCPU() - cpu0
		others := pbSystemCPU() - sys0 - cpu
		commits := st.Commits() - commits0
		peakHeap := heap.stop()
		peakAnon, peakFile := rss.stop()
		cancel()
		if err := <-stopped; err != nil {
			b.Fatal(err)
		}
		hwm := pbProcStatus("VmHWM")
		cen := pbTakeCensus(b, st)
		if fullText {
			// Again after the run, keeping the lower: what else the machine
			// ran while measuring inflates it, never the other way round.
			wall, proc := pbExtractCost(b, w, 100)
			perPage, perPageProc = min(perPage, wall), min(perPageProc, proc)
		}

		b.ReportMetric(elapsed.Seconds(), "pipeline-s")
		b.ReportMetric(pass.Seconds(), "pass-s")
		b.ReportMetric(bare.Seconds(), "bare-s")
		b.ReportMetric(elapsed.Seconds()/bare.Seconds(), "ratio")
		// The same against gofeed as it comes, which also scans every
		// item's HTML for images (dozor turns that off).
		b.ReportMetric(stock.Seconds(), "bare-stock-s")
		b.ReportMetric(elapsed.Seconds()/stock.Seconds(), "ratio-stock")
		b.ReportMetric(float64(items)/elapsed.Seconds(), "articles/s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		// The machine's CPU spent outside this process meanwhile: well
		// above zero, something else ran and the times are not to be
		// trusted.
		b.ReportMetric(others.Seconds(), "others-cpu-s")
		b.ReportMetric(float64(commits)/float64(items), "commits/article")
		b.ReportMetric(float64(commits), "commits")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(peakAnon)/(1<<20), "peak-anon-MiB")
		b.ReportMetric(float64(peakFile)/(1<<20), "peak-file-MiB")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(st.Size())/(1<<20), "db-MiB")
		b.ReportMetric(100*float64(len(rep.Matches))/float64(items), "match-feed-%")
		b.ReportMetric(100*float64(cen.matched)/float64(items), "match-%")
		b.ReportMetric(float64(cen.storiesAlerted), "alerted-stories")
		b.ReportMetric(float64(cen.alerts), "alerts")
		b.ReportMetric(float64(cen.counts.Outbox), "outbox")
		b.ReportMetric(float64(cen.counts.Stories), "stories")
		b.ReportMetric(float64(items-cen.counts.Stories), "folded")
		b.ReportMetric(float64(reprints), "reprints")
		b.ReportMetric(polls.Seconds(), "poll-s")
		// What serving the world cost the same two cores: generating each
		// feed twice (bare and pipeline), and each page once.
		gen := 5 * time.Duration(feeds) * feedGen
		if fullText {
			gen += time.Duration(rep.Pages) * pageGen
		}
		b.ReportMetric(gen.Seconds(), "gen-cpu-s")
		if fullText {
			pages := rep.Pages
			floor := time.Duration(pages) * latency / pbHosts
			ext := time.Duration(pages) * perPage
			extWall := ext / time.Duration(runtime.GOMAXPROCS(0))
			b.ReportMetric(float64(pages), "pages")
			b.ReportMetric(100*float64(cen.fullText)/float64(items), "fulltext-%")
			b.ReportMetric(floor.Seconds(), "floor-s")
			b.ReportMetric(float64(perPage.Microseconds())/1000, "extract-ms/page")
			b.ReportMetric(ext.Seconds(), "extract-cpu-s")
			b.ReportMetric((floor + extWall).Seconds(), "bound-s")
			b.ReportMetric(elapsed.Seconds()/(floor+extWall).Seconds(), "vs-bound")
			// The same with extraction's CPU counted as the process's while
			// it extracts, garbage collection included.
			procWall := time.Duration(pages) * perPageProc / time.Duration(runtime.GOMAXPROCS(0))
			b.ReportMetric(float64(perPageProc.Microseconds())/1000, "extract-gc-ms/page")
			b.ReportMetric((floor + procWall).Seconds(), "bound-gc-s")
			b.ReportMetric(elapsed.Seconds()/(floor+procWall).Seconds(), "vs-bound-gc")
		}
		b.Logf("%d feeds × %d items, %d topics, %d subscribers; counts after: %+v; pages given full text %d; summaries %d",
			feeds, perFeed, pbTopics, pbUsers, cen.counts, cen.fullText, cen.summaries)
		b.Logf("cores busy over the run, in tenths: %s", rss.timeline(10))

		mapped := pbMapped(filepath.Join(dir, "bench.db"))
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.Logf("database %.1f MiB: %s", float64(pbFileSize(filepath.Join(dir, "bench.db")))/(1<<20), pbDBStats(b, filepath.Join(dir, "bench.db")))
		b.Logf("database pages mapped in at the end, by bucket: %s", pbMappedByBucket(filepath.Join(dir, "bench.db"), mapped))
		os.RemoveAll(dir) // a full-text database is hundreds of MB
		b.StartTimer()
	}
}

// pbTrace logs, with DOZOR_BENCH_TRACE=1, one line a second: the cores in
// use, the fetcher's requests in flight and waiting, the commits so far,
// the heap, the goroutines and the RSS. It returns the func that stops it.
func pbTrace(b *testing.B, st *storage.Store, f *fetch.Fetcher, start time.Time) func() {
	if os.Getenv("DOZOR_BENCH_TRACE") == "" {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		cpu, at := pbCPU(), time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			inFlight, waiting := f.Busy()
			c := pbCPU()
			// Straight to stderr: a benchmark's log keeps only its first lines.
			fmt.Fprintf(os.Stderr, "t=%5.1fs cores %.2f fetches %d+%d waiting commits %d heap %d MiB goroutines %d RSS anon %d file %d MiB\n",
				time.Since(start).Seconds(), float64(c-cpu)/float64(time.Since(at)), inFlight, waiting,
				st.Commits(), m.HeapInuse>>20, runtime.NumGoroutine(), pbProcStatus("RssAnon")>>20, pbProcStatus("RssFile")>>20)
			cpu, at = c, time.Now()
		}
	}()
	return func() { close(done); <-finished }
}

// pbDrained reports whether nothing is queued before the outbox: no page
// in either lane, nothing to fold, summarise or fan out. Store.Count would
// say it too, but walks every page of the database; the cheap checks come
// first.
func pbDrained(st *storage.Store) (bool, error) {
	if st.UrgentWork() {
		return false, nil
	}
	if bulk, err := st.QueuedPages(storage.PageBulk, 0); err != nil || len(bulk) > 0 {
		return false, err
	}
	c, err := st.Count()
	return c.PagesUrgent+c.PagesBulk+c.Fold+c.Alerts+c.Fanout == 0, err
}

// pbSetup stores the world's sources, topics and subscribers.
func pbSetup(b *testing.B, st *storage.Store, w *pbWorld) {
	now := time.Now()
	for f := range w.feeds {
		if _, _, err := st.AddSource(storage.NewSource{URL: w.feedURL(f)}, now); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range w.topics {
		if _, err := st.PutTopic(t.name, t.query, now); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(5, 5))
	for u := range pbUsers {
		var topics []string
		for len(topics) < pbUserTopics {
			if t := w.topics[r.IntN(len(w.topics))].name; !contains(topics, t) {
				topics = append(topics, t)
			}
		}
		id := int64(1000 + u)
		_, _, err := st.CreateUser(storage.User{ID: id, ChatID: id, Name: fmt.Sprintf("Подписчик %d", u), Lang: "ru",
			Status: storage.StatusApproved, Mode: storage.ModeInstant, TZ: "UTC", Topics: topics, Created: now, Updated: now})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// pbBare is the bare work the watch stage cannot avoid: every feed fetched
// through the same kind of fetcher (8 requests at a time, one per host),
// by as many goroutines as the watcher has (2 × FETCH_CONCURRENCY, so
// parsing overlaps the next request), and parsed by gofeed as dozor
// configures it (no image scan). Nothing is decoded further or stored.
// With stock, gofeed runs as it comes (gofeed.NewParser(), image scan
// included): the plain "fetch + gofeed parse" of the issue.
func pbBare(w *pbWorld, fopts fetch.Options, stock bool) (time.Duration, int, error) {
	f := fetch.New(fopts)
	var items atomic.Int64
	var g errgroup.Group
	g.SetLimit(2 * fopts.MaxConcurrent)
	start := time.Now()
	for n := range w.feeds {
		g.Go(func() error {
			resp, err := f.Get(context.Background(), fetch.Request{URL: w.feedURL(n), Accept: feedAccept})
			if err != nil {
				return err
			}
			p := gofeed.NewParser()
			if !stock {
				p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
			}
			parsed, err := p.Parse(bytes.NewReader(resp.Body))
			if err != nil {
				return err
			}
			items.Add(int64(len(parsed.Items)))
			return nil
		})
	}
	err := g.Wait()
	return time.Since(start), int(items.Load()), err
}

// pbGenCost is what generating one feed and one page costs the benchmark's
// servers, measured on one goroutine.
func pbGenCost(w *pbWorld) (feed, page time.Duration) {
	out := bufio.NewWriter(io.Discard)
	const n = 50
	start := time.Now()
	for f := range n {
		w.writeFeed(out, f%w.feeds)
	}
	feed = time.Since(start) / n
	start = time.Now()
	for k := range n {
		w.writePage(out, k%w.feeds, k%w.perFeed)
	}
	page = time.Since(start) / n
	out.Flush()
	return feed, page
}

// pbExtractCost is the CPU one page costs the page stage to extract
// (decode and extract.Text, as pageQueue.fullText does), averaged over n
// pages of the world, measured on one goroutine before the run: wall, the
// time that goroutine took, and proc, the CPU the whole process used
// meanwhile, which adds the garbage collector's background work the
// extraction's garbage makes (it runs on the other core). A first round
// warms up what the extractor initialises on first use and lets the heap
// grow to its working size, which otherwise adds a third.
func pbExtractCost(b *testing.B, w *pbWorld, n int) (wall, proc time.Duration) {
	pages := make([]string, n)
	for k := range pages {
		var buf bytes.Buffer
		out := bufio.NewWriter(&buf)
		w.writePage(out, k*7919%w.feeds, k%w.perFeed)
		out.Flush()
		pages[k] = buf.String()
	}
	for round := range 2 {
		wall = 0
		cpu0 := pbCPU()
		for k, page := range pages {
			start := time.Now()
			text, _ := fetch.DecodeHTML([]byte(page), "text/html; charset=utf-8")
			if _, err := extract.Text(text, "http://127.0.0.2/news/1/"+strconv.Itoa(k)); err != nil {
				b.Fatal(err)
			}
			wall += time.Since(start)
			if round == 0 && k == n/2 {
				break
			}
		}
		proc = pbCPU() - cpu0
	}
	return wall / time.Duration(n), proc / time.Duration(n)
}

// pbCensus is what the pipeline left in the store.
type pbCensus struct {
	counts                 storage.Counts
	matched                int // articles matching a topic on their best text
	fullText               int // articles whose page gave a better text
	storiesAlerted, alerts int // stories that alerted, and on how many topics in all
	summaries              int
}

func pbTakeCensus(b *testing.B, st *storage.Store) pbCensus {
	var c pbCensus
	var err error
	if c.counts, err = st.Count(); err != nil {
		b.Fatal(err)
	}
	stories := map[uint64]bool{}
	err = st.ArticlesSince(time.Unix(0, 0), func(a *storage.Article) bool {
		if len(a.Topics) > 0 {
			c.matched++
			stories[a.StoryID] = true
		}
		if text, _ := st.FullText(a.ID); text != "" {
			c.fullText++
		}
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	for id := range stories {
		s, err := st.Story(id)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Topics) > 0 {
			c.storiesAlerted++
			c.alerts += len(s.Topics)
		}
	}
	u, err := st.Usage(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	c.summaries = u.Calls + u.Fallbacks
	return c
}

// pbDBStats says where the database's bytes are: per bucket, the pages
// allocated (leaf and branch, overflow included) and how full they are.
func pbDBStats(b *testing.B, path string) string {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	var out []string
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			st := bk.Stats()
			alloc := st.LeafAlloc + st.BranchAlloc
			if alloc < 1<<20 {
				return nil
			}
			out = append(out, fmt.Sprintf("%s %d keys %.1f MiB (%.0f%% used)", name, st.KeyN,
				float64(alloc)/(1<<20), 100*float64(st.LeafInuse+st.BranchInuse)/float64(alloc)))
			return nil
		})
	})
	return strings.Join(out, "; ")
}

func pbFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// pbCPU is the CPU time, user and system, the process used so far.
func pbCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pbSystemCPU is the CPU time all processes used so far, from
// /proc/stat (in USER_HZ ticks of 10 ms); 0 where there is no /proc.
func pbSystemCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	var busy int64
	for k, f := range fields {
		// cpu user nice system idle iowait irq softirq steal …
		if k == 0 || k == 4 || k == 5 || k > 8 {
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// pbProcStatus reads a size field of /proc/self/status (VmHWM, VmRSS,
// RssAnon, RssFile), in bytes; 0 where there is no /proc.
func pbProcStatus(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10
	}
	return 0
}

// pbRSSMeter samples the resident set, split into anonymous memory (the
// Go heap and stacks) and file pages (bbolt's mmap of the database),
// whose sum VmHWM reports the peak of.
type pbRSSMeter struct {
	done chan struct{}
	peak chan [2]uint64
	// busy is the cores in use, one sample a second, for the log: where
	// in the run the CPU was not saturated.
	busy []float64
}

func newPBRSSMeter() *pbRSSMeter {
	m := &pbRSSMeter{done: make(chan struct{}), peak: make(chan [2]uint64, 1)}
	go func() {
		var anon, file uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		cpu, at := pbCPU(), time.Now()
		for {
			anon = max(anon, pbProcStatus("RssAnon"))
			file = max(file, pbProcStatus("RssFile"))
			if d := time.Since(at); d >= time.Second {
				c := pbCPU()
				m.busy = append(m.busy, float64(c-cpu)/float64(d))
				cpu, at = c, time.Now()
			}
			select {
			case <-m.done:
				m.peak <- [2]uint64{anon, file}
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *pbRSSMeter) stop() (anon, file uint64) {
	close(m.done)
	p := <-m.peak
	return p[0], p[1]
}

// timeline is the cores in use over the run, averaged over n equal parts.
func (m *pbRSSMeter) timeline(n int) string {
	if len(m.busy) == 0 {
		return "-"
	}
	var parts []string
	for k := range min(n, len(m.busy)) {
		lo, hi := k*len(m.busy)/min(n, len(m.busy)), (k+1)*len(m.busy)/min(n, len(m.busy))
		sum := 0.0
		for _, v := range m.busy[lo:hi] {
			sum += v
		}
		parts = append(parts, fmt.Sprintf("%.2f", sum/float64(hi-lo)))
	}
	return strings.Join(parts, " ")
}
