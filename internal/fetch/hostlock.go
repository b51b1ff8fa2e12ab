package fetch

import (
	"context"
	"sync"
)

// hostGates lets one request at a time run per host name, so a feed and its
// articles never hammer the same site in parallel. Entries are dropped when
// nobody holds or waits for them, so the map stays as small as the work.
type hostGates struct {
	mu sync.Mutex
	m  map[string]*hostGate
}

type hostGate struct {
	*gate     // one slot: the host's turn
	refs  int // holders plus waiters; guarded by hostGates.mu
}

// lock waits for host's turn or for ctx to end. It returns the host's gate,
// so the holder can see an urgent request queue behind it, and the unlock
// func.
func (h *hostGates) lock(ctx context.Context, host string, urgent bool) (*gate, func(), error) {
	h.mu.Lock()
	if h.m == nil {
		h.m = make(map[string]*hostGate)
	}
	l := h.m[host]
	if l == nil {
		l = &hostGate{gate: newGate(1)}
		h.m[host] = l
	}
	l.refs++
	h.mu.Unlock()

	if err := l.acquire(ctx, urgent, nil); err != nil {
		h.drop(host, l)
		return nil, nil, err
	}
	return l.gate, func() {
		l.release()
		h.drop(host, l)
	}, nil
}

func (h *hostGates) drop(host string, l *hostGate) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(h.m, host)
	}
}

// waiting counts the requests waiting for some host's turn.
func (h *hostGates) waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.m {
		_, urgent, normal := l.stats()
		n += urgent + normal
	}
	return n
}

// users reports how many requests hold or wait for host (for tests).
func (h *hostGates) users(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.m[host]; l != nil {
		return l.refs
	}
	return 0
}
