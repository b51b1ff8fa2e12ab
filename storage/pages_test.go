package storage

import (
	"slices"
	"testing"
	"time"
)

func pageIDs(t *testing.T, s *Store, lane PageLane, after uint64) []uint64 {
	t.Helper()
	jobs, err := s.QueuedPages(lane, after)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, j := range jobs {
		if j.Lane != lane {
			t.Errorf("job %d of lane %c says lane %c", j.ArticleID, lane, j.Lane)
		}
		ids = append(ids, j.ArticleID)
	}
	return ids
}

func TestQueuedPages(t *testing.T) {
	s, _ := openTemp(t)
	lanes := []PageLane{PageBulk, PageUrgent, PageNone, PageBulk, PageUrgent, PageBulk}
	var byLane = map[PageLane][]uint64{}
	for i, lane := range lanes {
		a := save(t, s, 0, newArt(i+1, lane))[0]
		byLane[lane] = append(byLane[lane], a.ID)
	}
	bulk, urgent := byLane[PageBulk], byLane[PageUrgent]

	tests := []struct {
		name  string
		lane  PageLane
		after uint64
		want  []uint64
	}{
		{"bulk from the start", PageBulk, 0, bulk},
		{"urgent from the start", PageUrgent, 0, urgent},
		{"bulk after the first", PageBulk, bulk[0], bulk[1:]},
		{"bulk after an id of another lane", PageBulk, urgent[0], bulk[1:]},
		{"urgent after the last", PageUrgent, urgent[1], nil},
		{"urgent after everything", PageUrgent, 1000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pageIDs(t, s, tt.lane, tt.after); !slices.Equal(got, tt.want) {
				t.Errorf("QueuedPages(%c, %d) = %v, want %v", tt.lane, tt.after, got, tt.want)
			}
		})
	}

	jobs, _ := s.QueuedPages(PageUrgent, 0)
	for _, j := range jobs {
		a, _ := s.Article(j.ArticleID)
		if j.Host != HostOf(a.URL) || j.Host == "" {
			t.Errorf("job %d host = %q, want %q", j.ArticleID, j.Host, HostOf(a.URL))
		}
	}
}

func TestSavePages(t *testing.T) {
	matched, later := t0.Add(-time.Hour), t0.Add(time.Hour)
	tests := []struct {
		name       string
		before     Article // what the article had before its page
		result     PageResult
		want       Article // FullText, Topics, Matched after
		wantHasSig bool
	}{
		{
			name:       "page text and a first topic",
			result:     PageResult{FullText: "полный текст", Topics: []string{"vtb"}, Matched: later, Sig: sigOf(7), HasSig: true},
			want:       Article{FullText: "полный текст", Topics: []string{"vtb"}, Matched: later},
			wantHasSig: true,
		},
		{
			name:       "page gave nothing better: no full text",
			before:     Article{Topics: []string{"vtb"}},
			result:     PageResult{Topics: []string{"vtb"}, Sig: sigOf(7), HasSig: true},
			want:       Article{Topics: []string{"vtb"}},
			wantHasSig: true,
		},
		{
			name:   "matched before keeps its time and gains topics",
			before: Article{Topics: []string{"vtb"}, Matched: matched},
			result: PageResult{FullText: "текст", Topics: []string{"vtb", "china-ai"}, Matched: later},
			want:   Article{FullText: "текст", Topics: []string{"vtb", "china-ai"}, Matched: matched},
		},
		{
			name:   "topics are what the page stage says now",
			before: Article{Topics: []string{"vtb", "china-ai"}, Matched: matched},
			result: PageResult{Topics: []string{"china-ai"}},
			want:   Article{Topics: []string{"china-ai"}, Matched: matched},
		},
	}
	for _, tt := range tests {
		for _, lane := range []PageLane{PageUrgent, PageBulk} {
			t.Run(tt.name+"/"+string(rune(lane)), func(t *testing.T) {
				s, _ := openTemp(t)
				na := newArt(1, lane)
				na.Topics, na.Matched = tt.before.Topics, tt.before.Matched
				id := save(t, s, 0, na)[0].ID
				r := tt.result
				r.ArticleID, r.Lane = id, lane
				commits := s.Commits()
				if err := s.SavePages([]PageResult{r}); err != nil {
					t.Fatal(err)
				}
				if got := s.Commits() - commits; got != 1 {
					t.Errorf("SavePages took %d commits", got)
				}
				a, err := s.Article(id)
				if err != nil {
					t.Fatal(err)
				}
				if a.FullText != tt.want.FullText || !slices.Equal(a.Topics, tt.want.Topics) || !a.Matched.Equal(tt.want.Matched) {
					t.Errorf("article: full text %q, topics %v, matched %v; want %q, %v, %v",
						a.FullText, a.Topics, a.Matched, tt.want.FullText, tt.want.Topics, tt.want.Matched)
				}
				if a.Text != na.Text || a.Title != na.Title || a.StoryID != 0 {
					t.Errorf("SavePages changed more than it should: %+v", a)
				}
				if got := pageIDs(t, s, lane, 0); len(got) != 0 {
					t.Errorf("still queued for its page: %v", got)
				}
				var jobs []FoldJob
				foldAll(t, s, t0, func(_ *FoldTx, j FoldJob) error { jobs = append(jobs, j); return nil })
				if len(jobs) != 1 || jobs[0].Article.ID != id {
					t.Fatalf("fold jobs = %+v, want article %d", jobs, id)
				}
				if j := jobs[0]; j.HasSig != tt.wantHasSig || (j.HasSig && j.Sig != r.Sig) {
					t.Errorf("fold job has sig %v (matches %v), want %v", j.HasSig, j.Sig == r.Sig, tt.wantHasSig)
				}
				if j := jobs[0]; !slices.Equal(j.Article.Topics, tt.want.Topics) || !j.Article.Matched.Equal(tt.want.Matched) || j.Article.Title != na.Title {
					t.Errorf("fold job carries a stale article: %+v", j.Article)
				}
				if text, _ := s.FullText(id); text != tt.want.FullText {
					t.Errorf("FullText = %q, want %q", text, tt.want.FullText)
				}
			})
		}
	}
}

