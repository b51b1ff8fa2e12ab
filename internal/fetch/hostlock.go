package fetch

import (
	"context"
	"sync"
)

// hostLocks lets one request at a time run per host name, so a feed and its
// articles never hammer the same site in parallel. Entries are dropped when
// nobody holds or waits for them, so the map stays as small as the work.
type hostLocks struct {
	mu sync.Mutex
	m  map[string]*hostLock
}

type hostLock struct {
	ch   chan struct{} // one slot: full while held
	refs int           // holders plus waiters; guarded by hostLocks.mu
}

// lock waits for host's slot or for ctx to end, and returns the unlock func.
func (h *hostLocks) lock(ctx context.Context, host string) (func(), error) {
	h.mu.Lock()
	if h.m == nil {
		h.m = make(map[string]*hostLock)
	}
	l := h.m[host]
	if l == nil {
		l = &hostLock{ch: make(chan struct{}, 1)}
		h.m[host] = l
	}
	l.refs++
	h.mu.Unlock()

	if err := ctx.Err(); err != nil {
		h.release(host, l)
		return nil, err
	}
	select {
	case l.ch <- struct{}{}:
		return func() {
			<-l.ch
			h.release(host, l)
		}, nil
	case <-ctx.Done():
		h.release(host, l)
		return nil, ctx.Err()
	}
}

func (h *hostLocks) release(host string, l *hostLock) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(h.m, host)
	}
}

// users reports how many requests hold or wait for host (for tests).
func (h *hostLocks) users(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.m[host]; l != nil {
		return l.refs
	}
	return 0
}
