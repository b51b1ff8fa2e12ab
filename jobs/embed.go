package jobs

import (
	"context"
	"errors"
	"log/slog"

	"dozor/internal/embed"
	"dozor/storage"
)

// Embedder makes embeddings; internal/embed's Client is one.
type Embedder interface {
	Model() string
	Embed(ctx context.Context, kind embed.Kind, texts []string) ([]embed.Vector, error)
}

// embedBatch is how many articles one step embeds; the client splits them
// into requests of its own batch size.
const embedBatch = 256

// Embeds is the embed stage (EMBEDDINGS_MODEL set): it makes one vector
// per article, ever, from its title and lead, and finds the named entities
// there, so the fold stage can place a report and its translation in one
// story. Articles that matched a topic go first. The fold stage waits for
// an article's vector at most EMBEDDINGS_DEADLINE, then folds by words
// alone; a vector made later still serves 🔎 and search.
type Embeds struct {
	Store    *storage.Store
	Embedder Embedder
	Entities *embed.Entities
	// Wake is notified when articles were queued for folding (and so for
	// their embedding).
	Wake Signal
	// Next is notified when vectors were stored, for the fold stage.
	Next    Signal
	Log     *slog.Logger
	Observe Observer
}

// Run embeds until ctx ends.
func (e *Embeds) Run(ctx context.Context) error {
	return loop(ctx, e.Wake, logOr(e.Log), e.Observe, "embed", func(ctx context.Context) (int, bool, error) {
		n, err := e.Step(ctx)
		return n, n == embedBatch, err
	})
}

// Step embeds one batch of queued articles and returns how many it took
// off the queue. When the endpoint fails the batch stays queued.
func (e *Embeds) Step(ctx context.Context) (int, error) {
	jobs, err := e.Store.QueuedForEmbedding(embedBatch)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	var ids, done []uint64
	var inputs []string
	for _, j := range jobs {
		a, err := e.Store.Article(j.ArticleID)
		if errors.Is(err, storage.ErrNotFound) {
			done = append(done, j.ArticleID)
			continue
		}
		if err != nil {
			return 0, err
		}
		in := embed.Input(a.Title, a.BestText(), 0)
		if in == "" {
			done = append(done, j.ArticleID) // nothing to embed
			continue
		}
		ids, inputs = append(ids, a.ID), append(inputs, in)
	}
	var saved []storage.ArticleVector
	if len(inputs) > 0 {
		vecs, err := e.Embedder.Embed(ctx, embed.Passage, inputs)
		if err != nil {
			return 0, err
		}
		if len(vecs) != len(inputs) {
			return 0, errors.New("jobs: the embeddings endpoint answered a different number of vectors")
		}
		for i, v := range vecs {
			b, err := v.MarshalBinary()
			if err != nil {
				return 0, err
			}
			var ents []string
			if e.Entities != nil {
				ents = e.Entities.Of(inputs[i])
			}
			saved = append(saved, storage.ArticleVector{ID: ids[i], Vector: b, Entities: ents})
		}
	}
	if err := e.Store.SaveVectors(saved, done); err != nil {
		return 0, err
	}
	e.Next.Notify()
	return len(jobs), nil
}
