package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	source := Policy{Base: time.Minute, Max: time.Hour}
	tests := []struct {
		name string
		p    Policy
		n    int
		want time.Duration
	}{
		{"no failures", source, 0, 0},
		{"negative", source, -3, 0},
		{"first failure", source, 1, time.Minute},
		{"second", source, 2, 2 * time.Minute},
		{"third", source, 3, 4 * time.Minute},
		{"just under the cap", source, 6, 32 * time.Minute},
		{"at the cap", source, 7, time.Hour},
		{"far past the cap", source, 100, time.Hour},
		{"huge n", source, math.MaxInt, time.Hour},
		{"cap below base", Policy{Base: time.Minute, Max: time.Second}, 1, time.Second},
		{"no cap", Policy{Base: time.Second}, 11, 1024 * time.Second},
		{"no cap, overflow saturates", Policy{Base: time.Second}, 64, math.MaxInt64},
		{"no cap, huge n", Policy{Base: time.Nanosecond}, math.MaxInt, math.MaxInt64},
		{"huge base", Policy{Base: math.MaxInt64}, 2, math.MaxInt64},
		{"zero base", Policy{Max: time.Hour}, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Delay(tt.n); got != tt.want {
				t.Errorf("%+v.Delay(%d) = %v, want %v", tt.p, tt.n, got, tt.want)
			}
		})
	}
}

func TestDelayJitterBounds(t *testing.T) {
	tests := []struct {
		name   string
		p      Policy
		n      int
		lo, hi time.Duration
	}{
		{"first", Policy{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}, 1, 4 * time.Second, 6 * time.Second},
		{"fourth", Policy{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}, 4, 32 * time.Second, 48 * time.Second},
		// At the cap the jitter only shortens: the cap holds.
		{"at the cap", Policy{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}, 50, 8 * time.Minute, 10 * time.Minute},
		{"huge n", Policy{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}, math.MaxInt, 8 * time.Minute, 10 * time.Minute},
		{"half", Policy{Base: time.Second, Max: 30 * time.Second, Jitter: 0.5}, 2, time.Second, 3 * time.Second},
		{"jitter above 1 is 1", Policy{Base: time.Second, Jitter: 5}, 1, 0, 2 * time.Second},
		{"negative jitter is none", Policy{Base: time.Second, Jitter: -1}, 1, time.Second, time.Second},
		{"no cap, saturated", Policy{Base: time.Second, Jitter: 0.5}, 1000, math.MaxInt64 / 2, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			varied := false
			first := tt.p.Delay(tt.n)
			for range 500 {
				d := tt.p.Delay(tt.n)
				if d < tt.lo || d > tt.hi {
					t.Fatalf("%+v.Delay(%d) = %v, want in [%v, %v]", tt.p, tt.n, d, tt.lo, tt.hi)
				}
				varied = varied || d != first
			}
			if tt.lo != tt.hi && !varied {
				t.Errorf("%+v.Delay(%d) is always %v: no jitter", tt.p, tt.n, first)
			}
		})
	}
}

func TestSleep(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"full wait", context.Background(), time.Millisecond, nil},
		{"zero", context.Background(), 0, nil},
		{"negative", context.Background(), -time.Second, nil},
		{"cancelled, zero", cancelled, 0, context.Canceled},
		{"cancelled, long", cancelled, time.Hour, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if err := Sleep(tt.ctx, tt.d); !errors.Is(err, tt.want) {
				t.Errorf("Sleep(%v) = %v, want %v", tt.d, err, tt.want)
			}
			if el := time.Since(start); el < tt.d && tt.want == nil {
				t.Errorf("Sleep(%v) returned after %v", tt.d, el)
			}
			if el := time.Since(start); el > time.Minute {
				t.Errorf("Sleep(%v) took %v", tt.d, el)
			}
		})
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sleep = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Sleep outlived its context by %v", el)
	}
}