func TestSavePagesBatchIsOneTransaction(t *testing.T) {
	s, _ := openTemp(t)
	var results []PageResult
	for i, lane := range []PageLane{PageUrgent, PageBulk, PageBulk, PageUrgent} {
		a := save(t, s, 0, newArt(i+1, lane))[0]
		results = append(results, PageResult{ArticleID: a.ID, Lane: lane, FullText: "страница", Sig: sigOf(uint32(i)), HasSig: true})
	}
	commits := s.Commits()
	if err := s.SavePages(results); err != nil {
		t.Fatal(err)
	}
	if got := s.Commits() - commits; got != 1 {
		t.Errorf("a batch of %d took %d commits, want 1", len(results), got)
	}
	if c := count(t, s); c.PagesUrgent != 0 || c.PagesBulk != 0 || c.Fold != 4 {
		t.Errorf("counts = %+v", c)
	}
	var order []uint64
	foldAll(t, s, t0, func(_ *FoldTx, j FoldJob) error { order = append(order, j.Article.ID); return nil })
	if !slices.IsSorted(order) || len(order) != 4 {
		t.Errorf("fold order = %v, want the four articles oldest first", order)
	}
}

// A result for an article no longer queued, saved once before a crash or
// for another lane, changes nothing and queues nothing.
func TestSavePagesSkipsArticlesNoLongerQueued(t *testing.T) {
	s, _ := openTemp(t)
	a := save(t, s, 0, newArt(1, PageUrgent))[0]
	b := save(t, s, 0, newArt(2, PageBulk))[0]
	first := PageResult{ArticleID: a.ID, Lane: PageUrgent, FullText: "первый", Topics: []string{"vtb"}, Matched: t0, Sig: sigOf(1), HasSig: true}
	if err := s.SavePages([]PageResult{first}); err != nil {
		t.Fatal(err)
	}
	if n := foldAll(t, s, t0, func(*FoldTx, FoldJob) error { return nil }); n != 1 {
		t.Fatalf("folded %d, want 1", n)
	}

	again := []PageResult{
		{ArticleID: a.ID, Lane: PageUrgent, FullText: "второй", Topics: []string{"sber"}, Matched: t0.Add(time.Hour), Sig: sigOf(2), HasSig: true},
		{ArticleID: b.ID, Lane: PageUrgent, FullText: "не та очередь"}, // queued in the bulk lane
		{ArticleID: 999, Lane: PageBulk, FullText: "нет такой"},
	}
	if err := s.SavePages(again); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Article(a.ID); got.FullText != "первый" || !slices.Equal(got.Topics, []string{"vtb"}) || !got.Matched.Equal(t0) {
		t.Errorf("a repeated result changed the article: %+v", got)
	}
	if got, _ := s.Article(b.ID); got.FullText != "" {
		t.Errorf("a result for another lane changed the article: %+v", got)
	}
	if got := pageIDs(t, s, PageBulk, 0); !slices.Equal(got, []uint64{b.ID}) {
		t.Errorf("bulk lane = %v, want %d still queued", got, b.ID)
	}
	if c := count(t, s); c.Fold != 0 || c.Articles != 2 {
		t.Errorf("counts = %+v, want nothing queued for folding", c)
	}
}

func TestHostOf(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://example.com/a", "example.com"},
		{"https://News.Example.COM:8443/a?b=c", "news.example.com"},
		{"http://[::1]:8080/x", "::1"},
		{"/relative/path", ""},
		{"", ""},
		{"http://%zz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if got := HostOf(tt.url); got != tt.want {
				t.Errorf("HostOf(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}
