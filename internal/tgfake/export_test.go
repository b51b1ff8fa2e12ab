package tgfake

import "context"

// WaitPollers blocks until exactly n getUpdates calls are parked waiting for
// updates, so tests can prove a long poll really blocks before they feed it.
func (s *Server) WaitPollers(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		if s.waiting == n {
			s.mu.Unlock()
			return nil
		}
		ch := s.pollers
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
