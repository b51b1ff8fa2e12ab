package search

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dozor/internal/query"
)

// benchDocs are article-sized: a title of up to 12 words and a text of
// 100–400 words, about 2 KB of text.
func benchDocs(n int, from uint64) []Doc {
	r := rand.New(rand.NewPCG(from, 42))
	docs := genDocs(n, from)
	for i := range docs {
		docs[i].ID = from + uint64(i)
		docs[i].Title = sentence(r, 4+r.IntN(8), i%2)
		var b strings.Builder
		for range 2 + r.IntN(6) {
			b.WriteString(sentence(r, 50, i%2))
			b.WriteString(".\n")
		}
		docs[i].Text = b.String()
		docs[i].StoryID = uint64(1 + r.IntN(n/3+1))
	}
	return docs
}

// BenchmarkPut indexes article-sized documents in batches of 500 (Put
// returns once a batch is persisted) and reports documents per second:
//
//	go test -run '^$' -bench BenchmarkPut -benchtime 20x ./internal/search/
func BenchmarkPut(b *testing.B) {
	x, _, err := Open(filepath.Join(b.TempDir(), "index"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	const batch = 500
	docs := benchDocs(batch*8, 1)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		k := i % 8
		part := docs[k*batch : (k+1)*batch]
		for j := range part {
			part[j].ID = uint64(i*batch + j + 1) // new documents each time
		}
		if err := x.Put(part, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "docs/s")
}

// BenchmarkSearch runs a mix of queries over 20,000 article-sized
// documents, ranked and folded, a page of 10:
//
//	go test -run '^$' -bench BenchmarkSearch -benchtime 200x ./internal/search/
func BenchmarkSearch(b *testing.B) {
	x, _, err := Open(filepath.Join(b.TempDir(), "index"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	docs := benchDocs(20000, 1)
	for i := 0; i < len(docs); i += 500 {
		if err := x.Put(docs[i:i+500], nil); err != nil {
			b.Fatal(err)
		}
	}
	qs := []string{
		"ВТБ Китай ИИ",
		"(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)",
		`"искусственный интеллект" lang:ru`,
		"Sberbank China -VTB",
		"site:finextra.com (Russia OR Russian)",
		"банк -спорт since:2026-02-01",
	}
	parsed := make([]*query.Query, len(qs))
	for i, s := range qs {
		parsed[i] = parse(b, s)
	}
	matched := 0
	b.ResetTimer()
	for i := range b.N {
		res, err := x.Search(context.Background(), parsed[i%len(qs)], Options{Now: now, Timeout: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		matched += res.Total
	}
	b.ReportMetric(float64(matched)/float64(b.N), "stories/op")
}
