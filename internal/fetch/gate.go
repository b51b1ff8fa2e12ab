package fetch

import (
	"container/list"
	"context"
	"sync"
)

// The lanes of a gate, in the order they are served.
const (
	laneUrgent = iota
	laneNormal
	numLanes
)

// gate lets at most n holders in at a time. Waiters queue in two FIFO lanes
// and the urgent lane is always served first, so an alert's page never waits
// behind bulk work. A freed slot is handed straight to the next waiter rather
// than put back, so a newcomer can never overtake the queue.
type gate struct {
	mu     sync.Mutex
	n      int
	held   int                 // at most n; below n only while nobody waits
	lanes  [numLanes]list.List // of *waiter
	urgent chan struct{}       // closed while the urgent lane is not empty
}

type waiter struct {
	ready   chan struct{} // closed once the slot is granted
	granted bool          // guarded by gate.mu
	lane    int
	elem    *list.Element
}

// newGate returns a gate with n slots; n must be at least 1.
func newGate(n int) *gate {
	return &gate{n: n, urgent: make(chan struct{})}
}

// acquire waits for a slot or for ctx to end; on error nothing is held. A
// normal waiter moves to the back of the urgent lane when boost is closed:
// that is how the holder of a host's turn carries the urgency of a request
// queued behind it (see Fetcher.Get). boost may be nil.
func (g *gate) acquire(ctx context.Context, urgent bool, boost <-chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	if g.held < g.n {
		g.held++
		g.mu.Unlock()
		return nil
	}
	w := &waiter{ready: make(chan struct{})}
	lane := laneNormal
	if urgent {
		lane = laneUrgent
		boost = nil
	}
	g.enqueue(w, lane)
	g.mu.Unlock()

	for {
		select {
		case <-w.ready:
			return nil
		case <-boost:
			boost = nil
			g.mu.Lock()
			if !w.granted && w.lane != laneUrgent {
				g.dequeue(w)
				g.enqueue(w, laneUrgent)
			}
			g.mu.Unlock()
		case <-ctx.Done():
			g.mu.Lock()
			granted := w.granted
			if !granted {
				g.dequeue(w)
			}
			g.mu.Unlock()
			if granted { // the slot came as ctx ended: pass it on
				g.release()
			}
			return ctx.Err()
		}
	}
}

// release frees a slot taken by a successful acquire.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for lane := range numLanes {
		if e := g.lanes[lane].Front(); e != nil {
			w := e.Value.(*waiter)
			g.dequeue(w)
			w.granted = true
			close(w.ready)
			return
		}
	}
	if g.held == 0 {
		panic("fetch: gate released more often than acquired")
	}
	g.held--
}

// urgentQueued returns a channel that is closed once an urgent request waits
// at the gate (at once if one already does).
func (g *gate) urgentQueued() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.urgent
}

// stats reports the slots held and the waiters in each lane.
func (g *gate) stats() (held, urgent, normal int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held, g.lanes[laneUrgent].Len(), g.lanes[laneNormal].Len()
}

func (g *gate) enqueue(w *waiter, lane int) {
	w.lane = lane
	w.elem = g.lanes[lane].PushBack(w)
	if lane == laneUrgent && g.lanes[lane].Len() == 1 {
		close(g.urgent)
	}
}

func (g *gate) dequeue(w *waiter) {
	g.lanes[w.lane].Remove(w.elem)
	w.elem = nil
	if w.lane == laneUrgent && g.lanes[w.lane].Len() == 0 {
		g.urgent = make(chan struct{})
	}
}
