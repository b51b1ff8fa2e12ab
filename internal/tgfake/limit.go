package tgfake

import (
	"math"
	"time"
)

// limits are the flood limits the fake enforces on sendMessage. Telegram
// documents them only roughly ("about 30 messages per second", "avoid more
// than one message per second to one chat", "no more than 20 messages per
// minute to the same group"); a zero value switches a limit off.
type limits struct {
	globalPerSecond int     // sliding one-second window over all chats
	chatPerSecond   float64 // token bucket refill rate for private chats
	chatBurst       int     // token bucket size for private chats
	groupPerMinute  int     // sliding one-minute window per group chat
}

// limiter decides whether one more message may go out now. It is not safe for
// concurrent use; the Server's mutex guards it.
type limiter struct {
	limits
	global  []time.Time
	buckets map[int64]*bucket
	groups  map[int64][]time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(l limits) *limiter {
	return &limiter{limits: l, buckets: map[int64]*bucket{}, groups: map[int64][]time.Time{}}
}

// take records a message to chatID at now if every limit allows it. Otherwise
// it records nothing and returns how many whole seconds to wait, at least 1,
// as Telegram's retry_after does.
func (l *limiter) take(chatID int64, now time.Time) (retryAfter int, ok bool) {
	var wait time.Duration
	if l.globalPerSecond > 0 {
		l.global = prune(l.global, now.Add(-time.Second))
		wait = max(wait, windowWait(l.global, l.globalPerSecond, time.Second, now))
	}
	var b *bucket
	if chatID > 0 && l.chatPerSecond > 0 && l.chatBurst > 0 {
		b = l.buckets[chatID]
		if b == nil {
			b = &bucket{tokens: float64(l.chatBurst), last: now}
			l.buckets[chatID] = b
		}
		if elapsed := now.Sub(b.last); elapsed > 0 {
			b.tokens = math.Min(float64(l.chatBurst), b.tokens+elapsed.Seconds()*l.chatPerSecond)
			b.last = now
		}
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)/l.chatPerSecond*float64(time.Second)))
		}
	}
	if chatID < 0 && l.groupPerMinute > 0 {
		l.groups[chatID] = prune(l.groups[chatID], now.Add(-time.Minute))
		wait = max(wait, windowWait(l.groups[chatID], l.groupPerMinute, time.Minute, now))
	}
	if wait > 0 {
		return max(1, int(math.Ceil(wait.Seconds()))), false
	}
	if l.globalPerSecond > 0 {
		l.global = append(l.global, now)
	}
	if b != nil {
		b.tokens--
	}
	if chatID < 0 && l.groupPerMinute > 0 {
		l.groups[chatID] = append(l.groups[chatID], now)
	}
	return 0, true
}

// prune drops the timestamps at or before cutoff; the slice is in time order.
func prune(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return ts[i:]
}

// windowWait is how long until a window of the given size holding ts (all
// inside the window) has room for one more event.
func windowWait(ts []time.Time, limit int, window time.Duration, now time.Time) time.Duration {
	if len(ts) < limit {
		return 0
	}
	return ts[len(ts)-limit].Add(window).Sub(now)
}
