package bot

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"dozor/internal/logging"
	"dozor/internal/pacer"
	"dozor/internal/search"
	"dozor/internal/testdata/newsgen"
	"dozor/internal/tgfake"
	"dozor/jobs"
	"dozor/storage"
)

// The RSS target of issue 9 on the 2-core machine.
const rssTarget = 300 // MiB

const (
	rssUsers  = 100 // approved users searching at once
	rssRounds = 3   // searches per user, each followed by ▶
	rssBatch  = 500 // articles per store transaction and per index batch
	// rssBuildEnv tells the child process to build the archive in the
	// directory it names (see TestSearchRSSArchive).
	rssBuildEnv = "DOZOR_SEARCHRSS_BUILD"
	rssCountEnv = "DOZOR_SEARCHRSS_COUNT"
	// rssKeepEnv names a directory to build the archive in once and reuse
	// on later runs, instead of building it in a temporary one each time.
	rssKeepEnv = "DOZOR_SEARCHRSS_ARCHIVE"
)

// BenchmarkSearchRSS measures the bot's memory while it serves searches
// over a year of news (100,000 articles from newsgen, 10,000 with -short):
//
//	go test ./bot -run '^$' -bench SearchRSS -benchtime 1x -timeout 30m
//
// The archive is built first, in a child process (this test binary
// running TestSearchRSSArchive), as the pipeline builds it: articles
// stored with SaveFetches, folded into stories (reprints joining their
// original's story), indexed by the index stage (jobs.Indexer, which reads
// each article back from the store and indexes jobs.DocOf of it); then the
// child waits for bleve's merger to settle and exits. Its own peak RSS is
// reported apart as build-peak-RSS-MiB.
//
// This process then opens the store and the index, starts the bot against
// the fake Bot API, resets its RSS high-water mark (writing 5 to
// /proc/self/clear_refs) and has 100 approved users send /search queries
// from a mix (one word, several words, phrases, OR, exclusions, site:,
// lang:, since:) all at once, three rounds each, pressing ▶ under every
// result page that has one. A user told the bot is busy (it runs two
// heavy searches at a time and refuses the rest) or to slow down (five
// in a row, then one every three seconds) tries again, as people do. It
// reports peak-RSS-MiB (VmHWM since the reset: the bot, its store and
// index mappings, and the in-process fake and users, which are small),
// reply-p50-ms and reply-p95-ms (from the /search message to the results,
// for the attempt that got them), page-p95-ms (▶ to its answer),
// wait-p95-ms (a user's first attempt to the results, retries included)
// and busy-% (the share of attempts refused). It fails when the peak is
// 300 MiB or more.
//
// Set DOZOR_SEARCHRSS_ARCHIVE=dir to build the archive there once and
// reuse it on later runs.
func BenchmarkSearchRSS(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	dir, info := rssArchive(b, n)

	b.ResetTimer()
	res := rssServe(b, dir, info)
	b.StopTimer()

	b.ReportMetric(res.peak, "peak-RSS-MiB")
	b.ReportMetric(res.anon, "peak-anon-MiB")
	b.ReportMetric(info.PeakRSSMiB, "build-peak-RSS-MiB")
	b.ReportMetric(rssMS(res.reply50), "reply-p50-ms")
	b.ReportMetric(rssMS(res.reply95), "reply-p95-ms")
	b.ReportMetric(rssMS(res.page95), "page-p95-ms")
	b.ReportMetric(rssMS(res.wait95), "wait-p95-ms")
	b.ReportMetric(res.busyPct, "busy-%")
	if res.peak >= rssTarget {
		b.Errorf("peak RSS while serving searches %.0f MiB, target under %d MiB", res.peak, rssTarget)
	}
}

