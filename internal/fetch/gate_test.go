package fetch

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
)

// queueGate starts one acquire per entry of urgent, in order, each waiting
// until the gate shows it queued so the queue order is known. Each reports its
// index on the returned channel once it holds the slot, or -1 if it failed.
func queueGate(t *testing.T, g *gate, urgent []bool, boost []<-chan struct{}) <-chan int {
	t.Helper()
	_, bu, bn := g.stats()
	got := make(chan int, len(urgent))
	for i, u := range urgent {
		var b <-chan struct{}
		if boost != nil {
			b = boost[i]
		}
		go func() {
			if err := g.acquire(t.Context(), u, b); err != nil {
				got <- -1
				return
			}
			got <- i
		}()
		waitFor(t, "the waiter to queue", func() bool {
			_, nu, nn := g.stats()
			return nu+nn == bu+bn+i+1
		})
	}
	return got
}

// drain releases the held slot once per waiter and returns who got it next.
func drain(t *testing.T, g *gate, got <-chan int, n int) []int {
	t.Helper()
	var order []int
	for range n {
		g.release()
		i := <-got
		if i < 0 {
			t.Fatal("a waiter failed to acquire")
		}
		order = append(order, i)
	}
	g.release()
	if held, u, nn := g.stats(); held != 0 || u != 0 || nn != 0 {
		t.Errorf("after draining: held %d, waiting %d urgent %d normal", held, u, nn)
	}
	return order
}

func TestGateUrgentFirstFIFOWithinLane(t *testing.T) {
	g := newGate(1)
	if err := g.acquire(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
	urgent := []bool{false, false, true, false, true}
	got := queueGate(t, g, urgent, nil)
	if order, want := drain(t, g, got, len(urgent)), []int{2, 4, 0, 1, 3}; !slices.Equal(order, want) {
		t.Errorf("served %v, want %v", order, want)
	}
}

func TestGateBoostMovesWaiterToUrgentLane(t *testing.T) {
	g := newGate(1)
	if err := g.acquire(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
	boost := make(chan struct{})
	got := queueGate(t, g, []bool{false, false, true}, []<-chan struct{}{nil, boost, nil})
	close(boost)
	waitFor(t, "the boosted waiter to change lanes", func() bool {
		_, u, _ := g.stats()
		return u == 2
	})
	// Boosted after the urgent waiter queued, so it comes second.
	if order, want := drain(t, g, got, 3), []int{2, 1, 0}; !slices.Equal(order, want) {
		t.Errorf("served %v, want %v", order, want)
	}
}

func TestGateCapacity(t *testing.T) {
	g := newGate(3)
	for i := range 3 {
		if err := g.acquire(t.Context(), false, nil); err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
	}
	got := queueGate(t, g, []bool{false}, nil)
	if held, _, n := g.stats(); held != 3 || n != 1 {
		t.Errorf("held %d, waiting %d; want 3 and 1", held, n)
	}
	g.release()
	<-got
	for range 3 {
		g.release()
	}
	if held, _, _ := g.stats(); held != 0 {
		t.Errorf("held %d after releasing all", held)
	}
}

func TestGateUrgentQueued(t *testing.T) {
	g := newGate(1)
	if err := g.acquire(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
	before := g.urgentQueued()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.acquire(ctx, true, nil) }()
	<-before // closed once the urgent waiter queues
	select {
	case <-g.urgentQueued():
	default:
		t.Error("urgentQueued is open while an urgent request waits")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire = %v", err)
	}
	select {
	case <-g.urgentQueued():
		t.Error("urgentQueued is closed with the urgent lane empty")
	default:
	}
	g.release()
}

func TestGateCanceledWaiterLeavesQueue(t *testing.T) {
	g := newGate(1)
	if err := g.acquire(t.Context(), false, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	canceled := make(chan error, 1)
	go func() { canceled <- g.acquire(ctx, true, nil) }()
	waitFor(t, "the urgent waiter to queue", func() bool { _, u, _ := g.stats(); return u == 1 })
	got := queueGate(t, g, []bool{false}, nil)
	cancel()
	if err := <-canceled; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled acquire = %v", err)
	}
	if order := drain(t, g, got, 1); !slices.Equal(order, []int{0}) {
		t.Errorf("served %v", order)
	}

	ended, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if err := g.acquire(ended, false, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with an ended ctx = %v", err)
	}
	if held, _, _ := g.stats(); held != 0 {
		t.Errorf("an ended ctx took a slot")
	}
}

// A waiter whose ctx ends just as it is granted the slot must hand the slot
// on, not keep it. Cancelling and releasing back to back races the two.
func TestGateCancelRacingGrantLeaksNothing(t *testing.T) {
	g := newGate(1)
	for i := range 2000 {
		if err := g.acquire(t.Context(), false, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		res := make(chan error, 1)
		go func() { res <- g.acquire(ctx, i%2 == 0, nil) }()
		for _, u, n := g.stats(); u+n == 0; _, u, n = g.stats() {
			runtime.Gosched()
		}
		cancel()
		g.release()
		if err := <-res; err == nil {
			g.release()
		}
		if held, u, n := g.stats(); held != 0 || u != 0 || n != 0 {
			t.Fatalf("round %d: held %d, waiting %d+%d", i, held, u, n)
		}
	}
}
