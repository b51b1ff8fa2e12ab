package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule runs job once at start and then on a cron spec until ctx ends,
// then waits for the run in flight to finish (up to grace) before
// returning. The job's context is
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
	// Our own WaitGroup covers the start-up run too, which cron's Stop
	// does not know about.
	var running sync.WaitGroup
	id, err := c.AddFunc(spec, func() {
		running.Add(1)
		defer running.Done()
		job(jobCtx)
	})
	if err != nil {
		return fmt.Errorf("jobs: schedule %q: %w", spec, err)
	}
	c.Start()
	running.Add(1)
	go func() {
		defer running.Done()
		c.Entry(id).WrappedJob.Run() // through the chain: recovered, never overlapping
	}()
	<-ctx.Done()
	cronDone := c.Stop().Done()
	stopped := make(chan struct{})
	go func() {
		<-cronDone // cron's own runs have started (and finished) by now
		running.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(grace):
		log.Warn("job still running after grace period; cancelling it", "grace", grace)
		cancelJobs()
		<-stopped
	}
	return nil
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}

// Interval is how far apart two runs of a cron spec are, from now: the
// health check's idea of a recent pass.
func Interval(spec string, now time.Time) (time.Duration, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, fmt.Errorf("jobs: schedule %q: %w", spec, err)
	}
	first := s.Next(now)
	return s.Next(first).Sub(first), nil
}
