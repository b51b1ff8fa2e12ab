package cli

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"dozor/bot"
	"dozor/internal/metrics"
	"dozor/internal/pacer"
	"dozor/jobs"
)

// run starts the watch schedule, the pipeline's stages and the bot, and
// stops them all cleanly when ctx ends. One part failing for good (a
// rejected token) stops the whole.
func (a *app) run(ctx context.Context) error {
	if a.cfg.TelegramToken == "" {
		return bot.ErrNoToken
	}
	every, err := jobs.Interval(a.cfg.WatchSchedule, time.Now())
	if err != nil {
		return err
	}
	st, err := a.open("run")
	if err != nil {
		return err
	}
	defer st.Close()
	a.metrics = metrics.New(st, metrics.Options{PassEvery: every})
	sum, err := a.summarizer()
	if err != nil {
		return err
	}
	f := a.fetcher()
	idx, err := a.openIndex(ctx, st)
	if err != nil {
		return err
	}
	defer idx.Close()
	finder, err := a.searcher(st, idx)
	if err != nil {
		return err
	}
	// One pacer for everything the bot sends: replies before alerts. It
	// outlives the parts that use it, whose sends in flight at shutdown
	// still end through it.
	pace := pacer.New(30)
	pctx, stopPace := context.WithCancel(context.WithoutCancel(ctx))
	var pg errgroup.Group
	pg.Go(func() error { return pace.Run(pctx) })
	defer func() { stopPace(); _ = pg.Wait() }()
	b, err := bot.New(bot.Options{
		Token: a.cfg.TelegramToken, APIURL: a.cfg.TelegramAPIURL,
		WebhookURL: a.cfg.WebhookURL, WebhookListen: a.cfg.WebhookListen, WebhookSecret: a.cfg.WebhookSecret,
		AdminIDs: a.cfg.AdminIDs, Access: a.cfg.Access, SummaryLang: a.cfg.SummaryLanguage,
		Store: st, Fetcher: f, Pacer: pace, Search: finder, ShutdownGrace: a.cfg.ShutdownTimeout, Observe: a.metrics, Log: a.log,
	})
	if err != nil {
		return err
	}
	p, err := a.pipeline(st, f, sum, bot.Alerts{API: b.API()}, pace, idx)
	if err != nil {
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.Run(ctx) })
	g.Go(func() error { return p.Run(ctx) })
	g.Go(func() error { return a.maintain(ctx, st) })
	if a.cfg.MetricsAddr != "" {
		g.Go(func() error { return metrics.Serve(ctx, a.cfg.MetricsAddr, a.metrics, a.log) })
	}
	g.Go(func() error {
		return jobs.Schedule(ctx, a.cfg.WatchSchedule, a.cfg.ShutdownTimeout, a.log, func(ctx context.Context) {
			rep, err := p.Watcher.Pass(ctx, jobs.PassOptions{})
			if err != nil {
				a.log.Error("watch pass", "err", err)
			}
			if rep != nil {
				a.log.Info("watch pass done", "sources", rep.Sources, "new_articles", rep.NewArticles,
					"matches", len(rep.Matches), "pages_queued", rep.Pages, "failed", len(rep.Failures),
					"elapsed", rep.Elapsed.Round(time.Millisecond))
			}
		})
	})
	a.log.Info("dozor started", "db", a.cfg.DB, "schedule", a.cfg.WatchSchedule,
		"llm", a.cfg.LLMEnabled(), "access", a.cfg.Access)
	// SHUTDOWN_TIMEOUT bounds the whole stop: past it (and a moment for
	// the parts to see their contexts cancelled), dozor exits and the
	// queues keep what was not done.
	stopped := make(chan error, 1)
	go func() { stopped <- g.Wait() }()
	select {
	case err = <-stopped:
	case <-ctx.Done():
		select {
		case err = <-stopped:
		case <-time.After(a.cfg.ShutdownTimeout + 5*time.Second):
			a.log.Warn("shutdown took longer than SHUTDOWN_TIMEOUT: exiting; the queues keep the rest", "timeout", a.cfg.ShutdownTimeout)
		}
	}
	a.log.Info("dozor stopped")
	return err
}
