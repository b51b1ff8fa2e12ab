package summary

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// BenchmarkSummarize measures the whole summarise step — prompt rendering,
// request, reply parsing and cleaning — against a fake that answers at once.
func BenchmarkSummarize(b *testing.B) {
	f := &fakeLLM{t: b, prefix: "/v1", key: "sk-test", model: "test-model",
		script: []step{okJSON("ВТБ рассматривает создание ИИ-центра в Китае вместе с T1 и Huawei.", "Офис в Шанхае", "Доступ к вычислительным мощностям")}}
	srv := newServer(f)
	defer srv.Close()
	cfg := f.config()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := NewLLM(cfg)
	if err != nil {
		b.Fatal(err)
	}
	s := &Summarizer{LLM: l, Logger: cfg.Logger}
	a := testArticle()
	a.Text = seed(b, "vtb-ai-centre-china.ru.txt")
	b.ReportAllocs()
	for b.Loop() {
		if got := s.Summarize(context.Background(), a); got.Extractive {
			b.Fatal("fell back to extractive")
		}
		f.mu.Lock()
		f.reqs = f.reqs[:0]
		f.mu.Unlock()
	}
}

func BenchmarkExtractive(b *testing.B) {
	a := Article{Lang: "ru", Text: seed(b, "vtb-ai-centre-china.ru.txt")}
	b.ReportAllocs()
	for b.Loop() {
		Extractive(a, 3)
	}
}
