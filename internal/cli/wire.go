package cli

import (
	"fmt"

	"dozor/internal/fetch"
	"dozor/internal/pacer"
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
func (a *app) pipeline(st *storage.Store, f *fetch.Fetcher, s jobs.Summarizer, tg jobs.Telegram, pace *pacer.Pacer, idx jobs.SearchIndex) *jobs.Pipeline {
	return jobs.New(jobs.Config{
		Store: st, Fetcher: f, Summarizer: s, Telegram: tg, Pacer: pace, Index: idx,
		Backlog: a.cfg.AlertBacklog, FullText: a.cfg.FetchFullText, FetchWorkers: a.cfg.FetchWorkers,
		SummaryLang: a.cfg.SummaryLanguage, Deadline: a.cfg.SummaryDeadline, SummaryWorker: a.cfg.LLMConcurrency,
		Observer: a.metrics, Log: a.log,
	})
}
