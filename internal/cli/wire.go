package cli

import (
	"fmt"

	"dozor/internal/fetch"
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
	s := &summary.Summarizer{Deadline: a.cfg.SummaryDeadline, Logger: a.log}
	if !a.cfg.LLMEnabled() {
		return s, nil
	}
	llm, err := summary.NewLLM(summary.Config{
		BaseURL: a.cfg.OpenAIBaseURL, APIKey: a.cfg.OpenAIKey, Model: a.cfg.OpenAIModel,
		Language: a.cfg.SummaryLanguage, MaxInput: a.cfg.SummaryMaxInput,
		Concurrency: a.cfg.LLMConcurrency, CallTimeout: a.cfg.LLMTimeout,
		Prompts: set, Logger: a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("model endpoint: %w", err)
	}
	s.LLM = llm
	return s, nil
}

func (a *app) processor(st *storage.Store, f *fetch.Fetcher, s jobs.Summarizer) *jobs.Processor {
	return &jobs.Processor{
		Store: st, Fetcher: f, Summarizer: s, Lang: a.cfg.SummaryLanguage,
		Deadline: a.cfg.SummaryDeadline, FullText: a.cfg.FetchFullText,
		// Page fetches are bounded by the fetcher; summaries by LLM_CONCURRENCY.
		Workers: max(a.cfg.FetchWorkers, a.cfg.LLMConcurrency), Log: a.log,
	}
}
