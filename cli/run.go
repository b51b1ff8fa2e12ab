package cli

import (
	"context"
	"time"

	"dozor/jobs"
)

// shutdownGrace is how long a pass in flight may take to finish after
// SIGINT/SIGTERM before it is cancelled.
const shutdownGrace = 2 * time.Minute

// run starts the scheduler and stops cleanly when ctx ends.
func (a *app) run(ctx context.Context) error {
	st, err := a.open("run")
	if err != nil {
		return err
	}
	defer st.Close()
	w := a.watcher(st, a.fetcher())
	a.log.Info("dozor started", "db", a.cfg.DB, "schedule", a.cfg.WatchSchedule)
	err = jobs.Schedule(ctx, a.cfg.WatchSchedule, shutdownGrace, a.log, func(ctx context.Context) {
		rep, err := w.Pass(ctx, jobs.PassOptions{})
		if err != nil {
			a.log.Error("watcher pass", "err", err)
		}
		if rep != nil {
			a.log.Info("watcher pass done", "sources", rep.Sources, "new_articles", rep.NewArticles,
				"matches", len(rep.Matches), "failed", len(rep.Failures), "elapsed", rep.Elapsed.Round(time.Millisecond))
		}
	})
	a.log.Info("dozor stopped")
	return err
}
