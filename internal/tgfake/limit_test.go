package tgfake

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	type step struct {
		at    time.Duration // since t0
		chat  int64
		retry int // 0: must be allowed
	}
	tests := []struct {
		name   string
		limits limits
		steps  []step
	}{
		{
			name:   "global window",
			limits: limits{globalPerSecond: 3},
			steps: []step{
				{0, 1, 0}, {0, 2, 0}, {0, 3, 0},
				{0, 4, 1},
				{999 * time.Millisecond, 5, 1},
				{time.Second, 6, 0}, // the three from t0 have left the window
				{time.Second, 7, 0}, {time.Second, 8, 0},
				{time.Second, 9, 1},
			},
		},
		{
			name:   "global window slides",
			limits: limits{globalPerSecond: 2},
			steps: []step{
				{0, 1, 0}, {600 * time.Millisecond, 1, 0},
				{900 * time.Millisecond, 1, 1},
				{time.Second, 1, 0}, // only the t0 message left
				{1100 * time.Millisecond, 1, 1},
				{1600 * time.Millisecond, 1, 0},
			},
		},
		{
			name:   "private chat burst then one per second",
			limits: limits{chatPerSecond: 1, chatBurst: 2},
			steps: []step{
				{0, 42, 0}, {0, 42, 0},
				{0, 42, 1},
				{0, 43, 0}, // other chats have their own bucket
				{500 * time.Millisecond, 42, 1},
				{time.Second, 42, 0},
				{time.Second, 42, 1},
				{3 * time.Second, 42, 0}, {3 * time.Second, 42, 0}, // refilled to the burst, no more
				{3 * time.Second, 42, 1},
			},
		},
		{
			name:   "slow private rate gives a longer retry",
			limits: limits{chatPerSecond: 0.2, chatBurst: 1},
			steps:  []step{{0, 42, 0}, {time.Second, 42, 4}, {5 * time.Second, 42, 0}},
		},
		{
			name:   "group per minute",
			limits: limits{groupPerMinute: 2, chatPerSecond: 1, chatBurst: 1},
			steps: []step{
				{0, -5, 0}, {0, -5, 0}, // the private bucket does not apply to groups
				{20 * time.Second, -5, 40},
				{20 * time.Second, -6, 0},
				{time.Minute, -5, 0},
			},
		},
		{
			name:   "refused messages use no budget",
			limits: limits{globalPerSecond: 1, chatPerSecond: 1, chatBurst: 1},
			steps: []step{
				{0, 1, 0},
				{0, 2, 1}, // refused by the global limit; chat 2 keeps its token
				{time.Second, 2, 0},
			},
		},
		{
			name:   "off",
			limits: limits{},
			steps:  []step{{0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, -5, 0}, {0, -5, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(tt.limits)
			for i, st := range tt.steps {
				retry, ok := l.take(st.chat, t0.Add(st.at))
				if st.retry == 0 && !ok {
					t.Fatalf("step %d (chat %d at %v): refused with retry_after %d, want allowed", i, st.chat, st.at, retry)
				}
				if st.retry != 0 && (ok || retry != st.retry) {
					t.Fatalf("step %d (chat %d at %v): allowed=%v retry_after=%d, want refused with %d", i, st.chat, st.at, ok, retry, st.retry)
				}
			}
		})
	}
}
