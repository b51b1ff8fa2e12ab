package jobs

import (
	"slices"
	"testing"
	"time"

	"dozor/internal/embed"
	"dozor/internal/embed/embedfake"
	"dozor/internal/fetch"
	"dozor/internal/summary"
	"dozor/storage"
)

// The cross-language fold: the embed stage against the fake endpoint (real
// HTTP on loopback), the fold stage deciding on vectors and entities.

// embedHarness is a harness whose pipeline embeds through srv, waiting at
// most wait for a vector before folding by words.
func embedHarness(t *testing.T, srv *embedfake.Server, wait time.Duration) *harness {
	h := newHarness(t)
	h.p = h.embedPipeline(srv, wait)
	h.w = h.p.Watcher
	h.w.Now = func() time.Time { return h.now }
	return h
}

func (h *harness) embedPipeline(srv *embedfake.Server, wait time.Duration) *Pipeline {
	h.t.Helper()
	client, err := embed.New(embed.Config{BaseURL: srv.URL(), Model: srv.Model(), CallTimeout: 2 * time.Second, MaxRetries: -1, Logger: discard()})
	if err != nil {
		h.t.Fatal(err)
	}
	return New(Config{
		Store:      h.store,
		Fetcher:    fetch.New(fetch.Options{AllowPrivate: true, Timeout: 2 * time.Second, MaxBodyBytes: 1 << 20}),
		Summarizer: &summary.Summarizer{},
		Backlog:    24 * time.Hour, FullText: true, FetchWorkers: 4,
		SummaryLang: "ru", Deadline: time.Minute, Log: discard(),
		Embedder: client, Entities: embed.DefaultEntities(), EmbedWait: wait,
	})
}

