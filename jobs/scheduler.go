package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule runs job on a cron spec until ctx ends, then waits for the run
// in flight to finish (up to grace) before returning. The job's context is
// not cancelled by ctx, only when grace runs out: a pass that has started
// is finished, not torn.
//
// Chain order matters: SkipIfStillRunning (cron v3.0.1) releases its slot
// without defer, so Recover must sit inside it; with Recover outermost one
// panicking pass would make every later pass skip for ever.
func Schedule(ctx context.Context, spec string, grace time.Duration, log *slog.Logger, job func(context.Context)) error {
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	logger := cronLogger{log}
	c := cron.New(cron.WithLogger(logger), cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	if _, err := c.AddFunc(spec, func() { job(jobCtx) }); err != nil {
		return fmt.Errorf("jobs: schedule %q: %w", spec, err)
	}
	c.Start()
	<-ctx.Done()
	stopped := c.Stop()
	select {
	case <-stopped.Done():
	case <-time.After(grace):
		log.Warn("job still running after grace period; cancelling it", "grace", grace)
		cancelJobs()
		<-stopped.Done()
	}
	return nil
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
