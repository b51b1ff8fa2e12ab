// Package pacer keeps what dozor sends to Telegram within Telegram's
// limits: evenly spaced at a global rate, never more than that many
// arrivals in any one second, and held by everyone during a flood-control
// pause (a 429's retry_after).
package pacer

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"dozor/internal/backoff"
)

// Pacer spaces sends evenly at the global rate, keeps any one second of
// arrivals at Telegram within that rate, and holds every send during a
// flood-control pause. It is safe for concurrent use.
type Pacer struct {
	limit *rate.Limiter
	// slots holds, for each of ceil(rate) send slots, when its last send
	// was answered. A send may start only a second after its slot's last
	// answer, so however requests are delayed on the way, no second of
	// arrivals at Telegram holds more than ceil(rate) of them; the
	// limiter alone spaces starts, not arrivals.
	slots chan time.Time

	mu         sync.Mutex
	pauseUntil time.Time
}

// New returns a pacer for perSecond sends a second.
func New(perSecond float64) *Pacer {
	n := max(1, int(math.Ceil(perSecond)))
	p := &Pacer{limit: rate.NewLimiter(rate.Limit(perSecond), 1), slots: make(chan time.Time, n)}
	for range n {
		p.slots <- time.Time{}
	}
	return p
}

// Wait blocks until a send may start, taking a slot that Done returns. On
// error (ctx ended) no slot is held.
func (p *Pacer) Wait(ctx context.Context) error {
	var last time.Time
	select {
	case last = <-p.slots:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := p.waitFree(ctx, last)
	if err != nil {
		p.slots <- last
	}
	return err
}

func (p *Pacer) waitFree(ctx context.Context, last time.Time) error {
	if err := backoff.Sleep(ctx, time.Until(last.Add(time.Second))); err != nil {
		return err
	}
	for {
		if err := backoff.Sleep(ctx, p.Paused()); err != nil {
			return err
		}
		if err := p.limit.Wait(ctx); err != nil {
			return err
		}
		if p.Paused() <= 0 {
			return nil
		}
	}
}

// Done returns the slot Wait took, stamped with the time the send was
// answered.
func (p *Pacer) Done() { p.slots <- time.Now() }

// Pause holds all sends for d from now, or longer if already paused.
func (p *Pacer) Pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.pauseUntil) {
		p.pauseUntil = until
	}
}

// Paused is how long the current pause still lasts (≤ 0: none).
func (p *Pacer) Paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Until(p.pauseUntil)
}
