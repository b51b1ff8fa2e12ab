package tgfake

import (
	"strings"
	"time"
)

// outageCalls is how many calls one FailFor outage can fail at most; far
// more than a bot retrying with backoff makes in a few seconds.
const outageCalls = 1 << 14

// FailFor makes every call of method (case-insensitive) fail with code, as
// FailNext does, from now until d has passed: an outage of the Bot API
// backend rather than one bad answer (502, 503 and 504 come as nginx HTML
// pages). Failures queued with FailNext before it come first; ones queued
// after it wait until the outage is over. At most 16384 calls fail.
func (s *Server) FailFor(method string, code int, d time.Duration) {
	s.t.Helper()
	if code < 400 || code > 599 {
		s.t.Errorf("tgfake: FailFor(%q, %d): code must be an HTTP error status", method, code)
		return
	}
	m := strings.ToLower(method)
	s.mu.Lock()
	queued := len(s.failures[m]) // FailNext failures ahead of the outage
	calls := s.calls[m]
	outage := make([]failure, outageCalls)
	for i := range outage {
		outage[i] = failure{code: code, retryAfter: 1}
	}
	s.failures[m] = append(s.failures[m], outage...)
	s.mu.Unlock()

	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		// The queue was never empty during the outage, so every call since
		// took one failure off its front: first the ones queued before,
		// then the outage's.
		used := s.calls[m] - calls
		left := outageCalls - max(0, used-queued)
		if left <= 0 {
			return
		}
		q := s.failures[m]
		from := max(0, queued-used)
		rest := make([]failure, 0, len(q)-left)
		rest = append(rest, q[:from]...)
		s.failures[m] = append(rest, q[from+left:]...)
	})
}
