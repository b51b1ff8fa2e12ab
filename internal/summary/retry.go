package summary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sashabaranov/go-openai"

	"dozor/internal/backoff"
)

// This file is the part of the LLM client that other clients of
// OpenAI-compatible endpoints (internal/embed) share: one attempt with its
// failure classified, and the retry loop around attempts.

// NewHTTPDoer wraps client for go-openai (openai.ClientConfig.HTTPClient):
// it hands each response's status and Retry-After to the Attempt the
// request runs in, and lets go-openai read at most maxBody bytes of a body.
func NewHTTPDoer(client *http.Client, maxBody int64) openai.HTTPDoer {
	return &recordingDoer{client: client, limit: maxBody}
}

// Attempt makes one call to an endpoint through a go-openai client whose
// HTTP client came from NewHTTPDoer. fn runs under timeout; its error comes
// back as a *CallError saying whether trying again could help, with the
// server's Retry-After. An attempt that ran out of its own timeout is
// retryable and says so ("no reply within 1m0s"); when ctx itself ends, the
// error wraps ctx's and Retry stops whatever the classification.
func Attempt(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec := &responseRecord{}
	err := fn(context.WithValue(cctx, recordKey{}, rec))
	if err == nil {
		return nil
	}
	timedOut := ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded)
	return classify(err, rec, timedOut, timeout)
}

// RetryPolicy says how Retry repeats failed attempts.
type RetryPolicy struct {
	// Name starts the log line of each retry ("summary: llm retry").
	Name string
	// MaxRetries after the first attempt; 0 means none.
	MaxRetries int
	// Backoff is our own wait after n failures; a longer Retry-After wins.
	Backoff backoff.Policy
	// MaxWait caps one wait; a server asking for longer is treated as down
	// for now. 0 means no cap.
	MaxWait time.Duration
	// Sleep nil means backoff.Sleep; tests record waits instead.
	Sleep func(context.Context, time.Duration) error
	// Logger nil means slog.Default().
	Logger *slog.Logger
}

// DefaultRetry is the LLM client's policy, for other clients of the same
// endpoints: maxRetries as in Config.MaxRetries (0 means DefaultMaxRetries,
// negative none), waits of about 1s, 2s, 4s … up to 30s spread ±50%, and
// no wait over two minutes.
func DefaultRetry(name string, maxRetries int, log *slog.Logger) RetryPolicy {
	return RetryPolicy{
		Name:       name,
		MaxRetries: retries(maxRetries),
		Backoff:    defaultBackoff(),
		MaxWait:    maxWait,
		Logger:     log,
	}
}

func retries(n int) int {
	switch {
	case n == 0:
		return DefaultMaxRetries
	case n < 0:
		return 0
	}
	return n
}

func defaultBackoff() backoff.Policy {
	return backoff.Policy{Base: retryBase, Max: retryCap, Jitter: retryJitter}
}

// Retry calls fn until it succeeds, fails with an error that is not a
// retryable *CallError, the retries run out, the next wait would pass ctx's
// deadline, or ctx ends. The error returned is fn's last, wrapped with ctx's
// when ctx ended (errors.Is finds both).
func Retry(ctx context.Context, p RetryPolicy, fn func(ctx context.Context) error) error {
	sleep := p.Sleep
	if sleep == nil {
		sleep = backoff.Sleep
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	for attempt := 0; ; {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("%w; last error: %w", cerr, err)
		}
		var ce *CallError
		if !errors.As(err, &ce) || !ce.Retryable || attempt >= p.MaxRetries {
			return err
		}
		// Retry-After may lengthen our wait, never shorten it.
		wait := max(p.Backoff.Delay(attempt+1), ce.RetryAfter)
		if p.MaxWait > 0 && wait > p.MaxWait {
			return fmt.Errorf("server asks to wait %v: %w", wait, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("next try in %v would pass the deadline: %w", wait, err)
		}
		attempt++
		log.Info(p.Name+" retry", "attempt", attempt, "wait", wait, "err", err)
		if serr := sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w; last error: %w", serr, err)
		}
	}
}