// rssArchive returns the directory of an archive of n articles (store
// dozor.db and index dozor.search) and its description: the one kept
// under $DOZOR_SEARCHRSS_ARCHIVE if there is one, else one built by a
// child process (TestSearchRSSArchive), in a temporary directory or in
// the kept one.
func rssArchive(b *testing.B, n int) (string, rssInfo) {
	b.Helper()
	dir := os.Getenv(rssKeepEnv)
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir = filepath.Join(dir, strconv.Itoa(n))
	}
	info, err := rssReadInfo(dir)
	if err != nil {
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSearchRSSArchive$", "-test.v", "-test.timeout=30m")
		cmd.Env = append(os.Environ(), rssBuildEnv+"="+dir, rssCountEnv+"="+strconv.Itoa(n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("building the archive in a child process: %v\n%s", err, out)
		}
		if info, err = rssReadInfo(dir); err != nil {
			b.Fatalf("the child built no archive: %v\n%s", err, out)
		}
		b.Logf("archive built by a child process in %v", time.Since(start).Round(time.Second))
	} else {
		b.Logf("reusing the archive in %s", dir)
	}
	b.Logf("archive: %d articles, %d stories, built in %.1f s (store %.1f s, index %.1f s, merges %.1f s); store %.0f MiB, index %.0f MiB; build peak RSS %.0f MiB",
		info.Articles, info.Stories, info.BuildSeconds, info.StoreSeconds, info.IndexSeconds, info.SettleSeconds, info.StoreMiB, info.IndexMiB, info.PeakRSSMiB)
	if info.Articles != n {
		b.Fatalf("the archive in %s has %d articles, want %d", dir, info.Articles, n)
	}
	return dir, info
}

func rssMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rssInfo describes a built archive; the child writes it last, so its
// presence says the archive is complete.
type rssInfo struct {
	Articles, Stories                                       int
	BuildSeconds, StoreSeconds, IndexSeconds, SettleSeconds float64
	StoreMiB, IndexMiB, PeakRSSMiB                          float64
	Now                                                     time.Time
}

const rssInfoFile = "archive.json"

