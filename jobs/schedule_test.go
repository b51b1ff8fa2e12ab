package jobs

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestScheduleFinishesRunInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 10)
	var finished, cancelledInside atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Schedule(ctx, "@every 1s", time.Minute, discard(), func(jctx context.Context) {
			started <- struct{}{}
			time.Sleep(300 * time.Millisecond)
			if jctx.Err() != nil {
				cancelledInside.Add(1)
			}
			finished.Add(1)
		})
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("job never started")
	}
	cancel() // SIGINT while the pass runs
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if finished.Load() != 1 || cancelledInside.Load() != 0 {
		t.Errorf("finished=%d cancelledInside=%d: the pass in flight should finish uncancelled", finished.Load(), cancelledInside.Load())
	}
}

func TestScheduleRecoversPanics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Schedule(ctx, "@every 1s", time.Second, discard(), func(context.Context) {
			if runs.Add(1) == 1 {
				panic("boom")
			}
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	if runs.Load() < 2 {
		t.Fatalf("runs = %d: the scheduler should survive a panicking job", runs.Load())
	}
}

func TestScheduleRunsOnceAtStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- Schedule(ctx, "@every 1h", time.Second, discard(), func(context.Context) { ran <- struct{}{} })
	}()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("no pass at start: the first would come an hour later")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestScheduleRejectsBadSpec(t *testing.T) {
	if err := Schedule(context.Background(), "every now and then", time.Second, discard(), func(context.Context) {}); err == nil {
		t.Fatal("bad spec accepted")
	}
}

func TestSourceBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {7, time.Hour}, {100, time.Hour}} {
		if got := sourceBackoff.Delay(tc.n); got != tc.want {
			t.Errorf("sourceBackoff.Delay(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
