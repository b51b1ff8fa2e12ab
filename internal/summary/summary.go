// Package summary turns an article into a short summary: through an
// OpenAI-compatible LLM when one is configured, otherwise (or when it fails or
// is too slow) by picking the article's own key sentences.
package summary

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultDeadline bounds the whole LLM step for one article, retries included.
const DefaultDeadline = 2 * time.Minute

// Summary is what an alert shows under the headline.
type Summary struct {
	Text      string
	KeyPoints []string
	// Lang is the language Text is written in: SUMMARY_LANGUAGE for an LLM
	// summary, the article's own language for an extractive one.
	Lang string
	// Extractive marks a summary made of the article's sentences.
	Extractive bool
	// Model that wrote the summary; empty when Extractive.
	Model string
	// Token usage reported by the server, for the caller's daily count.
	PromptTokens, CompletionTokens int
}

// Article is the input: what dozor knows of one story.
type Article struct {
	Title, Source, URL string
	// Lang is "ru" or "en"; empty means guess from the alphabet.
	Lang      string
	Text      string
	Published time.Time
	// Topics the article matched, so the model says why it matters to them.
	Topics []string
}

// Summarizer always produces a summary: the LLM's if it answers within
// Deadline, otherwise an extractive one. A zero Summarizer (or nil LLM)
// makes extractive summaries only.
type Summarizer struct {
	LLM *LLM
	// Deadline for the LLM step, retries included (SUMMARY_DEADLINE);
	// zero means DefaultDeadline.
	Deadline time.Duration
	// MaxSentences of an extractive summary; zero means 3.
	MaxSentences int
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Observe is told when the LLM did not make a summary; nil: nobody.
	Observe interface{ Fallback() }
}

// Summarize never fails. The result is the LLM's summary when the call
// succeeded, otherwise Extractive(a) with Extractive set; callers that cache
// summaries can use that flag to try the LLM again later.
func (s *Summarizer) Summarize(ctx context.Context, a Article) Summary {
	if s == nil {
		return Extractive(a, 0)
	}
	if s.LLM == nil {
		return Extractive(a, s.MaxSentences)
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	deadline := s.Deadline
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	sum, err := s.LLM.Summarize(dctx, a)
	if err == nil {
		return sum
	}
	level := slog.LevelWarn
	if errors.Is(err, ErrEmptyArticle) {
		level = slog.LevelDebug
	}
	log.Log(ctx, level, "summary: using extractive summary", "url", a.URL, "reason", err)
	if s.Observe != nil && !errors.Is(err, ErrEmptyArticle) {
		s.Observe.Fallback()
	}
	return Extractive(a, s.MaxSentences)
}