func rssReadInfo(dir string) (rssInfo, error) {
	var info rssInfo
	b, err := os.ReadFile(filepath.Join(dir, rssInfoFile))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// TestSearchRSSArchive is the child process of BenchmarkSearchRSS: it
// builds the archive in $DOZOR_SEARCHRSS_BUILD. Without it, it is skipped.
func TestSearchRSSArchive(t *testing.T) {
	dir := os.Getenv(rssBuildEnv)
	if dir == "" {
		t.Skip("the archive builder of BenchmarkSearchRSS; it runs in a child process")
	}
	n, err := strconv.Atoi(os.Getenv(rssCountEnv))
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q", rssCountEnv, os.Getenv(rssCountEnv))
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	g, err := newsgen.New(newsgen.Options{Seed: 9, Dir: "../internal/testdata", Now: now, Count: n})
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(filepath.Join(dir, "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	idx, _, err := search.Open(filepath.Join(dir, "dozor.search"))
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]uint64{}
	for _, s := range newsgen.Sites() {
		src, _, err := st.AddSource(storage.NewSource{URL: "https://" + s.Host + "/rss", Name: s.Name}, now.AddDate(-1, 0, -1))
		if err != nil {
			t.Fatal(err)
		}
		sources[s.Host] = src.ID
	}

	start := time.Now()
	var storeTime, indexTime time.Duration
	storyOf := make(map[int]uint64, n) // generator index of an original → its story
	stories := 0
	indexer := &jobs.Indexer{Store: st, Index: idx}
	arts := make([]newsgen.Article, rssBatch)
	for from := 0; from < n; from += rssBatch {
		batch := arts[:min(rssBatch, n-from)]
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				for k := w; k < len(batch); k += 2 {
					batch[k] = g.Article(from + k)
				}
			})
		}
		wg.Wait()
		t0 := time.Now()
		na := make([]storage.NewArticle, len(batch))
		for k, a := range batch {
			na[k] = storage.NewArticle{
				Article: storage.Article{Key: a.URL, URL: a.URL, Title: a.Title, Text: a.Text, SourceID: sources[a.Host],
					Source: a.Source, Published: a.Time, Fetched: a.Time.Add(2 * time.Minute), Lang: a.Lang},
				Page: storage.PageNone,
				Host: a.Host,
			}
		}
		saved, err := st.SaveFetches([]storage.FetchResult{{Articles: na}})
		if err != nil {
			t.Fatal(err)
		}
		if len(saved) != 1 || len(saved[0]) != len(batch) {
			t.Fatalf("saved %d of %d articles", len(saved[0]), len(batch))
		}
		genOf := make(map[uint64]int, len(batch)) // article id → generator index
		for k, a := range saved[0] {
			genOf[a.ID] = from + k
		}
		// The fold stage's work, with the generator's stories in place of
		// MinHash: an original starts a story, a reprint joins its
		// original's.
		_, err = st.FoldBatch(rssBatch, now, func(tx *storage.FoldTx, j storage.FoldJob) error {
			i, ok := genOf[j.Article.ID]
			if !ok {
				return fmt.Errorf("article %d was not in this batch", j.Article.ID)
			}
			a := j.Article
			ga := &batch[i-from]
			if !ga.Reprint {
				s, err := tx.NewStory(&a)
				if err != nil {
					return err
				}
				storyOf[i] = s.ID
				stories++
				return nil
			}
			s, err := tx.Story(storyOf[ga.Story])
			if err != nil {
				return fmt.Errorf("the story of %d (reprint of %d): %w", i, ga.Story, err)
			}
			return tx.Join(s, &a)
		})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		storeTime += t1.Sub(t0)
		for {
			k, err := indexer.Step()
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
		indexTime += time.Since(t1)
	}
	build := time.Since(start)
	if c, err := idx.Count(); err != nil || c != uint64(n) {
		t.Fatalf("the index holds %d documents (%v), want %d", c, err, n)
	}
	// bleve goes on merging segments after the last batch; an index that
	// grew over a year has long finished, so wait for the files to stop
	// changing before handing it over.
	settle := rssSettle(t, filepath.Join(dir, "dozor.search"))
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	info := rssInfo{Articles: n, Stories: stories, BuildSeconds: build.Seconds(), StoreSeconds: storeTime.Seconds(),
		IndexSeconds: indexTime.Seconds(), SettleSeconds: settle.Seconds(),
		StoreMiB: rssSize(t, filepath.Join(dir, "dozor.db")), IndexMiB: rssSize(t, filepath.Join(dir, "dozor.search")),
		PeakRSSMiB: rssStatus(t, "VmHWM"), Now: now}
	raw, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rssInfoFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", info)
}

