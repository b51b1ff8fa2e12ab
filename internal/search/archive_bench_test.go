package search

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"

	"dozor/internal/query"
	"dozor/internal/testdata/newsgen"
)

// The targets of issue 9 on the 2-core machine: BenchmarkArchive fails
// when one is missed.
const (
	archiveBuildTarget       = 2 * time.Minute
	archiveP95Target         = 50 * time.Millisecond
	archiveIncrementalTarget = 2 * time.Second
	archiveBatch             = 500
	archiveRepeats           = 5 // runs of each query of the mix
)

// archiveNow ends the archive's year; the queries' since: count back from it.
var archiveNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// BenchmarkArchive builds the search index of a year of news, 100,000
// articles from newsgen (realistic Russian and English text, 20 %
// reprints), in batches of 500 as the index stage does, and measures what
// issue 9 asks for:
//
//	go test ./internal/search -run '^$' -bench Archive -benchtime 1x -timeout 30m
//
// build-s (every Put returned, so durable), index-MiB (the directory on
// disk once bleve's merger has settled), p50-ms and p95-ms over a mix of
// one-word, multi-word, phrase, OR, exclusion, site:, lang: and since:
// queries (each run archiveRepeats times, one at a time, a page of 5 as
// /search asks for), and incremental-1000-s (1,000 new articles, two
// batches of 500). With -short the archive is 10,000 articles, for a
// quick smoke run; the targets are checked all the same.
func BenchmarkArchive(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	const extra = 1000 // the incremental batch, generated up front too
	g, err := newsgen.New(newsgen.Options{Seed: 9, Dir: "../testdata", Now: archiveNow, Count: n})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	docs := archiveDocs(g, n+extra)
	genTime := time.Since(start)
	textBytes := 0
	for _, d := range docs[:n] {
		textBytes += len(d.Title) + len(d.Text)
	}
	b.Logf("generated %d articles (%.0f MiB of text, %.0f KB each) in %v",
		n+extra, float64(textBytes)/(1<<20), float64(textBytes)/float64(n)/1000, genTime.Round(time.Millisecond))

	dir := filepath.Join(b.TempDir(), "index")
	x, _, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()

	b.ResetTimer()
	start = time.Now()
	for i := 0; i < n; i += archiveBatch {
		if err := x.Put(docs[i:min(n, i+archiveBatch)], nil); err != nil {
			b.Fatal(err)
		}
	}
	build := time.Since(start)
	if c, err := x.Count(); err != nil || c != uint64(n) {
		b.Fatalf("the index holds %d documents (%v), want %d", c, err, n)
	}
	b.Logf("built in %v (%.0f articles/s); %s", build.Round(time.Millisecond), float64(n)/build.Seconds(), archiveSegments(x))
	settle := archiveSettle(b, x, 5*time.Minute)
	size := archiveDirSize(b, dir)
	b.Logf("merges settled %v later; %s; %.1f MiB on disk", settle.Round(time.Millisecond), archiveSegments(x), float64(size)/(1<<20))

	mix := archiveMix(b, g)
	lat, perKind := archiveRun(b, x, mix)
	p50, p95 := archivePercentile(lat, 50), archivePercentile(lat, 95)
	kinds := make([]string, 0, len(perKind))
	for k := range perKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		l := perKind[k]
		b.Logf("  %-10s p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  (%d runs)", k,
			ms(archivePercentile(l, 50)), ms(archivePercentile(l, 95)), ms(slices.Max(l)), len(l))
	}

	archiveBreakdown(b, x, mix, 6)

	start = time.Now()
	for i := n; i < n+extra; i += archiveBatch {
		if err := x.Put(docs[i:i+archiveBatch], nil); err != nil {
			b.Fatal(err)
		}
	}
	incr := time.Since(start)
	b.StopTimer()

	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(float64(size)/(1<<20), "index-MiB")
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p95), "p95-ms")
	b.ReportMetric(incr.Seconds(), "incremental-1000-s")
	b.Logf("%d articles: build %v, index %.1f MiB, queries p50 %.1f ms p95 %.1f ms (%d queries × %d), incremental 1,000 in %v",
		n, build.Round(time.Millisecond), float64(size)/(1<<20), ms(p50), ms(p95), len(mix), archiveRepeats, incr.Round(time.Millisecond))

	if build >= archiveBuildTarget {
		b.Errorf("building the index of %d articles took %v, target under %v", n, build.Round(time.Millisecond), archiveBuildTarget)
	}
	if p95 >= archiveP95Target {
		b.Errorf("query latency p95 %.1f ms, target under %v", ms(p95), archiveP95Target)
	}
	if incr >= archiveIncrementalTarget {
		b.Errorf("indexing 1,000 new articles took %v, target under %v", incr.Round(time.Millisecond), archiveIncrementalTarget)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// archiveDocs generates articles 0 … n−1 as the index stage would index
// them (jobs.DocOf): id i+1, the story of the original, the article URL as
// its site. Two goroutines, one per core.
func archiveDocs(g *newsgen.Gen, n int) []Doc {
	docs := make([]Doc, n)
	var wg sync.WaitGroup
	const workers = 2
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				a := g.Article(i)
				docs[i] = Doc{ID: uint64(i + 1), StoryID: uint64(a.Story + 1), Title: a.Title, Text: a.Text,
					Site: a.URL, Lang: a.Lang, Topics: a.Topics, Time: a.Time}
			}
		})
	}
	wg.Wait()
	return docs
}

