package semantic_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dozor/internal/embed"
	"dozor/internal/embed/embedfake"
	"dozor/internal/query"
	"dozor/internal/search"
	"dozor/internal/semantic"
	"dozor/storage"
)

// A real store and a real search index in t.TempDir(), vectors from the
// fake endpoint over loopback.
type env struct {
	t     *testing.T
	store *storage.Store
	index *search.Index
	srv   *embedfake.Server
	emb   *embed.Client
	ents  *embed.Entities
	s     *semantic.Searcher
	now   time.Time
	seq   int
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	st, err := storage.Open(filepath.Join(dir, "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	x, _, err := search.Open(filepath.Join(dir, "dozor.db.search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	srv := embedfake.New(t)
	emb, err := embed.New(embed.Config{BaseURL: srv.URL(), Model: srv.Model(), MaxRetries: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, index: x, srv: srv, emb: emb, ents: embed.DefaultEntities(), now: time.Now().Truncate(time.Second)}
	e.s = &semantic.Searcher{Index: x, Embedder: emb, Store: st, QueryMin: 0.3, Now: func() time.Time { return e.now }}
	return e
}

// story stores an article as a story of its own, embedded and indexed as
// the pipeline would, and returns the story id.
func (e *env) story(title, text, lang string, age time.Duration) uint64 {
	e.t.Helper()
	e.seq++
	url := fmt.Sprintf("https://news%d.example/a", e.seq)
	when := e.now.Add(-age)
	res, err := e.store.SaveFetches([]storage.FetchResult{{Articles: []storage.NewArticle{{
		Article: storage.Article{Key: url, URL: url, Title: title, Text: text, Lang: lang, Source: "S",
			Published: when, Fetched: when},
	}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	a := res[0][0]
	in := embed.Input(title, text, 0)
	vs, err := e.emb.Embed(context.Background(), embed.Passage, []string{in})
	if err != nil {
		e.t.Fatal(err)
	}
	vec, _ := vs[0].MarshalBinary()
	var storyID uint64
	if _, err := e.store.FoldBatch(10, when, func(tx *storage.FoldTx, j storage.FoldJob) error {
		st, err := tx.NewStory(&j.Article)
		if err != nil {
			return err
		}
		storyID = st.ID
		return tx.PutStoryVector(st.ID, vec, e.ents.Of(in))
	}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.index.Put([]search.Doc{{ID: a.ID, StoryID: storyID, Title: title, Text: text, Site: url, Lang: lang, Time: when}}, nil); err != nil {
		e.t.Fatal(err)
	}
	return storyID
}

func (e *env) search(s interface {
	Search(context.Context, *query.Query, search.Options) (search.Result, error)
}, text string) []uint64 {
	e.t.Helper()
	q, err := query.ParseSearch(text, e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := s.Search(context.Background(), q, search.Options{Limit: 10, Now: e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []uint64
	for _, h := range res.Hits {
		ids = append(ids, h.StoryID)
	}
	return ids
}

const (
	vtbEN = "VTB has opened a representative office in Shanghai, the bank's press service said on Monday. " +
		"VTB head Andrey Kostin said the bank expects to double its operations in China."
	gasEN = "Gazprom cut its gas output in the first half of the year, the company said."
)

func TestRussianQueryFindsAnEnglishStory(t *testing.T) {
	e := newEnv(t)
	vtb := e.story("VTB opens representative office in Shanghai", vtbEN, "en", 3*time.Hour)
	e.story("Gazprom cuts output", gasEN, "en", 3*time.Hour)
	const q = "ВТБ открыл офис в Шанхае"
	if got := e.search(e.index, q); len(got) != 0 {
		t.Fatalf("the words alone found %v: the test needs a query they miss", got)
	}
	if got := e.search(e.s, q); !slices.Equal(got, []uint64{vtb}) {
		t.Errorf("semantic search for %q found %v, want the English VTB story %d alone", q, got, vtb)
	}
	// A filter the meaning cannot check adds nothing.
	if got := e.search(e.s, q+" site:news1.example"); len(got) != 0 {
		t.Errorf("a site: query got %v from the meaning alone", got)
	}
	if got := e.search(e.s, q+" since:1h"); len(got) != 0 {
		t.Errorf("since:1h found %v, published an hour and more ago", got)
	}
}

func TestRerankPutsTheCloserStoryFirst(t *testing.T) {
	e := newEnv(t)
	// Both match "банк"; the second is about what is asked.
	other := e.story("Банк снизил ставки", "Банк снизил ставки по вкладам. Банк объявил об этом в среду.", "ru", time.Hour)
	vtb := e.story("ВТБ открыл офис в Шанхае", "Банк ВТБ открыл офис в Шанхае. Глава ВТБ Андрей Костин заявил, что банк удвоит операции в Китае.", "ru", 2*time.Hour)
	words := e.search(e.index, "банк")
	if len(words) != 2 || words[0] != other {
		t.Fatalf("by words %v, want the rate story %d first (the test needs that)", words, other)
	}
	if got := e.search(e.s, "банк ВТБ Шанхай"); len(got) == 0 || got[0] != vtb {
		t.Errorf("re-ranked %v, want the VTB story %d first", got, vtb)
	}
}

func TestEndpointDownSearchesByWords(t *testing.T) {
	e := newEnv(t)
	e.story("VTB opens representative office in Shanghai", vtbEN, "en", time.Hour)
	e.story("Gazprom cuts output", gasEN, "en", time.Hour)
	e.srv.SetDown(true)
	for _, q := range []string{"Gazprom", "ВТБ Шанхай", "office OR output"} {
		if got, want := e.search(e.s, q), e.search(e.index, q); !slices.Equal(got, want) {
			t.Errorf("%q with the endpoint down: %v, the index alone %v", q, got, want)
		}
	}
}

func TestSimilarAcrossLanguages(t *testing.T) {
	e := newEnv(t)
	ru := e.story("ВТБ открыл представительство в Шанхае",
		"ВТБ открыл представительство в Шанхае, сообщила пресс-служба банка в понедельник. Глава ВТБ Андрей Костин заявил, что банк рассчитывает удвоить объём операций в Китае.", "ru", 2*time.Hour)
	en := e.story("VTB opens representative office in Shanghai", vtbEN, "en", time.Hour)
	e.story("Gazprom cuts output", gasEN, "en", time.Hour)
	hits, err := e.s.Similar(context.Background(), ru, "", "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].StoryID != en {
		t.Errorf("Similar(%d) = %+v, want the English report %d alone", ru, hits, en)
	}
}
