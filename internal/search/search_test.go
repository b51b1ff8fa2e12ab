package search

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"dozor/internal/query"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func parse(t testing.TB, s string) *query.Query {
	t.Helper()
	q, err := query.ParseSearch(s, now)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return q
}

func search(t *testing.T, x *Index, s string, opt Options) Result {
	t.Helper()
	if opt.Now.IsZero() {
		opt.Now = now
	}
	res, err := x.Search(context.Background(), parse(t, s), opt)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return res
}

func ids(hits []Hit) []uint64 {
	out := make([]uint64, len(hits))
	for i, h := range hits {
		out[i] = h.ArticleID
	}
	return out
}

// filler makes the index's statistics realistic: a word is rare.
func filler(n int, from uint64) []Doc {
	var docs []Doc
	for i := range n {
		docs = append(docs, Doc{ID: from + uint64(i), Title: fmt.Sprintf("Новости рынка %d", i),
			Text: "Рынок нефти и акции банков: обзор дня, курс рубля и прогнозы аналитиков.", Time: now.Add(-48 * time.Hour)})
	}
	return docs
}

func TestSearchTitleAboveBody(t *testing.T) {
	x := openTest(t)
	day := now.Add(-24 * time.Hour)
	docs := append(filler(50, 100),
		// Same words, same length, same time: only where «Китай» is differs.
		Doc{ID: 1, Title: "Сбербанк открыл офис", Text: "Банк расширяет работу, Китай и партнёры ждут новостей.", Time: day},
		Doc{ID: 2, Title: "Сбербанк открыл Китай", Text: "Банк расширяет работу, офис и партнёры ждут новостей.", Time: day},
	)
	putAll(t, x, docs, nil)
	res := search(t, x, "Китай", Options{})
	if got := ids(res.Hits); len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Fatalf("hits %v, want the title match 2 above the body match 1", got)
	}
	if !(res.Hits[0].Score > res.Hits[1].Score) {
		t.Fatalf("scores %v, %v", res.Hits[0].Score, res.Hits[1].Score)
	}
	// The title boost is not a recency artefact: it holds against a
	// body-only match a day newer.
	if err := x.Put([]Doc{{ID: 1, Title: "Сбербанк открыл офис", Text: "Банк расширяет работу, Китай и партнёры ждут новостей.", Time: now}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := ids(search(t, x, "Китай", Options{}).Hits); got[0] != 2 {
		t.Fatalf("hits %v: a newer body match beat a title match", got)
	}
}

func TestSearchRecencyBreaksTies(t *testing.T) {
	x := openTest(t)
	docs := filler(30, 100)
	for i, age := range []time.Duration{30 * 24 * time.Hour, time.Hour, 7 * 24 * time.Hour, 0} {
		docs = append(docs, Doc{ID: uint64(i + 1), Title: "ВТБ и Китай", Text: "ВТБ открывает ИИ-центр в Китае.", Time: now.Add(-age)})
	}
	putAll(t, x, docs, nil)
	res := search(t, x, "ВТБ Китай", Options{})
	if got := fmt.Sprint(ids(res.Hits)); got != "[4 2 3 1]" {
		t.Fatalf("hits %s, want newest first [4 2 3 1]", got)
	}
	// The factor: +25% new, halving every week.
	if r := res.Hits[0].Score / res.Hits[2].Score; r < 1.25/1.125-0.001 || r > 1.25/1.125+0.001 {
		t.Fatalf("score ratio new/week-old = %v, want %v", r, 1.25/1.125)
	}
	// Recency is relative to Now: a year on, the boost has faded.
	res = search(t, x, "ВТБ Китай", Options{Now: now.Add(365 * 24 * time.Hour)})
	if r := res.Hits[0].Score / res.Hits[3].Score; r > 1.0001 {
		t.Fatalf("a year on, newest/oldest = %v, want ≈1", r)
	}
}

func TestSearchFoldsStories(t *testing.T) {
	x := openTest(t)
	docs := filler(30, 100)
	docs = append(docs,
		Doc{ID: 1, StoryID: 7, Title: "ВТБ открывает ИИ-центр в Китае", Time: now.Add(-time.Hour)},
		Doc{ID: 2, StoryID: 7, Title: "ВТБ и Китай: ИИ-центр", Time: now.Add(-2 * time.Hour)},
		Doc{ID: 3, StoryID: 7, Title: "ВТБ: ИИ-центр в Китае", Text: "Китай, Китай, Китай.", Time: now.Add(-3 * time.Hour)},
		Doc{ID: 4, StoryID: 7, Title: "Сбербанк в Индии", Time: now}, // same story, does not match
		Doc{ID: 5, StoryID: 0, Title: "Китай и ВТБ", Time: now.Add(-4 * time.Hour)},
		Doc{ID: 6, StoryID: 0, Title: "Китай и ВТБ", Time: now.Add(-5 * time.Hour)},
		Doc{ID: 8, StoryID: 9, Title: "Китай, ВТБ", Time: now.Add(-6 * time.Hour)},
	)
	putAll(t, x, docs, nil)
	res := search(t, x, "ВТБ Китай", Options{})
	if res.Total != 4 || len(res.Hits) != 4 || res.Partial {
		t.Fatalf("total %d, %d hits, partial %v; want 4 stories", res.Total, len(res.Hits), res.Partial)
	}
	byStory := map[uint64]Hit{}
	for _, h := range res.Hits {
		if h.StoryID != 0 {
			if _, dup := byStory[h.StoryID]; dup {
				t.Fatalf("story %d twice", h.StoryID)
			}
			byStory[h.StoryID] = h
		}
	}
	h := byStory[7]
	if h.Articles != 3 {
		t.Fatalf("story 7: %d articles, want 3", h.Articles)
	}
	if h.ArticleID < 1 || h.ArticleID > 3 {
		t.Fatalf("story 7 shown by article %d", h.ArticleID)
	}
	if byStory[9].Articles != 1 {
		t.Fatalf("story 9: %+v", byStory[9])
	}
	var unfolded []uint64
	for _, h := range res.Hits {
		if h.StoryID == 0 {
			unfolded = append(unfolded, h.ArticleID)
			if h.Articles != 1 {
				t.Fatalf("unfolded article %d counts %d articles", h.ArticleID, h.Articles)
			}
		}
	}
	if fmt.Sprint(unfolded) != "[5 6]" && fmt.Sprint(unfolded) != "[6 5]" {
		t.Fatalf("unfolded hits %v, want 5 and 6 as stories of their own", unfolded)
	}
	for i := 1; i < len(res.Hits); i++ {
		if res.Hits[i].Score > res.Hits[i-1].Score {
			t.Fatalf("hits not by score: %+v", res.Hits)
		}
	}
}

func TestSearchBestArticleOfStory(t *testing.T) {
	x := openTest(t)
	docs := filler(30, 100)
	docs = append(docs,
		Doc{ID: 1, StoryID: 7, Title: "Рынок", Text: "Сегодня ВТБ сообщил о планах.", Time: now},
		Doc{ID: 2, StoryID: 7, Title: "ВТБ", Text: "ВТБ сообщил о планах.", Time: now},
	)
	putAll(t, x, docs, nil)
	res := search(t, x, "ВТБ", Options{})
	if len(res.Hits) != 1 || res.Hits[0].ArticleID != 2 || res.Hits[0].Articles != 2 {
		t.Fatalf("hits %+v, want story 7 shown by its title match 2, 2 articles", res.Hits)
	}
}

func TestSearchPaging(t *testing.T) {
	x := openTest(t)
	docs := filler(30, 100)
	for i := range 25 {
		docs = append(docs, Doc{ID: uint64(i + 1), Title: "ВТБ", Text: "Китай", Time: now.Add(-time.Duration(i) * time.Hour)})
	}
	putAll(t, x, docs, nil)
	all := search(t, x, "ВТБ", Options{Limit: 100})
	if all.Total != 25 || len(all.Hits) != 25 {
		t.Fatalf("total %d hits %d", all.Total, len(all.Hits))
	}
	def := search(t, x, "ВТБ", Options{})
	if len(def.Hits) != 10 || def.Total != 25 {
		t.Fatalf("default page: %d hits, total %d", len(def.Hits), def.Total)
	}
	var paged []uint64
	for off := 0; off < 30; off += 7 {
		res := search(t, x, "ВТБ", Options{Offset: off, Limit: 7})
		if res.Total != 25 {
			t.Fatalf("offset %d: total %d", off, res.Total)
		}
		paged = append(paged, ids(res.Hits)...)
	}
	if fmt.Sprint(paged) != fmt.Sprint(ids(all.Hits)) {
		t.Fatalf("pages %v\nall   %v", paged, ids(all.Hits))
	}
	if res := search(t, x, "ВТБ", Options{Offset: 25}); len(res.Hits) != 0 {
		t.Fatalf("past the end: %v", ids(res.Hits))
	}
}

func TestSearchPartialOnCap(t *testing.T) {
	x := openTest(t)
	docs := filler(30, 100)
	for i := range 40 {
		docs = append(docs, Doc{ID: uint64(i + 1), Title: "ВТБ", Text: "Китай", Time: now.Add(-time.Duration(i) * time.Hour)})
	}
	putAll(t, x, docs, nil)
	x.maxMatches = 40
	if res := search(t, x, "ВТБ", Options{Limit: 100}); res.Partial || res.Total != 40 {
		t.Fatalf("at the cap: partial %v total %d", res.Partial, res.Total)
	}
	x.maxMatches = 15
	res := search(t, x, "ВТБ", Options{Limit: 100})
	if !res.Partial || res.Total != 15 || len(res.Hits) != 15 {
		t.Fatalf("over the cap: partial %v total %d hits %d", res.Partial, res.Total, len(res.Hits))
	}
	// What is kept is the best, not the first found: the 15 newest.
	for _, h := range res.Hits {
		if h.ArticleID > 15 {
			t.Fatalf("kept article %d, not among the 15 best: %v", h.ArticleID, ids(res.Hits))
		}
	}
	// Matches caps at its limit.
	got, partial, err := x.Matches(context.Background(), parse(t, "ВТБ"), 10)
	if err != nil || !partial || len(got) != 10 {
		t.Fatalf("Matches limit 10: %d ids, partial %v, %v", len(got), partial, err)
	}
	got, partial, err = x.Matches(context.Background(), parse(t, "ВТБ"), 40)
	if err != nil || partial || len(got) != 40 {
		t.Fatalf("Matches limit 40: %d ids, partial %v, %v", len(got), partial, err)
	}
}

func TestSearchTimeout(t *testing.T) {
	x := openTest(t)
	var docs []Doc
	for i := range 2100 {
		docs = append(docs, Doc{ID: uint64(i + 1), Title: "ВТБ", Time: now.Add(-time.Duration(i) * time.Minute)})
	}
	putAll(t, x, docs, nil)
	q := parse(t, "ВТБ")

	// A search that runs out of time returns what it found by then. bleve
	// notices the deadline every 1024 matches; the first match here takes
	// longer than the whole timeout.
	slow := true
	x.onMatch = func() {
		if slow {
			slow = false
			time.Sleep(50 * time.Millisecond)
		}
	}
	res, err := x.Search(context.Background(), q, Options{Now: now, Limit: 5000, Timeout: 10 * time.Millisecond})
	x.onMatch = nil
	if err != nil {
		t.Fatal(err)
	}
	if !res.Partial || res.Total == 0 || res.Total >= 2100 {
		t.Fatalf("timed out: partial %v, total %d; want partial with some", res.Partial, res.Total)
	}
	t.Logf("cut off after %d of 2100", res.Total)

	// Nothing found in time: ErrTimeout.
	if _, err := x.Search(context.Background(), q, Options{Timeout: time.Nanosecond}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The caller giving up is its error, not a partial result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := x.Search(ctx, q, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, _, err := x.Matches(ctx, q, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Matches err = %v, want context.Canceled", err)
	}
	// And without a deadline it finds all.
	if res := search(t, x, "ВТБ", Options{Timeout: time.Minute}); res.Partial || res.Total != 2100 {
		t.Fatalf("partial %v total %d", res.Partial, res.Total)
	}
}

func TestSimilar(t *testing.T) {
	x := openTest(t)
	docs := filler(60, 100)
	docs = append(docs,
		Doc{ID: 1, StoryID: 1, Title: "ВТБ открывает ИИ-центр в Шанхае", Text: "ВТБ откроет в Шанхае центр искусственного интеллекта для китайских клиентов.", Time: now.Add(-3 * time.Hour)},
		Doc{ID: 2, StoryID: 2, Title: "ВТБ создаст центр искусственного интеллекта в Шанхае", Text: "Банк ВТБ намерен открыть в Шанхае исследовательский центр.", Time: now.Add(-2 * time.Hour)},
		Doc{ID: 3, StoryID: 3, Title: "Шанхайский ИИ-центр ВТБ", Text: "Центр искусственного интеллекта ВТБ в Шанхае начнёт работу весной.", Time: now.Add(-1 * time.Hour)},
		Doc{ID: 4, StoryID: 4, Title: "Сбербанк снизил ставки по вкладам", Text: "Сбербанк снизил ставки по рублёвым вкладам на полпроцента.", Time: now},
		Doc{ID: 5, StoryID: 5, Title: "Погода в Москве", Text: "В Москве ожидается снег и гололёд.", Time: now},
	)
	putAll(t, x, docs, nil)
	hits, err := x.Similar(context.Background(), 1, docs[60].Title, docs[60].Text, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ids(hits)); got != "[3 2]" {
		t.Fatalf("similar to story 1: %s, want [3 2] (newest first, story 1 excluded, unrelated left out)", got)
	}
	hits, err = x.Similar(context.Background(), 1, docs[60].Title, docs[60].Text, 1)
	if err != nil || len(hits) != 1 {
		t.Fatalf("limit 1: %v, %v", hits, err)
	}
	// Without an exclusion the story itself is the best match.
	hits, _ = x.Similar(context.Background(), 0, docs[60].Title, docs[60].Text, 3)
	if len(hits) != 3 {
		t.Fatalf("no exclusion: %v", ids(hits))
	}
	if hits, err := x.Similar(context.Background(), 0, "", "и в на", 3); err != nil || len(hits) != 0 {
		t.Fatalf("nothing distinctive: %v, %v", hits, err)
	}
}

func TestSuggest(t *testing.T) {
	x := openTest(t)
	docs := filler(40, 100)
	docs = append(docs,
		Doc{ID: 1, Title: "ВТБ открывает центр в Китае", Text: "Спорт и банки."},
		Doc{ID: 2, Title: "ВТБ и спорт", Text: "Китай"},
		Doc{ID: 3, Title: "Китай и ВТБ", Text: "Новости спорта"},
	)
	putAll(t, x, docs, nil)
	for _, c := range []struct{ q, want string }{
		{"ВТБ Китай зимбабве", "втб китай"}, // the rarest word (none has it) goes
		{"ВТБ Китай -спорт", "втб китай"},   // no word to drop that helps: the exclusion goes
		{"ВТБ зимбабве -спорт", ""},         // втб -спорт, зимбабве -спорт, втб зимбабве: all find nothing
		{"(ВТБ Китай зимбабве) OR марс", "(втб китай) OR марс"},
		{`"ВТБ Китай" Индия`, ""}, // nothing looser finds anything
		{"зимбабве", ""},          // one word: nothing to drop
		{"ВТБ -(Китай OR спорт) -центр", "втб -центр"},
	} {
		got := x.Suggest(parse(t, c.q))
		if got != c.want {
			t.Errorf("Suggest(%s) = %q, want %q", c.q, got, c.want)
			continue
		}
		if got != "" {
			if res := search(t, x, got, Options{}); res.Total == 0 {
				t.Errorf("Suggest(%s) = %q finds nothing", c.q, got)
			}
		}
	}
}

func TestPutReplacesAndDeletes(t *testing.T) {
	x := openTest(t)
	putAll(t, x, []Doc{{ID: 1, Title: "Китай"}, {ID: 2, Title: "Китай"}}, nil)
	if err := x.Put([]Doc{{ID: 1, Title: "Индия"}, {ID: 3, Title: "Китай"}}, []uint64{3, 2}); err != nil {
		t.Fatal(err)
	}
	got, _, err := x.Matches(context.Background(), parse(t, "Китай OR Индия"), 0)
	if err != nil || fmt.Sprint(got) != "[1]" {
		t.Fatalf("after replace and delete: %v, %v", got, err)
	}
	if got, _, _ := x.Matches(context.Background(), parse(t, "Китай"), 0); len(got) != 0 {
		t.Fatalf("old version still matches: %v", got)
	}
	if n := count(t, x); n != 1 {
		t.Fatalf("Count %d", n)
	}
	if err := x.Put(nil, nil); err != nil {
		t.Fatalf("empty Put: %v", err)
	}
}

// TestConcurrent puts and searches from several goroutines at once (run
// with -race).
func TestConcurrent(t *testing.T) {
	x := openTest(t)
	putAll(t, x, genDocs(300, 5), nil)
	q := parse(t, "Китай OR China")
	done := make(chan error, 4)
	for g := range 2 {
		go func() {
			for i := range 5 {
				docs := genDocs(50, uint64(10+g*10+i))
				for j := range docs {
					docs[j].ID += uint64(1000 * (g + 1))
				}
				if err := x.Put(docs, []uint64{uint64(i + 1)}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		go func() {
			for range 10 {
				if _, err := x.Search(context.Background(), q, Options{Now: now}); err != nil {
					done <- err
					return
				}
				if _, _, err := x.Matches(context.Background(), q, 0); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
