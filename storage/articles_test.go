package storage

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

func TestSaveFetches(t *testing.T) {
	s, _ := openTemp(t)
	a, _, _ := s.AddSource(NewSource{URL: "https://a.example/rss", Name: "A"}, t0)
	b, _, _ := s.AddSource(NewSource{URL: "https://b.example/rss", Name: "B"}, t0)

	urgent, bulk, folded, short := newArt(1, PageUrgent), newArt(2, PageBulk), newArt(3, PageNone), newArt(4, PageNone)
	short.Sig, short.HasSig = sigOf(99), false // too short for a signature
	urgent.StoryID = 42                        // whatever the caller says, the fold stage places it
	dup := newArt(1, PageBulk)                 // same key as urgent, in the same batch
	noKey := newArt(5, PageBulk)
	noKey.Key = ""

	commits := s.Commits()
	res, err := s.SaveFetches([]FetchResult{
		{SourceID: a.ID, Articles: []NewArticle{urgent, bulk, dup}, Update: func(src *Source) { src.ETag = `"a1"`; src.LastSuccess = t0 }},
		{SourceID: b.ID, Articles: []NewArticle{folded, short, noKey}, Update: func(src *Source) { src.ETag = `"b1"` }},
		{SourceID: b.ID + 100, Articles: nil, Update: func(src *Source) { t.Error("update applied to a source that does not exist") }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Commits() - commits; got != 1 {
		t.Errorf("SaveFetches took %d commits, want 1", got)
	}
	if len(res) != 3 || len(res[0]) != 2 || len(res[1]) != 2 || len(res[2]) != 0 {
		t.Fatalf("saved %d results: %+v", len(res), res)
	}
	stored := append(slices.Clone(res[0]), res[1]...)
	wantKeys := []string{urgent.Key, bulk.Key, folded.Key, short.Key}
	var ids []uint64
	for i, art := range stored {
		if art.Key != wantKeys[i] || art.ID == 0 || art.StoryID != 0 {
			t.Errorf("stored[%d] = key %s id %d story %d; want key %s, an id, no story", i, art.Key, art.ID, art.StoryID, wantKeys[i])
		}
		got, err := s.Article(art.ID)
		if err != nil || got.Key != art.Key || got.Title != art.Title || got.StoryID != 0 || !got.Fetched.Equal(t0) {
			t.Errorf("Article(%d) = %+v, %v", art.ID, got, err)
		}
		ids = append(ids, art.ID)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("ids %v should be distinct and increasing", ids)
		}
	}

	for _, tt := range []struct {
		src   Source
		etag  string
		items int
	}{{a, `"a1"`, 2}, {b, `"b1"`, 2}} {
		got, _ := s.Source(tt.src.ID)
		if got.ETag != tt.etag || got.Items != tt.items {
			t.Errorf("source %s: etag %s, items %d; want %s, %d", got.Name, got.ETag, got.Items, tt.etag, tt.items)
		}
	}
	if got, _ := s.Source(a.ID); !got.LastSuccess.Equal(t0) {
		t.Errorf("source A state not saved with the articles: %+v", got)
	}

	// Each article is in the queue it names: page lanes with the host,
	// the fold queue with its signature.
	if got, _ := s.QueuedPages(PageUrgent, 0); !slices.Equal(got, []PageJob{{ids[0], PageUrgent, "news1.example"}}) {
		t.Errorf("urgent lane = %+v", got)
	}
	if got, _ := s.QueuedPages(PageBulk, 0); !slices.Equal(got, []PageJob{{ids[1], PageBulk, "news2.example"}}) {
		t.Errorf("bulk lane = %+v", got)
	}
	var jobs []FoldJob
	foldAll(t, s, t0, func(_ *FoldTx, j FoldJob) error { jobs = append(jobs, j); return nil })
	if len(jobs) != 2 {
		t.Fatalf("fold jobs = %+v, want articles %d and %d", jobs, ids[2], ids[3])
	}
	if j := jobs[0]; j.Article.ID != ids[2] || !j.HasSig || j.Sig != folded.Sig {
		t.Errorf("fold job with a signature = id %d, has %v, sig ok %v", j.Article.ID, j.HasSig, j.Sig == folded.Sig)
	}
	if j := jobs[1]; j.Article.ID != ids[3] || j.HasSig {
		t.Errorf("fold job without a signature = id %d, has %v", j.Article.ID, j.HasSig)
	}

	// The same keys again store nothing; the state change still applies.
	res, err = s.SaveFetches([]FetchResult{{SourceID: a.ID, Articles: []NewArticle{urgent, bulk, folded},
		Update: func(src *Source) { src.ETag = `"a2"` }}})
	if err != nil || len(res) != 1 || len(res[0]) != 0 {
		t.Fatalf("re-save: %+v %v", res, err)
	}
	if got, _ := s.Source(a.ID); got.ETag != `"a2"` || got.Items != 2 {
		t.Errorf("source A after re-save: etag %s, items %d; want \"a2\", 2", got.ETag, got.Items)
	}
	if c := count(t, s); c.Articles != 4 || c.PagesUrgent != 1 || c.PagesBulk != 1 || c.Fold != 0 {
		t.Errorf("counts after re-save = %+v", c)
	}
}

// The articles and the source state that produced them commit together.
func TestSaveFetchesIsOneTransaction(t *testing.T) {
	s, _ := openTemp(t)
	src, _, _ := s.AddSource(NewSource{URL: "https://a.example/rss"}, t0)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		s.SaveFetches([]FetchResult{{SourceID: src.ID, Articles: []NewArticle{newArt(1, PageUrgent), newArt(2, PageNone)},
			Update: func(src *Source) { src.ETag = `"v1"`; panic("crash while saving") }}})
	}()
	if c := count(t, s); c.Articles != 0 || c.PagesUrgent != 0 || c.Fold != 0 {
		t.Errorf("articles stored without their source state: %+v", c)
	}
	if got, _ := s.Source(src.ID); got.ETag != "" || got.Items != 0 {
		t.Errorf("source state stored without its articles: %+v", got)
	}
	if known, _ := s.KnownKeys([]string{newArt(1, PageNone).Key}); len(known) != 0 {
		t.Errorf("key of a rolled back article known: %v", known)
	}
}

func TestSaveFetchesForRemovedSource(t *testing.T) {
	s, _ := openTemp(t)
	src, _, _ := s.AddSource(NewSource{URL: "https://a.example/rss"}, t0)
	if err := s.RemoveSource(src.ID); err != nil {
		t.Fatal(err)
	}
	called := false
	res, err := s.SaveFetches([]FetchResult{{SourceID: src.ID, Articles: []NewArticle{newArt(1, PageBulk)},
		Update: func(*Source) { called = true }}})
	if err != nil || len(res[0]) != 1 {
		t.Fatalf("save for a source removed during its fetch: %+v, %v", res, err)
	}
	if called {
		t.Error("Update called for a removed source")
	}
	if c := count(t, s); c.Sources != 0 || c.Articles != 1 {
		t.Errorf("counts = %+v", c)
	}
}

func TestKnownKeys(t *testing.T) {
	s, _ := openTemp(t)
	save(t, s, 0, newArt(1, PageBulk), newArt(2, PageNone))
	keys := []string{newArt(1, PageBulk).Key, newArt(2, PageBulk).Key, newArt(3, PageBulk).Key, ""}
	got, err := s.KnownKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{keys[0]: true, keys[1]: true}; !maps.Equal(got, want) {
		t.Errorf("KnownKeys = %v, want %v", got, want)
	}
}

func TestArticlesSinceNewestFirst(t *testing.T) {
	s, _ := openTemp(t)
	var want []uint64
	for i := range 5 {
		na := newArt(i, PageBulk)
		na.Published, na.Fetched = time.Time{}, t0.Add(time.Duration(i)*time.Hour)
		want = append(want, save(t, s, 0, na)[0].ID)
	}
	slices.Reverse(want) // newest first

	tests := []struct {
		name  string
		since time.Time
		stop  int // fn returns false after this many; 0 = never
		want  []uint64
	}{
		{"all", t0.Add(-time.Hour), 0, want},
		{"since is inclusive", t0.Add(2 * time.Hour), 0, want[:3]},
		{"none", t0.Add(5 * time.Hour), 0, nil},
		{"fn stops", t0, 2, want[:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			err := s.ArticlesSince(tt.since, func(a *Article) bool {
				got = append(got, a.ID)
				return tt.stop == 0 || len(got) < tt.stop
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ArticlesSince = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestArticleTimeAndBestText(t *testing.T) {
	tests := []struct {
		name     string
		a        Article
		wantTime time.Time
		wantText string // BestText
	}{
		{"published", Article{Published: t0, Fetched: t0.Add(time.Hour), Text: "feed"}, t0, "feed"},
		{"no published time", Article{Fetched: t0, Text: "feed", FullText: "the full page"}, t0, "the full page"},
		{"published in the future", Article{Published: t0.Add(time.Hour), Fetched: t0, Text: "longer feed text", FullText: "page"}, t0, "longer feed text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Time(); !got.Equal(tt.wantTime) {
				t.Errorf("Time = %v, want %v", got, tt.wantTime)
			}
			if got := tt.a.BestText(); got != tt.wantText {
				t.Errorf("BestText = %q, want %q", got, tt.wantText)
			}
		})
	}
}

func TestArticleNotFound(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.Article(7); !errors.Is(err, ErrNotFound) {
		t.Errorf("Article(7) = %v, want ErrNotFound", err)
	}
}
