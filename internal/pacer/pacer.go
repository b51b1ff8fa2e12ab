// Package pacer is the one gate everything dozor sends to Telegram goes
// through: command replies, callback answers, edits and alerts. It keeps
// the bot within Telegram's limits, about 30 messages a second overall and
// one a second per chat (20 a minute in groups), so that Telegram never has
// to answer 429; it serves a person waiting for a reply before bulk alerts,
// and replies fairly among chats; and when a 429 comes anyway, everything
// waits its retry_after.
package pacer

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Priority orders waiting sends.
type Priority int

// Priorities, highest first.
const (
	// Reply is a send a person waits for: a command's answer, a callback
	// answer, an edit the user asked for.
	Reply Priority = iota
	// Bulk is everything else: alerts, digests, broadcasts. It fills what
	// replies leave.
	Bulk
	// Spare is what may be left unsent: the answer to a button that does
	// nothing (expired, forged, over the budget). It goes only when nothing
	// else waits, so pressing such buttons in bulk costs nobody anything.
	Spare
)

// Limits are the rates a Pacer keeps.
type Limits struct {
	PerSecond    float64       // sends a second overall
	PrivateGap   time.Duration // a private chat gets one message a gap…
	PrivateBurst int           // …after a burst of this many
	GroupGap     time.Duration // a group gets one message a gap
}

// TelegramLimits are Telegram's: about 30 messages a second overall,
// about one a second to a private chat and 20 a minute to a group. Short
// bursts to a chat are said to be tolerated; dozor does not count on it.
func TelegramLimits() Limits {
	return Limits{PerSecond: 30, PrivateGap: time.Second, PrivateBurst: 1, GroupGap: 3 * time.Second}
}

// Pacer grants sends. Start a send with Wait and end it with the returned
// done func once Telegram has answered: a chat has one send in flight at a
// time, so its messages arrive in order, and a send is counted against the
// second it was answered in. It is safe for concurrent use; Run must be
// running for Wait to be granted.
type Pacer struct {
	lim      Limits
	interval time.Duration // between two starts overall
	perSec   int           // sends started within any one second, counted to their answers

	mu         sync.Mutex
	next       time.Time   // the earliest next start
	inflight   int         // granted, not answered
	answered   []time.Time // answers within the last second, oldest first
	chats      map[int64]*chat
	served     map[int64]time.Time // when each owner's last reply started, for fairness
	waiting    [3][]*waiter        // per priority, oldest first
	pauseUntil time.Time
	wake       chan struct{}
}

// chat is one chat's token bucket: a token a gap, up to its burst; a send
// takes one, and the refill pauses until Telegram answered it, so the gap
// holds between arrivals however long requests take. At most one send
// per chat is in flight, so its messages arrive in order.
type chat struct {
	busy   bool
	tokens float64
	at     time.Time // when tokens was counted
}

// limit is a chat's gap and burst: groups and channels have negative ids.
func (l Limits) limit(chatID int64) (time.Duration, float64) {
	if chatID < 0 {
		return l.GroupGap, 1
	}
	return l.PrivateGap, float64(max(1, l.PrivateBurst))
}

// refill counts the chat's tokens at now.
func (c *chat) refill(gap time.Duration, burst float64, now time.Time) {
	if d := now.Sub(c.at); d > 0 {
		if gap <= 0 {
			c.tokens = burst
		} else {
			c.tokens = min(burst, c.tokens+float64(d)/float64(gap))
		}
		c.at = now
	}
}

// wait is how long until the chat has a token.
func (c *chat) wait(gap time.Duration) time.Duration {
	if c.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - c.tokens) * float64(gap))
}

type waiter struct {
	chat    int64 // the chat whose limit it counts against; 0: none
	owner   int64 // whom it answers, for fairness among replies
	ready   chan struct{}
	granted bool
}

// New returns a pacer for Telegram's limits with perSecond sends a second
// overall.
func New(perSecond float64) *Pacer {
	l := TelegramLimits()
	l.PerSecond = perSecond
	return NewLimits(l)
}

// NewLimits returns a pacer for l.
func NewLimits(l Limits) *Pacer {
	if !(l.PerSecond > 0) || math.IsInf(l.PerSecond, 0) {
		l.PerSecond = TelegramLimits().PerSecond
	}
	return &Pacer{
		lim:      l,
		interval: time.Duration(float64(time.Second) / l.PerSecond),
		perSec:   max(1, int(math.Ceil(l.PerSecond))),
		chats:    map[int64]*chat{},
		served:   map[int64]time.Time{},
		wake:     make(chan struct{}, 1),
	}
}

// Wait blocks until a send to chatID may start, and returns the func that
// ends it. chatID 0 is a send that counts against the global limit only
// (a callback answer). On error (ctx ended) nothing is held.
func (p *Pacer) Wait(ctx context.Context, chatID int64, prio Priority) (done func(), err error) {
	return p.WaitFor(ctx, chatID, chatID, prio)
}