// rssSettle waits until the index directory's files have not changed for
// five seconds (at most five minutes) and returns how long it waited.
func rssSettle(t testing.TB, dir string) time.Duration {
	start := time.Now()
	last, since := "", time.Now()
	for time.Since(start) < 5*time.Minute {
		var sig strings.Builder
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".bolt") {
				if fi, err := d.Info(); err == nil {
					fmt.Fprintf(&sig, "%s:%d;", d.Name(), fi.Size())
				}
			}
			return nil
		})
		if s := sig.String(); s != last {
			last, since = s, time.Now()
		} else if time.Since(since) >= 5*time.Second {
			return since.Sub(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the index was still changing after 5 minutes")
	return time.Since(start)
}

// rssSize is the size of a file or directory tree in MiB.
func rssSize(t testing.TB, path string) float64 {
	var size int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return float64(size) / (1 << 20)
}

// rssStatus reads a kB field of /proc/self/status, in MiB.
func rssStatus(t testing.TB, field string) float64 {
	v, err := rssProc(field)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rssProc(field string) (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", field, rest, err)
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// rssResult is what serving measured.
type rssResult struct {
	peak, anon                       float64 // MiB
	reply50, reply95, page95, wait95 time.Duration
	busyPct                          float64
}

// rssQueries is the mix users search with, from the generator's
// vocabulary at several frequency ranks and its subjects, as
// BenchmarkArchive's.
func rssQueries(g *newsgen.Gen) []string {
	ru, en := g.Words("ru"), g.Words("en")
	word := func(words []string, rank int) string {
		for _, w := range words[min(rank, len(words)-1):] {
			if utf8.RuneCountInString(w) > 3 && !strings.ContainsAny(w, "'’") {
				return w
			}
		}
		return words[0]
	}
	sw := func(subject, lang string, k int) string {
		ws := g.SubjectWords(subject, lang)
		return ws[min(k, len(ws)-1)]
	}
	ph := func(subject, lang string, k int) string {
		ps := g.Phrases(subject, lang)
		return `"` + ps[min(k, len(ps)-1)] + `"`
	}
	var qs []string
	for _, r := range []int{20, 150, 600, 2000, 4500} {
		qs = append(qs, word(ru, r), word(en, r))
	}
	return append(qs,
		"ВТБ Китай ИИ",
		sw("banks", "ru", 0)+" "+sw("china", "ru", 1),
		word(ru, 40)+" "+word(ru, 90),
		"Sberbank China AI",
		word(en, 40)+" "+word(en, 120)+" "+word(en, 700),
		ph("ai", "ru", 1), ph("banks", "ru", 4), `"`+word(ru, 30)+" "+word(ru, 60)+`"`, ph("ai", "en", 0),
		"(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)",
		"санкции OR sanctions",
		"(oil OR gas) (price OR prices)",
		sw("banks", "ru", 0)+" -"+sw("china", "ru", 1),
		"China -Huawei",
		"site:rbc.ru "+sw("banks", "ru", 0),
		"site:finextra.com (Russia OR Russian)",
		"site:tass.ru",
		`"искусственный интеллект" lang:ru`,
		"lang:en "+sw("energy", "en", 0),
		sw("banks", "ru", 0)+" since:7d",
		"China since:30d",
		`"ключевую ставку" since:30d lang:ru`,
	)
}

// rssServe runs the bot over the archive in dir and has the users search.
func rssServe(b *testing.B, dir string, info rssInfo) rssResult {
	g, err := newsgen.New(newsgen.Options{Seed: 9, Dir: "../internal/testdata", Now: info.Now, Count: info.Articles})
	if err != nil {
		b.Fatal(err)
	}
	queries := rssQueries(g)

	rss0, _ := rssProc("VmRSS")
	st, err := storage.Open(filepath.Join(dir, "dozor.db"), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rss1, _ := rssProc("VmRSS")
	idx, fresh, err := search.Open(filepath.Join(dir, "dozor.search"))
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	if fresh {
		b.Fatal("the archive's index was thrown away on open")
	}
	rss2, _ := rssProc("VmRSS")
	b.Logf("RSS %.0f MiB before opening the archive, %.0f MiB with the store open, %.0f MiB with the index open too", rss0, rss1, rss2)

	pace := pacer.NewLimits(pacer.Limits{PerSecond: 1000, PrivateGap: time.Millisecond, PrivateBurst: 100, GroupGap: time.Millisecond})
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	go func() { pdone <- pace.Run(pctx) }()
	defer func() { pcancel(); <-pdone }()
	fake := tgfake.New(b, testToken, tgfake.WithoutRateLimits())
	fake.AddChat(adminID)
	users := make([]int64, rssUsers)
	now := time.Now()
	for k := range users {
		id := int64(5001 + k)
		users[k] = id
		lang := "ru"
		if k%5 >= 3 {
			lang = "en"
		}
		_, _, err := st.CreateUser(storage.User{ID: id, ChatID: id, Name: "User " + strconv.FormatInt(id, 10), Lang: lang,
			Status: storage.StatusApproved, Mode: storage.ModeInstant, TZ: "UTC", Created: now, Updated: now})
		if err != nil {
			b.Fatal(err)
		}
		fake.AddChat(id)
	}
	// A kept archive remembers the update offset of the fake it served
	// last; this fake counts updates from 1 again.
	if err := st.SetMeta(offsetKey, nil); err != nil {
		b.Fatal(err)
	}
	_, stop := runBot(b, Options{
		Token: testToken, APIURL: fake.URL(), AdminIDs: []int64{adminID}, Access: AccessApproval, SummaryLang: "ru",
		Store: st, Search: idx, Pacer: pace, NoticeEvery: time.Minute,
		Log: logging.New(io.Discard, "text", slog.LevelInfo, testToken),
	})
	defer stop()

	// Measure from here: what opening the archive and starting the bot
	// left, then the peak while serving.
	runtime.GC()
	debug.FreeOSMemory()
	before, _ := rssProc("VmRSS")
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	if reset != nil {
		b.Logf("could not reset the RSS high-water mark (%v): peak-RSS-MiB includes everything before", reset)
	} else if hwm, _ := rssProc("VmHWM"); hwm > before+16 {
		b.Logf("VmHWM %.0f MiB right after the reset, RSS %.0f MiB: the reset did not take", hwm, before)
	}
	b.Logf("before serving: %s", rssMaps())
	// Our own peaks, sampled: VmRSS (a check on VmHWM) and RssAnon, the
	// part that is not file pages mapped from the store and the index.
	var sampled, sampledAnon float64
	stopSample := make(chan struct{})
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := rssProc("VmRSS"); err == nil {
				sampled = max(sampled, v)
			}
			if v, err := rssProc("RssAnon"); err == nil {
				sampledAnon = max(sampledAnon, v)
			}
			select {
			case <-stopSample:
				return
			case <-tick.C:
			}
		}
	}()

	var (
		mu                 sync.Mutex
		replies, pages     []time.Duration
		waits              []time.Duration
		attempts, refusals atomic.Int64
		totals             = map[string]string{}
	)
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer lcancel()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	for k, id := range users {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(id), 7))
			lang := "ru"
			if k%5 >= 3 {
				lang = "en"
			}
			busy, slow := stripTags(tr(lang, "busy")), stripTags(tr(lang, "slow_down_heavy"))
			seen := 0
			// ask sends text and returns the reply and how long it took.
			ask := func(text string) (tgfake.Message, time.Duration, error) {
				t0 := time.Now()
				fake.SendText(id, id, text)
				msgs, err := fake.WaitMessages(lctx, id, seen+1)
				if err != nil {
					return tgfake.Message{}, 0, err
				}
				seen++
				return msgs[seen-1], time.Since(t0), nil
			}
			// backoff is how long a refused user waits before trying again.
			backoff := func(refusal string) time.Duration {
				if refusal == slow {
					return 3*time.Second + time.Duration(r.IntN(1000))*time.Millisecond
				}
				return 200*time.Millisecond + time.Duration(r.IntN(800))*time.Millisecond
			}
			time.Sleep(time.Duration(r.IntN(200)) * time.Millisecond)
			for round := range rssRounds {
				q := queries[(k*7+round*13)%len(queries)]
				first := time.Now()
				var m tgfake.Message
				for {
					msg, d, err := ask("/search " + q)
					if err != nil {
						errs <- fmt.Errorf("user %d, %q: %w", id, q, err)
						return
					}
					attempts.Add(1)
					if msg.Plain == busy || msg.Plain == slow {
						refusals.Add(1)
						time.Sleep(backoff(msg.Plain))
						continue
					}
					if !strings.HasPrefix(msg.Plain, "🔍") {
						errs <- fmt.Errorf("user %d, %q: the reply is not results: %q", id, q, msg.Plain)
						return
					}
					m = msg
					mu.Lock()
					replies = append(replies, d)
					waits = append(waits, time.Since(first))
					head, _, _ := strings.Cut(msg.Plain, "\n")
					totals[q] = head
					mu.Unlock()
					break
				}
				data := pageButton(m.InlineKeyboard, "▶")
				for data != "" {
					t0 := time.Now()
					qid := fake.SendCallback(id, id, m.ID, data)
					ans, err := fake.WaitCallbackAnswer(lctx, qid)
					if err != nil {
						errs <- fmt.Errorf("user %d, ▶ of %q: %w", id, q, err)
						return
					}
					attempts.Add(1)
					if ans.Text != "" {
						if ans.Text != busy && ans.Text != slow {
							errs <- fmt.Errorf("user %d, ▶ of %q: answered %q", id, q, ans.Text)
							return
						}
						refusals.Add(1)
						time.Sleep(backoff(ans.Text))
						continue
					}
					mu.Lock()
					pages = append(pages, time.Since(t0))
					mu.Unlock()
					break
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSample)
	<-sampleDone
	close(errs)
	for err := range errs {
		b.Error(err)
	}
	peak, err := rssProc("VmHWM")
	if err != nil {
		b.Fatal(err)
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	rssAnon, _ := rssProc("RssAnon")
	rssFile, _ := rssProc("RssFile")

	res := rssResult{peak: peak, reply50: rssPercentile(replies, 50), reply95: rssPercentile(replies, 95),
		page95: rssPercentile(pages, 95), wait95: rssPercentile(waits, 95)}
	if a := attempts.Load(); a > 0 {
		res.busyPct = 100 * float64(refusals.Load()) / float64(a)
	}
	qs := make([]string, 0, len(totals))
	for q := range totals {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	for _, q := range qs {
		b.Logf("  %-66q → %s", q, totals[q])
	}
	b.Logf("%d users × %d rounds in %v: %d searches and %d pages served, %d attempts, %d refused (busy or slow down: %.0f%%)",
		rssUsers, rssRounds, elapsed.Round(time.Millisecond), len(replies), len(pages), attempts.Load(), refusals.Load(), res.busyPct)
	b.Logf("reply p50 %.0f ms, p95 %.0f ms, max %.0f ms; page p50 %.0f ms, p95 %.0f ms; wait (with retries) p50 %.0f ms, p95 %.0f ms",
		rssMS(res.reply50), rssMS(res.reply95), rssMS(rssPercentile(replies, 100)), rssMS(rssPercentile(pages, 50)), rssMS(res.page95),
		rssMS(rssPercentile(waits, 50)), rssMS(res.wait95))
	b.Logf("RSS %.0f MiB before serving; peak %.0f MiB (VmHWM), %.0f MiB (sampled VmRSS), of which anonymous memory at most %.0f MiB (sampled RssAnon); now RssAnon %.0f MiB, RssFile %.0f MiB; Go heap in use %.0f MiB, obtained from the OS %.0f MiB",
		before, peak, sampled, sampledAnon, rssAnon, rssFile, float64(mem.HeapInuse)/(1<<20), float64(mem.Sys)/(1<<20))
	b.Logf("after serving: %s", rssMaps())
	res.anon = sampledAnon
	if len(replies) != rssUsers*rssRounds {
		b.Errorf("%d searches served, want %d", len(replies), rssUsers*rssRounds)
	}
	if errors.Is(lctx.Err(), context.DeadlineExceeded) {
		b.Error("the users ran out of time")
	}
	return res
}

// rssMaps sums /proc/self/smaps's Rss by what is mapped: the store's and
// the index's files, the test binary, anonymous memory.
func rssMaps() string {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	by := map[string]float64{}
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header
			name = "anonymous"
			if len(fields) >= 6 {
				switch p := fields[5]; {
				case strings.Contains(p, "dozor.db"):
					name = "store (dozor.db)"
				case strings.Contains(p, "dozor.search"):
					name = "index (dozor.search)"
				case strings.HasPrefix(p, "["):
					name = p
				default:
					name = filepath.Base(p)
				}
			}
			continue
		}
		if fields[0] == "Rss:" && len(fields) >= 2 {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			by[name] += kb / 1024
		}
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(by[b], by[a]) })
	var out []string
	for _, n := range names {
		if by[n] >= 1 {
			out = append(out, fmt.Sprintf("%s %.0f MiB", n, by[n]))
		}
	}
	return strings.Join(out, ", ")
}

func rssPercentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := (len(s)*p + 99) / 100
	return s[max(k-1, 0)]
}

// runBot starts a bot for a benchmark and waits until it is ready; stop
// ends it and checks that Run returned cleanly. Stop it before its pacer.
func runBot(b *testing.B, opts Options) (*Bot, func()) {
	b.Helper()
	bot, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	select {
	case <-bot.ready:
	case err := <-done:
		cancel()
		b.Fatalf("Run ended at start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		b.Fatal("the bot did not start")
	}
	return bot, func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	}
}
