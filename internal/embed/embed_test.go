package embed_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"dozor/internal/embed"
	"dozor/internal/embed/embedfake"
)

// The client against the fake endpoint: real HTTP on loopback, go-openai's
// CreateEmbeddings, the summary client's retry rules.

func newClient(t *testing.T, srv *embedfake.Server, mod func(*embed.Config)) *embed.Client {
	t.Helper()
	cfg := embed.Config{BaseURL: srv.URL(), Model: srv.Model(), CallTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	c, err := embed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type calls struct {
	mu             sync.Mutex
	n, inputs, bad int
}

func (c *calls) EmbedCall(_ time.Duration, inputs, _ int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	c.inputs += inputs
	if err != nil {
		c.bad++
	}
}

func TestEmbedBatchesInOrder(t *testing.T) {
	srv := embedfake.New(t)
	obs := &calls{}
	c := newClient(t, srv, func(cfg *embed.Config) { cfg.BatchSize, cfg.Concurrency, cfg.Observe = 10, 2, obs })
	texts := make([]string, 95)
	for i := range texts {
		texts[i] = fmt.Sprintf("Новость номер %d о банке", i)
	}
	texts[7] = "   " // blank: not sent
	vs, err := c.Embed(context.Background(), embed.Passage, texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vs), len(texts))
	}
	if got := srv.Requests(); got != 10 {
		t.Errorf("%d requests for 94 inputs in batches of 10, want 10", got)
	}
	if got := srv.Inputs(); got != 94 {
		t.Errorf("server embedded %d inputs, want 94 (one per non-blank text)", got)
	}
	if m := srv.MaxInFlight(); m > 2 {
		t.Errorf("%d requests in flight, Concurrency is 2", m)
	}
	if obs.n != 10 || obs.inputs != 94 || obs.bad != 0 {
		t.Errorf("observer saw %d calls, %d inputs, %d failed; want 10, 94, 0", obs.n, obs.inputs, obs.bad)
	}
	if vs[7].Dim() != 0 {
		t.Errorf("a blank text got a vector of %d dimensions", vs[7].Dim())
	}
	// Each vector is its own text's, in order, up to quantisation.
	for _, i := range []int{0, 13, 50, 94} {
		if vs[i].Model != srv.Model() || vs[i].Dim() != srv.Dim() {
			t.Fatalf("vector %d: model %q, %d dims", i, vs[i].Model, vs[i].Dim())
		}
		want := srv.Cosine(texts[i], texts[(i+1)%len(texts)])
		if got := vs[i].Cosine(vs[(i+1)%len(texts)]); math.Abs(float64(got-want)) > 0.01 {
			t.Errorf("cosine of vectors %d and %d = %.3f, the server's %.3f", i, i+1, got, want)
		}
		if got := vs[i].Cosine(vs[i]); math.Abs(float64(got-1)) > 0.001 {
			t.Errorf("vector %d is not unit length: self-cosine %.4f", i, got)
		}
	}
}

func TestEmbedTranslationIsCloseSeedsAreNot(t *testing.T) {
	srv := embedfake.New(t)
	c := newClient(t, srv, nil)
	ru := embed.Input("ВТБ открыл представительство в Шанхае",
		"ВТБ открыл представительство в Шанхае, сообщила пресс-служба банка в понедельник. Глава ВТБ Андрей Костин заявил, что банк рассчитывает удвоить объём операций в Китае.", 0)
	en := embed.Input("VTB opens representative office in Shanghai",
		"VTB has opened a representative office in Shanghai, the bank's press service said on Monday. VTB head Andrey Kostin said the bank expects to double its operations in China.", 0)
	vs, err := c.Embed(context.Background(), embed.Passage, []string{ru, en})
	if err != nil {
		t.Fatal(err)
	}
	thr := embed.DefaultThreshold(srv.Model())
	if cos := vs[0].Cosine(vs[1]); cos < thr {
		t.Errorf("a report and its translation: cosine %.3f, below the threshold %.2f", cos, thr)
	}
}

func TestEmbedPrefixesForE5(t *testing.T) {
	srv := embedfake.New(t, embedfake.WithModel("multilingual-e5-base"))
	c := newClient(t, srv, nil)
	if _, err := c.Embed(context.Background(), embed.Passage, []string{"ВТБ в Китае"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Embed(context.Background(), embed.Query, []string{"VTB China"}); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 2 || got[0].Input[0] != "passage: ВТБ в Китае" || got[1].Input[0] != "query: VTB China" {
		t.Errorf("requests %+v, want the e5 prefixes", got)
	}
}

func TestEmbedRetriesOverloadHonouringRetryAfter(t *testing.T) {
	srv := embedfake.New(t)
	srv.FailNext(2, http.StatusServiceUnavailable)
	srv.SetRetryAfter(time.Second)
	c := newClient(t, srv, nil)
	start := time.Now()
	vs, err := c.Embed(context.Background(), embed.Passage, []string{"Сбербанк и Китай"})
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Dim() == 0 {
		t.Error("no vector after the retries")
	}
	if got := srv.Requests(); got != 3 {
		t.Errorf("%d requests, want 2 refused and 1 answered", got)
	}
	// Two waits of at least the Retry-After each.
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("answered after %v: Retry-After of 1s was not honoured twice", d)
	}
}

func TestEmbedDoesNotRetryABadRequest(t *testing.T) {
	srv := embedfake.New(t)
	c := newClient(t, srv, func(cfg *embed.Config) { cfg.Model = "no-such-model" })
	_, err := c.Embed(context.Background(), embed.Passage, []string{"ВТБ"})
	if err == nil {
		t.Fatal("a wrong model name was accepted")
	}
	if srv.Requests() != 1 {
		t.Errorf("%d requests for a 400, want 1 (not retried)", srv.Requests())
	}
	if !strings.Contains(err.Error(), "400") {
		t.Errorf("error %q does not name the status", err)
	}
}

func TestEmbedDownEndsAtTheDeadline(t *testing.T) {
	srv := embedfake.New(t)
	srv.SetDown(true)
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := c.Embed(ctx, embed.Passage, []string{"ВТБ"})
	if err == nil {
		t.Fatal("embedded while the endpoint is down")
	}
	if ctx.Err() == nil && !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %q: want a 503 given up at the deadline", err)
	}
	if srv.Requests() < 1 {
		t.Error("no request was made")
	}
}

func TestEmbedSlowReplyTimesOut(t *testing.T) {
	srv := embedfake.New(t)
	srv.SetDelay(3 * time.Second)
	c := newClient(t, srv, func(cfg *embed.Config) { cfg.CallTimeout, cfg.MaxRetries = 200*time.Millisecond, -1 })
	_, err := c.Embed(context.Background(), embed.Passage, []string{"ВТБ"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the call timeout", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []embed.Config{
		{Model: "bge-m3"}, // no URL, no key
		{BaseURL: "ftp://host/v1", Model: "bge-m3"},        // not http
		{BaseURL: "http://127.0.0.1:11434/v1", Model: " "}, // no model
	} {
		if _, err := embed.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