// storyOf is the story an article was folded into.
func (h *harness) storyOf(id uint64) storage.Story {
	h.t.Helper()
	a := h.article(id)
	if a.StoryID == 0 {
		h.t.Fatalf("article %d is in no story", id)
	}
	st, err := h.store.Story(a.StoryID)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func TestTranslationJoinsTheStoryAndAlertsOnce(t *testing.T) {
	srv := embedfake.New(t)
	h := embedHarness(t, srv, 10*time.Second)
	h.user(1, storage.StatusApproved, false, "vtb")
	ru := h.queue(foldItem("https://interfax.example/vtb", embedfake.PairRUTitle, embedfake.PairRUText, h.now, "vtb"))
	h.settle()
	en := h.queue(foldItem("https://reuters.example/vtb", embedfake.PairENTitle, embedfake.PairENText, h.now.Add(time.Hour), "vtb"))
	h.settle()

	st := h.storyOf(ru[0].ID)
	if h.article(en[0].ID).StoryID != st.ID {
		t.Fatalf("the English report is in story %d, the Russian in %d: want one story", h.article(en[0].ID).StoryID, st.ID)
	}
	if st.Count != 2 || !slices.Equal(st.Topics, []string{"vtb"}) {
		t.Errorf("story %+v: want both reports, alerted once on vtb", st)
	}
	if msgs := outboxOf(t, h.store); len(msgs[1]) != 1 {
		t.Errorf("user 1 has %d alerts, want 1", len(msgs[1]))
	}
	// One embedding per article, ever.
	if got := srv.Inputs(); got != 2 {
		t.Errorf("%d inputs embedded for 2 articles", got)
	}
	for _, a := range []storage.Article{ru[0], en[0]} {
		if _, ents, ok, err := h.store.ArticleVector(a.ID); err != nil || !ok || !slices.Contains(ents, "vtb") {
			t.Errorf("article %d: vector stored %v, entities %v, err %v", a.ID, ok, ents, err)
		}
	}
	// The alert goes out once: the join queued an edit of it instead.
	if c := h.counts(); c.Edit != 1 {
		t.Errorf("%d stories queued for an edit, want 1", c.Edit)
	}
}

// closeEnough sets the fold threshold just under the cosine of two texts,
// so that the embeddings alone would fold them and only the entity rule
// can keep them apart, as a real model does with events on one subject.
func (h *harness) closeEnough(srv *embedfake.Server, a, b [2]string) {
	h.t.Helper()
	cos := srv.Cosine(embed.Input(a[0], a[1], 0), embed.Input(b[0], b[1], 0))
	if cos <= 0.1 {
		h.t.Fatalf("cosine %.3f: the texts have nothing in common", cos)
	}
	h.p.Folder.Threshold = cos - 0.05
	h.t.Logf("cosine %.3f, fold threshold set to %.3f", cos, h.p.Folder.Threshold)
}

func TestSeedsStayTwoStoriesWithEmbeddings(t *testing.T) {
	srv := embedfake.New(t)
	h := embedHarness(t, srv, 10*time.Second)
	ru := [2]string{vtbTitle, seedBody(t, "vtb-ai-centre-china.ru.txt")}
	en := [2]string{"Putin orders Russian bank to cooperate with China on AI", seedBody(t, "finextra-sberbank-china-ai.en.txt")}
	h.closeEnough(srv, ru, en)
	arts := h.queue(
		foldItem("https://one.example/vtb", ru[0], ru[1], h.now, "banks"),
		foldItem("https://www.finextra.com/newsarticle/1", en[0], en[1], h.now, "banks"))
	h.settle()
	for _, a := range arts {
		if _, _, ok, _ := h.store.ArticleVector(a.ID); !ok {
			t.Fatalf("article %d has no vector", a.ID)
		}
	}
	if h.article(arts[0].ID).StoryID == h.article(arts[1].ID).StoryID {
		t.Fatal("the two seed events were folded into one story")
	}
	if s, _ := h.alerted(); s != 2 {
		t.Errorf("%d stories alerted, want 2", s)
	}
}

func TestSameSubjectDifferentBankStaysApart(t *testing.T) {
	srv := embedfake.New(t)
	h := embedHarness(t, srv, 10*time.Second)
	vtb := [2]string{embedfake.PairRUTitle, embedfake.PairRUText}
	// The same words but for the bank, in the other language.
	sber := [2]string{"Sberbank opens representative office in Shanghai",
		"Sberbank has opened a representative office in Shanghai, the bank's press service said on Monday. " +
			"The new office will serve Russian and Chinese clients working in the Chinese market."}
	h.closeEnough(srv, vtb, sber)
	arts := h.queue(
		foldItem("https://interfax.example/vtb", vtb[0], vtb[1], h.now, "vtb"),
		foldItem("https://reuters.example/sber", sber[0], sber[1], h.now, "vtb"))
	h.settle()
	if h.article(arts[0].ID).StoryID == h.article(arts[1].ID).StoryID {
		t.Error("VTB's and Sberbank's offices were folded into one story")
	}
}

func TestEndpointDownFoldsByWordsAfterTheDeadline(t *testing.T) {
	srv := embedfake.New(t)
	srv.SetDown(true)
	const wait = 300 * time.Millisecond
	h := embedHarness(t, srv, wait)
	h.user(1, storage.StatusApproved, false, "vtb")
	start := time.Now()
	arts := h.queue(
		foldItem("https://interfax.example/vtb", embedfake.PairRUTitle, embedfake.PairRUText, h.now, "vtb"),
		foldItem("https://lenta.example/vtb", embedfake.PairRUTitle, reprintOf(embedfake.PairRUText, "Источник: Интерфакс."), h.now, "vtb"))
	stop := h.start(h.p.Embeds.Run, h.p.Folder.Run)
	h.waitCounts("folding", func(c storage.Counts) bool { return c.Fold == 0 })
	held := time.Since(start)
	if held < wait {
		t.Errorf("folded after %v, before the embeddings deadline of %v passed", held, wait)
	}
	if srv.Requests() == 0 {
		t.Error("the endpoint was never tried")
	}
	// By words alone: the reprint still joins, and the story alerts.
	if h.article(arts[0].ID).StoryID != h.article(arts[1].ID).StoryID {
		t.Error("the reprint was not folded by words while the endpoint is down")
	}
	if al := h.pending(); len(al) != 1 {
		t.Errorf("%d alerts, want 1", len(al))
	}
	if c := h.counts(); c.Embed != 2 {
		t.Errorf("%d articles wait for their embedding, want both kept queued", c.Embed)
	}
	// Back up: the vectors are made later, for search and 🔎.
	srv.SetDown(false)
	h.p.Embeds.Wake.Notify()
	h.waitCounts("embedding", func(c storage.Counts) bool { return c.Embed == 0 })
	if _, _, ok, _ := h.store.ArticleVector(arts[0].ID); !ok {
		t.Error("no vector after the endpoint came back")
	}
	// The story got its vector late, and a translation still finds it.
	en := h.queue(foldItem("https://reuters.example/vtb", embedfake.PairENTitle, embedfake.PairENText, h.now.Add(time.Hour), "vtb"))
	h.p.Embeds.Wake.Notify()
	h.waitCounts("folding the translation", func(c storage.Counts) bool { return c.Fold == 0 && c.Embed == 0 })
	stop()
	if h.article(en[0].ID).StoryID != h.article(arts[0].ID).StoryID {
		t.Error("a translation did not join a story whose vector came after it was folded")
	}
}

func TestModelChangeRemakesTheWindowsVectors(t *testing.T) {
	old := embedfake.New(t, embedfake.WithModel("old-model"))
	h := embedHarness(t, old, 10*time.Second)
	h.user(1, storage.StatusApproved, false, "vtb")
	ru := h.queue(foldItem("https://interfax.example/vtb", embedfake.PairRUTitle, embedfake.PairRUText, h.now, "vtb"))
	h.settle()

	// A new model: the story's vector is of the old one and must not be
	// compared; it is re-made, and the translation then joins.
	fresh := embedfake.New(t, embedfake.WithModel("new-model"))
	h.p = h.embedPipeline(fresh, 10*time.Second)
	en := h.queue(foldItem("https://reuters.example/vtb", embedfake.PairENTitle, embedfake.PairENText, h.now.Add(time.Hour), "vtb"))
	h.settle()

	if h.article(en[0].ID).StoryID != h.article(ru[0].ID).StoryID {
		t.Fatal("after a model change the translation did not join the story")
	}
	var embedded []string
	for _, r := range fresh.Received() {
		embedded = append(embedded, r.Input...)
	}
	if len(embedded) != 2 {
		t.Errorf("the new model embedded %d inputs, want 2 (the window's story, the new article): %q", len(embedded), embedded)
	}
	vec, _, ok, err := h.store.ArticleVector(ru[0].ID)
	var v embed.Vector
	if err != nil || !ok || v.UnmarshalBinary(vec) != nil || v.Model != "new-model" {
		t.Errorf("the old article's vector is of %q (ok %v, err %v), want new-model", v.Model, ok, err)
	}
	if msgs := outboxOf(t, h.store); len(msgs[1]) != 1 {
		t.Errorf("user 1 has %d alerts, want 1", len(msgs[1]))
	}
}