// WaitFor is Wait for a send on behalf of owner (a chat): replies are
// granted fairly among owners, the one served longest ago first, so a chat
// that keeps the bot busy (a flood of button presses, whose answers count
// against no chat's limit) cannot hold up another chat's reply.
func (p *Pacer) WaitFor(ctx context.Context, chatID, owner int64, prio Priority) (done func(), err error) {
	w := &waiter{chat: chatID, owner: owner, ready: make(chan struct{})}
	p.mu.Lock()
	p.waiting[prio] = append(p.waiting[prio], w)
	p.mu.Unlock()
	p.poke()
	select {
	case <-w.ready:
		return p.doneFunc(chatID), nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.granted {
		// Granted as ctx ended: give the grant back, unused.
		p.inflight--
		if c := p.chats[chatID]; c != nil {
			c.busy = false
			c.tokens++ // unspent
		}
		p.poke()
		return nil, ctx.Err()
	}
	if i := slices.Index(p.waiting[prio], w); i >= 0 {
		p.waiting[prio] = slices.Delete(p.waiting[prio], i, i+1)
	}
	return nil, ctx.Err()
}

func (p *Pacer) doneFunc(chatID int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			now := time.Now()
			p.mu.Lock()
			p.inflight--
			p.answered = append(p.answered, now)
			if c := p.chats[chatID]; c != nil {
				c.busy, c.at = false, now
			}
			p.mu.Unlock()
			p.poke()
		})
	}
}

// Pause holds every send for d from now, or longer if already paused: a
// 429 anywhere means Telegram wants quiet from the whole bot.
func (p *Pacer) Pause(d time.Duration) {
	p.mu.Lock()
	if until := time.Now().Add(d); until.After(p.pauseUntil) {
		p.pauseUntil = until
	}
	p.mu.Unlock()
	p.poke()
}

// Paused is how long the current pause still lasts (≤ 0: none).
func (p *Pacer) Paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Until(p.pauseUntil)
}

// Free is how long until a send to chatID could start as far as that chat
// is concerned (0: now); a chat with a send in flight is not free.
func (p *Pacer) Free(chatID int64) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.chats[chatID]
	if c == nil {
		return 0, true
	}
	if c.busy {
		return 0, false
	}
	gap, burst := p.lim.limit(chatID)
	c.refill(gap, burst, time.Now())
	return c.wait(gap), true
}

func (p *Pacer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run grants sends until ctx ends.
func (p *Pacer) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := p.grant(time.Now())
		if wait > 0 {
			t.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-t.C:
		}
	}
}

// grant starts every send that may start now, and returns how long until
// the next one might (0: not before a send ends or a new one waits).
func (p *Pacer) grant(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forget(now)
	for {
		if d := p.pauseUntil.Sub(now); d > 0 {
			return d
		}
		if d := p.next.Sub(now); d > 0 {
			return d
		}
		for len(p.answered) > 0 && now.Sub(p.answered[0]) >= time.Second {
			p.answered = p.answered[1:]
		}
		if p.inflight+len(p.answered) >= p.perSec {
			if len(p.answered) > 0 {
				return p.answered[0].Add(time.Second).Sub(now)
			}
			return 0 // all in flight: wait for an answer
		}
		w, wait := p.pick(now)
		if w == nil {
			return wait
		}
		w.granted = true
		p.inflight++
		if w.owner != 0 {
			p.served[w.owner] = now
		}
		if w.chat != 0 {
			c := p.chats[w.chat] // pick made it
			c.busy = true
			c.tokens--
		}
		// Keep the schedule rather than count from a late wake-up: timers
		// fire a little late and the loss would add up to a slower rate.
		// After idle time at most half a gap is made up.
		p.next = p.next.Add(p.interval)
		if soonest := now.Add(p.interval / 2); p.next.Before(soonest) {
			p.next = soonest
		}
		close(w.ready)
	}
}

// pick takes a waiter of the highest priority whose chat is free: among
// replies the one whose owner was served longest ago (the oldest of those),
// among bulk sends the oldest; with none, it returns how long until one's
// chat will be.
func (p *Pacer) pick(now time.Time) (*waiter, time.Duration) {
	var wait time.Duration
	for prio := range p.waiting {
		q := p.waiting[prio]
		best := -1
		for i, w := range q {
			if w.chat != 0 {
				gap, burst := p.lim.limit(w.chat)
				c := p.chats[w.chat]
				if c == nil {
					c = &chat{tokens: burst, at: now}
					p.chats[w.chat] = c
				}
				if c.busy {
					continue
				}
				c.refill(gap, burst, now)
				if d := c.wait(gap); d > 0 {
					if wait == 0 || d < wait {
						wait = d
					}
					continue
				}
			}
			if Priority(prio) != Reply {
				best = i
				break
			}
			if best < 0 || p.served[w.owner].Before(p.served[q[best].owner]) {
				best = i
			}
		}
		if best >= 0 {
			w := q[best]
			p.waiting[prio] = slices.Delete(q, best, best+1)
			return w, 0
		}
	}
	return nil, wait
}

// forget drops chats whose gap has long passed, so the map stays as small
// as the traffic of the last few seconds.
func (p *Pacer) forget(now time.Time) {
	if len(p.served) >= 4096 {
		for id, t := range p.served {
			if now.Sub(t) > time.Minute {
				delete(p.served, id) // as good as never served
			}
		}
	}
	if len(p.chats) < 4096 {
		return
	}
	for id, c := range p.chats {
		if c.busy {
			continue
		}
		gap, burst := p.lim.limit(id)
		if c.refill(gap, burst, now); c.tokens >= burst {
			delete(p.chats, id) // as good as new
		}
	}
}
