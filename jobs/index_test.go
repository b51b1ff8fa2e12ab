package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"dozor/internal/query"
	"dozor/internal/search"
	"dozor/jobs"
	"dozor/storage"
)

// failingIndex refuses the first puts, as a crash between the bbolt write
// and the index write would leave things.
type failingIndex struct {
	jobs.SearchIndex
	fail int
}

func (f *failingIndex) Put(docs []search.Doc, deletes []uint64) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("disk full")
	}
	return f.SearchIndex.Put(docs, deletes)
}

func openIndex(t *testing.T, path string) *search.Index {
	t.Helper()
	x, _, err := search.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func storeArticles(t *testing.T, st *storage.Store, n int, title string) {
	t.Helper()
	src, _, err := st.AddSource(storage.NewSource{URL: "https://www.rbc.ru/rss"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var arts []storage.NewArticle
	for i := range n {
		link := fmt.Sprintf("https://www.rbc.ru/finances/%s/%d.html", title, i)
		arts = append(arts, storage.NewArticle{Article: storage.Article{
			Key: link, URL: link, Title: fmt.Sprintf("%s %d: ВТБ открывает центр в Китае", title, i), SourceID: src.ID,
			Text: "Банк ВТБ рассматривает создание центра искусственного интеллекта.", Published: time.Now(), Fetched: time.Now(),
		}, Page: storage.PageNone})
	}
	if _, err := st.SaveFetches([]storage.FetchResult{{SourceID: src.ID, Articles: arts}}); err != nil {
		t.Fatal(err)
	}
}

func searchCount(t *testing.T, x *search.Index, q string) int {
	t.Helper()
	pq, err := query.ParseSearch(q, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := x.Matches(context.Background(), pq, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(ids)
}

func TestIndexStageLosesNothingBetweenStoreAndIndex(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open(filepath.Join(dir, "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x := openIndex(t, filepath.Join(dir, "dozor.db.search"))
	storeArticles(t, st, 3, "первая")

	// The index write fails: the articles stay queued.
	broken := &jobs.Indexer{Store: st, Index: &failingIndex{SearchIndex: x, fail: 1}}
	if _, err := broken.Step(); err == nil {
		t.Fatal("a failed index write was not reported")
	}
	if n := st.IndexQueueLen(); n != 3 {
		t.Fatalf("%d articles queued after the failed write, want 3", n)
	}
	// A crash here: the process goes, the index is reopened from disk.
	x.Close()
	x = openIndex(t, filepath.Join(dir, "dozor.db.search"))
	defer x.Close()
	if n := searchCount(t, x, "первая"); n != 0 {
		t.Fatalf("%d articles searchable before the catch-up", n)
	}
	ix := &jobs.Indexer{Store: st, Index: x}
	if n, err := ix.Step(); err != nil || n != 3 {
		t.Fatalf("catch-up indexed %d (%v), want 3", n, err)
	}
	if n := st.IndexQueueLen(); n != 0 {
		t.Errorf("%d left queued", n)
	}
	if n := searchCount(t, x, "первая ВТБ Китай"); n != 3 {
		t.Errorf("%d of 3 articles searchable after the catch-up", n)
	}
}

func TestIndexStageKeepsUp(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open(filepath.Join(dir, "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x := openIndex(t, filepath.Join(dir, "dozor.db.search"))
	defer x.Close()
	wake := jobs.NewSignal()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&jobs.Indexer{Store: st, Index: x, Wake: wake}).Run(ctx) }()
	defer func() { cancel(); <-done }()

	storeArticles(t, st, 1200, "свежая")
	stored := time.Now()
	wake.Notify()
	// The bound is 10 s from storing to searchable; the deadline
	// only ends a broken run.
	for searchCount(t, x, "свежая") < 1200 {
		if time.Since(stored) > 10*time.Second {
			t.Fatalf("%d of 1,200 articles searchable 10 s after they were stored", searchCount(t, x, "свежая"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
