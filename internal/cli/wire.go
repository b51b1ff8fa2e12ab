package cli

import (
	"fmt"

	"dozor/internal/embed"
	"dozor/internal/fetch"
	"dozor/internal/pacer"
	"dozor/internal/search"
	"dozor/internal/semantic"
	"dozor/internal/summary"
	"dozor/jobs"
	"dozor/prompts"
	"dozor/storage"
)

// summarizer builds the summary step; a broken prompt template or a bad
// model configuration stops start-up here.
func (a *app) summarizer() (*summary.Summarizer, error) {
	set, err := prompts.Load(a.cfg.PromptsDir)
	if err != nil {
		return nil, err
	}
	s := &summary.Summarizer{Deadline: a.cfg.SummaryDeadline, Logger: a.log, Observe: a.metrics}
	if !a.cfg.LLMEnabled() {
		return s, nil
	}
	llm, err := summary.NewLLM(summary.Config{
		BaseURL: a.cfg.OpenAIBaseURL, APIKey: a.cfg.OpenAIKey, Model: a.cfg.OpenAIModel,
		Language: a.cfg.SummaryLanguage, MaxInput: a.cfg.SummaryMaxInput,
		Concurrency: a.cfg.LLMConcurrency, CallTimeout: a.cfg.LLMTimeout,
		Prompts: set, Logger: a.log, Observe: a.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("model endpoint: %w", err)
	}
	s.LLM = llm
	return s, nil
}

// pipeline wires the stages; tg nil leaves delivery out (dozor poll), idx
// nil the search index.
func (a *app) pipeline(st *storage.Store, f *fetch.Fetcher, s jobs.Summarizer, tg jobs.Telegram, pace *pacer.Pacer, idx jobs.SearchIndex) (*jobs.Pipeline, error) {
	c := jobs.Config{
		Store: st, Fetcher: f, Summarizer: s, Telegram: tg, Pacer: pace, Index: idx,
		Backlog: a.cfg.AlertBacklog, FullText: a.cfg.FetchFullText, FetchWorkers: a.cfg.FetchWorkers,
		SummaryLang: a.cfg.SummaryLanguage, Deadline: a.cfg.SummaryDeadline, SummaryWorker: a.cfg.LLMConcurrency,
		Observer: a.metrics, Log: a.log,
	}
	emb, err := a.embedder()
	if err != nil {
		return nil, err
	}
	if emb != nil {
		ents := embed.DefaultEntities()
		groups, err := st.Entities()
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			ents.Add(g...)
		}
		c.Embedder, c.Entities, c.EmbedWait = emb, ents, a.cfg.EmbeddingsDeadline
		c.FoldThreshold = float32(a.cfg.FoldThreshold)
		if c.FoldThreshold == 0 {
			c.FoldThreshold = embed.DefaultThreshold(a.cfg.EmbeddingsModel)
		}
	}
	return jobs.New(c), nil
}

// embedder is the embeddings client of EMBEDDINGS_MODEL, nil when it is
// not set.
func (a *app) embedder() (*embed.Client, error) {
	if a.cfg.EmbeddingsModel == "" || a.emb != nil {
		return a.emb, nil
	}
	base := a.cfg.EmbeddingsBaseURL
	if base == "" {
		base = a.cfg.OpenAIBaseURL
	}
	c, err := embed.New(embed.Config{
		BaseURL: base, APIKey: a.cfg.OpenAIKey, Model: a.cfg.EmbeddingsModel,
		Concurrency: a.cfg.LLMConcurrency, CallTimeout: a.cfg.LLMTimeout,
		Logger: a.log, Observe: a.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("embeddings endpoint: %w", err)
	}
	a.emb = c
	return c, nil
}

// searcher is the search index, with meaning added (internal/semantic)
// when embeddings are on: the chat and dozor search use this one engine.
func (a *app) searcher(st *storage.Store, idx *search.Index) (semantic.Index, error) {
	emb, err := a.embedder()
	if err != nil || emb == nil {
		return idx, err
	}
	return &semantic.Searcher{Index: idx, Embedder: emb, Store: st, Log: a.log}, nil
}
