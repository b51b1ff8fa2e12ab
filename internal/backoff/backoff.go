// Package backoff is dozor's one retry schedule: capped exponential waits
// with optional jitter, and a sleep that gives up when its context ends.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Policy is capped exponential backoff with optional jitter.
type Policy struct {
	Base   time.Duration // the wait after the first failure
	Max    time.Duration // cap; 0 means no cap
	Jitter float64       // each wait is scaled by a random factor in [1-Jitter, 1+Jitter]; 0 means none
}

// Delay is the wait after n consecutive failures: 0 for n <= 0, Base for
// n == 1, doubled each further failure, capped at Max. Jitter is applied
// before the cap, so the cap holds; it is applied to the capped wait, so
// callers at the cap still spread out instead of retrying in step.
// Doubling saturates instead of overflowing, however large n is.
func (p Policy) Delay(n int) time.Duration {
	if n <= 0 || p.Base <= 0 {
		return 0
	}
	// At most 63 doublings reach MaxInt64, so the loop ends quickly for
	// any n; it saturates there instead of overflowing.
	d := p.Base
	for i := 1; i < n && (p.Max <= 0 || d < p.Max); i++ {
		if d > math.MaxInt64/2 {
			d = math.MaxInt64
			break
		}
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if j := min(p.Jitter, 1); j > 0 {
		// float64(MaxInt64) rounds up to 2^63, which converts back to an
		// undefined value; saturate before converting.
		f := float64(d) * (1 - j + 2*j*rand.Float64())
		if f >= math.MaxInt64 {
			d = math.MaxInt64
		} else {
			d = time.Duration(f)
		}
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return d
}

// Sleep waits d, or until ctx ends, and returns ctx.Err() in that case
// (nil after a full wait; d <= 0 returns ctx.Err() at once).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
