package jobs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"dozor/internal/embed"
	"dozor/internal/embed/embedfake"
	"dozor/storage"
)

// BenchmarkEmbedStage embeds 2,000 stored articles through the embed
// stage and the fake endpoint over loopback, and reports the requests and
// inputs per article (the target: one input per article, ever, many per
// request):
//
//	go test ./jobs -run '^$' -bench EmbedStage -benchtime 1x
func BenchmarkEmbedStage(b *testing.B) {
	const n = 2000
	for b.Loop() {
		b.StopTimer()
		st, err := storage.Open(filepath.Join(b.TempDir(), "dozor.db"), storage.Options{})
		if err != nil {
			b.Fatal(err)
		}
		st.EmbedBeforeFold(true)
		srv := embedfake.New(b)
		client, err := embed.New(embed.Config{BaseURL: srv.URL(), Model: srv.Model(), Logger: discard()})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		var arts []storage.NewArticle
		for i := range n {
			url := fmt.Sprintf("https://news%d.example/%d", i%40, i)
			arts = append(arts, foldItem(url, fmt.Sprintf("ВТБ и Сбербанк: новость %d", i),
				fmt.Sprintf("Банк ВТБ сообщил о сделке номер %d с партнёром в Шанхае.", i), now))
		}
		if _, err := st.SaveFetches([]storage.FetchResult{{Articles: arts}}); err != nil {
			b.Fatal(err)
		}
		e := &Embeds{Store: st, Embedder: client, Entities: embed.DefaultEntities(), Log: discard()}
		b.StartTimer()
		start := time.Now()
		for {
			k, err := e.Step(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		// A second look embeds nothing: one call per article, ever.
		if k, err := e.Step(context.Background()); err != nil || k != 0 {
			b.Fatalf("a second step took %d articles (%v)", k, err)
		}
		b.ReportMetric(float64(srv.Inputs())/n, "inputs/article")
		b.ReportMetric(float64(srv.Requests())/n, "requests/article")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "articles/s")
		if srv.Inputs() != n {
			b.Errorf("%d inputs for %d articles, want exactly one each", srv.Inputs(), n)
		}
		st.Close()
		b.StartTimer()
	}
}

// BenchmarkFoldCheck5000 is the cross-language check of one new article
// against the 5,000 stories of a busy fold window (1,024 dimensions, the
// entity rule on every close one). Target: well under 5 ms.
//
//	go test ./jobs -run '^$' -bench FoldCheck5000
func BenchmarkFoldCheck5000(b *testing.B) {
	const stories, dim = 5000, 1024
	r := rand.New(rand.NewPCG(1, 2))
	randVec := func() embed.Vector {
		f := make([]float32, dim)
		for i := range f {
			f[i] = float32(r.NormFloat64())
		}
		return embed.Quantize("m", f)
	}
	now := time.Now()
	x := newVecIndex(FoldWindow, "m")
	for i := range stories {
		x.add(uint64(i+1), now, randVec(), []string{"geo:china", fmt.Sprintf("bank%d", i%50)})
	}
	q := randVec()
	ents := []string{"bank7", "geo:china"}
	b.ResetTimer()
	for b.Loop() {
		if _, ok := x.find(q, ents, 0.8, now); ok {
			b.Fatal("a random vector matched")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/check")
}
