package cli

import (
	"context"
	"errors"
	"sync"
	"time"

	"dozor/bot"
	"dozor/jobs"
)

const (
	// shutdownGrace is how long a pass in flight may take to finish after
	// SIGINT/SIGTERM before it is cancelled.
	shutdownGrace = 2 * time.Minute
	// processEvery retries queued alerts (a model that was down, a page
	// that timed out) even when no pass wakes the processor.
	processEvery = time.Minute
)

// run starts the watcher schedule, the processor, the outbox sender and the
// bot, and stops them all cleanly when ctx ends.
func (a *app) run(ctx context.Context) error {
	if a.cfg.TelegramToken == "" {
		return bot.ErrNoToken
	}
	sum, err := a.summarizer()
	if err != nil {
		return err
	}
	st, err := a.open("run")
	if err != nil {
		return err
	}
	defer st.Close()
	f := a.fetcher()
	b, err := bot.New(bot.Options{
		Token: a.cfg.TelegramToken, APIURL: a.cfg.TelegramAPIURL,
		WebhookURL: a.cfg.WebhookURL, WebhookListen: a.cfg.WebhookListen, WebhookSecret: a.cfg.WebhookSecret,
		AdminIDs: a.cfg.AdminIDs, Access: a.cfg.Access, SummaryLang: a.cfg.SummaryLanguage,
		Store: st, Fetcher: f, Log: a.log,
	})
	if err != nil {
		return err
	}
	deliver := &bot.Deliverer{Store: st, API: b.API(), Log: a.log, SummaryLang: a.cfg.SummaryLanguage}
	proc := a.processor(st, f, sum)
	w := a.watcher(st, f)
	wake := make(chan struct{}, 1)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	start := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				a.log.Error(name+" stopped", "err", err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel() // one part failing (a rejected token) stops the whole
			}
		}()
	}
	start("bot", func() error { return b.Run(ctx) })
	start("deliverer", func() error { return deliver.Run(ctx) })
	start("processor", func() error {
		proc.Loop(ctx, wake, processEvery, func(done []jobs.Processed) {
			for _, p := range done {
				if p.Queued > 0 {
					deliver.Kick()
					return
				}
			}
		})
		return nil
	})
	a.log.Info("dozor started", "db", a.cfg.DB, "schedule", a.cfg.WatchSchedule,
		"llm", a.cfg.LLMEnabled(), "access", a.cfg.Access)
	err = jobs.Schedule(ctx, a.cfg.WatchSchedule, shutdownGrace, a.log, func(ctx context.Context) {
		rep, err := w.Pass(ctx, jobs.PassOptions{})
		if err != nil {
			a.log.Error("watcher pass", "err", err)
		}
		if rep != nil {
			a.log.Info("watcher pass done", "sources", rep.Sources, "new_articles", rep.NewArticles,
				"matches", len(rep.Matches), "failed", len(rep.Failures), "elapsed", rep.Elapsed.Round(time.Millisecond))
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	cancel()
	wg.Wait()
	a.log.Info("dozor stopped")
	return errors.Join(append(errs, err)...)
}