// archiveSegments describes the index's segments, from scorch's stats.
func archiveSegments(x *Index) string {
	m, _ := x.idx.StatsMap()["index"].(map[string]any)
	return fmt.Sprintf("%v file segments, %v in memory, %v files", m["num_root_filesegments"], m["num_root_memorysegments"], m["num_files_on_disk"])
}

// archiveSettle waits, at most max, until bleve's merger and persister
// have caught up with the last batch, as they have in an index built
// over a year, and returns how long that took.
func archiveSettle(b *testing.B, x *Index, max time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < max {
		m, _ := x.idx.StatsMap()["index"].(map[string]any)
		if active, ok := m["index_bgthreads_active"].(bool); ok && !active {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Logf("the merger was still busy after %v", max)
	return time.Since(start)
}

func archiveDirSize(b *testing.B, dir string) int64 {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return size
}

// archiveQuery is one query of the mix.
type archiveQuery struct {
	kind, text string
	q          *query.Query
}

// archiveMix is the query mix: words from the generator's vocabulary at
// several frequency ranks (a word of rank 20 is in most articles of its
// language, one of rank 3,000 in a few hundred), its subjects' words and
// collocations, and the operators and filters of the search language.
func archiveMix(b *testing.B, g *newsgen.Gen) []archiveQuery {
	ru, en := g.Words("ru"), g.Words("en")
	// word is the first word at or after rank that is a word a user would
	// search for: more than three letters, letters only.
	word := func(words []string, rank int) string {
		for _, w := range words[min(rank, len(words)-1):] {
			if utf8.RuneCountInString(w) > 3 && !strings.ContainsAny(w, "'’") {
				return w
			}
		}
		b.Fatalf("no word after rank %d", rank)
		return ""
	}
	sw := func(subject, lang string, k int) string {
		ws := g.SubjectWords(subject, lang)
		return ws[min(k, len(ws)-1)]
	}
	ph := func(subject, lang string, k int) string {
		ps := g.Phrases(subject, lang)
		return `"` + ps[min(k, len(ps)-1)] + `"`
	}
	since := archiveNow.AddDate(0, -2, 0).Format("2006-01-02")
	var mix []archiveQuery
	add := func(kind string, texts ...string) {
		for _, t := range texts {
			mix = append(mix, archiveQuery{kind: kind, text: t})
		}
	}
	for _, r := range []int{20, 150, 600, 2000, 4500} {
		add("one-word", word(ru, r), word(en, r))
	}
	add("multi-word",
		"ВТБ Китай ИИ",
		sw("banks", "ru", 0)+" "+sw("china", "ru", 1),
		sw("energy", "ru", 1)+" "+sw("sanctions", "ru", 0)+" "+word(ru, 300),
		word(ru, 40)+" "+word(ru, 90),
		word(ru, 500)+" "+word(ru, 1200),
		"Sberbank China AI",
		sw("markets", "en", 0)+" "+sw("economy", "en", 2),
		word(en, 40)+" "+word(en, 120)+" "+word(en, 700),
	)
	add("phrase",
		ph("ai", "ru", 1), ph("banks", "ru", 4), ph("incidents", "ru", 0),
		`"`+word(ru, 30)+" "+word(ru, 60)+`"`,
		ph("ai", "en", 0), ph("banks", "en", 0), `"`+word(en, 25)+" "+word(en, 50)+`"`,
	)
	add("or",
		"(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)",
		sw("energy", "ru", 0)+" OR "+sw("energy", "ru", 5),
		"санкции OR sanctions",
		word(ru, 100)+" OR "+word(ru, 3000)+" OR "+word(en, 3000),
		"(oil OR gas) (price OR prices)",
	)
	add("exclusion",
		sw("banks", "ru", 0)+" -"+sw("china", "ru", 1),
		sw("energy", "ru", 0)+" -"+sw("energy", "ru", 5)+" -ОПЕК",
		"China -Huawei",
		word(en, 80)+" -"+word(en, 30),
	)
	add("site",
		"site:rbc.ru "+sw("banks", "ru", 0),
		"site:reuters.com China",
		"site:finextra.com (Russia OR Russian)",
		"site:ru "+sw("energy", "ru", 0),
		"site:tass.ru",
	)
	add("lang",
		`"искусственный интеллект" lang:ru`,
		"lang:en "+sw("energy", "en", 0),
		"lang:ru "+word(ru, 700)+" "+word(ru, 800),
	)
	add("since",
		sw("banks", "ru", 0)+" since:7d",
		"China since:30d",
		sw("energy", "ru", 0)+" since:"+since,
		"since:7d site:tass.ru",
		`"ключевую ставку" since:30d lang:ru`,
	)
	for i := range mix {
		q, err := query.ParseSearch(mix[i].text, archiveNow)
		if err != nil {
			b.Fatalf("%s: %v", mix[i].text, err)
		}
		mix[i].q = q
	}
	return mix
}

// archiveRun runs the mix archiveRepeats times, one query at a time, and
// returns every latency, also by kind.
func archiveRun(b *testing.B, x *Index, mix []archiveQuery) ([]time.Duration, map[string][]time.Duration) {
	var all []time.Duration
	byKind := map[string][]time.Duration{}
	totals := make([]Result, len(mix))
	slowest := make([]time.Duration, len(mix))
	for range archiveRepeats {
		for i, m := range mix {
			start := time.Now()
			res, err := x.Search(context.Background(), m.q, Options{Limit: 5, Now: archiveNow, Timeout: 10 * time.Second})
			d := time.Since(start)
			if err != nil {
				b.Fatalf("%s: %v", m.text, err)
			}
			all = append(all, d)
			byKind[m.kind] = append(byKind[m.kind], d)
			totals[i] = res
			slowest[i] = max(slowest[i], d)
		}
	}
	for i, m := range mix {
		partial := ""
		if totals[i].Partial {
			partial = " (partial: over the match cap)"
		}
		b.Logf("  %-10s %-70q %6d stories%s, slowest %.1f ms", m.kind, m.text, totals[i].Total, partial, ms(slowest[i]))
		if totals[i].Total == 0 {
			b.Errorf("%s finds nothing: the mix should only have queries that match", m.text)
		}
	}
	return all, byKind
}

// archiveBreakdown shows where the time of the slowest queries of the mix
// goes, best of three runs each: Search as /search runs it; bleve's own
// top-5 search of the same query (scored, without reading doc values);
// Matches (every match, unscored, with the doc values Search reads:
// story and time); and a bare count (unscored, no doc values).
func archiveBreakdown(b *testing.B, x *Index, mix []archiveQuery, worst int) {
	ctx := context.Background()
	best := func(f func() error) time.Duration {
		d := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			d = min(d, time.Since(start))
		}
		return d
	}
	type row struct {
		q                        archiveQuery
		search, topN, dv, counts time.Duration
	}
	var rows []row
	for _, m := range mix {
		r := row{q: m}
		r.search = best(func() error {
			_, err := x.Search(ctx, m.q, Options{Limit: 5, Now: archiveNow, Timeout: 10 * time.Second})
			return err
		})
		rows = append(rows, r)
		if len(rows) > worst {
			slices.SortFunc(rows, func(a, b row) int { return int(b.search - a.search) })
			rows = rows[:worst]
		}
	}
	b.Logf("the %d slowest queries (best of 3): Search / bleve top-5 without doc values / Matches (doc values, unscored) / count", worst)
	for _, r := range rows {
		bq, _ := translate(r.q.q.Tree())
		r.topN = best(func() error {
			_, err := x.idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(bq, 5, 0, false))
			return err
		})
		r.dv = best(func() error {
			_, _, err := x.Matches(ctx, r.q.q, 0)
			return err
		})
		var total uint64
		r.counts = best(func() error {
			var err error
			total, err = x.count(ctx, bq)
			return err
		})
		b.Logf("  %-60q %6.1f / %6.1f / %6.1f / %6.1f ms  (%d matches)", r.q.text, ms(r.search), ms(r.topN), ms(r.dv), ms(r.counts), total)
	}
}

func archivePercentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := (len(s)*p + 99) / 100 // nearest rank
	return s[max(k-1, 0)]
}
