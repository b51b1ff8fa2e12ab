package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kind says why a fetch failed, so callers can decide whether and when to try
// again without parsing messages.
type Kind int

// The kinds of fetch failure.
const (
	KindNetwork        Kind = iota // connection refused, reset, unexpected EOF ...
	KindBadURL                     // not an absolute http(s) URL
	KindPrivateAddress             // host resolves to a private/internal address
	KindDNS                        // host name does not resolve
	KindTLS                        // handshake or certificate failure
	KindTimeout                    // Options.Timeout elapsed
	KindCanceled                   // the caller's context ended
	KindRedirects                  // more than Options.MaxRedirects redirects
	KindHTTPStatus                 // a status other than 2xx or 304
	KindTooLarge                   // body over Options.MaxBodyBytes
	KindEmpty                      // 2xx with an empty body
	KindBadBody                    // corrupt gzip, unknown Content-Encoding
)

var kindNames = [...]string{
	KindNetwork:        "network",
	KindBadURL:         "bad_url",
	KindPrivateAddress: "private_address",
	KindDNS:            "dns",
	KindTLS:            "tls",
	KindTimeout:        "timeout",
	KindCanceled:       "canceled",
	KindRedirects:      "redirects",
	KindHTTPStatus:     "http_status",
	KindTooLarge:       "too_large",
	KindEmpty:          "empty",
	KindBadBody:        "bad_body",
}

// String gives a short snake_case name for logs and metrics.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is every error Get and CheckURL return. Its message is a sentence an
// admin can act on; Kind, StatusCode and RetryAfter are for code.
type Error struct {
	Kind       Kind
	StatusCode int           // for KindHTTPStatus
	RetryAfter time.Duration // for 429 and 503 when the server sent Retry-After
	Err        error         // the underlying cause, if any

	detail string // what the message needs: a duration, a size, an address
}

func (e *Error) Error() string {
	cause := ""
	if e.Err != nil {
		cause = e.Err.Error()
	}
	switch e.Kind {
	case KindHTTPStatus:
		msg := "server answered " + strconv.Itoa(e.StatusCode)
		if text := http.StatusText(e.StatusCode); text != "" {
			msg += " " + text
		}
		if e.RetryAfter > 0 {
			msg += "; retry after " + e.RetryAfter.String()
		}
		return msg
	case KindTimeout:
		if e.detail != "" {
			return "timed out after " + e.detail
		}
		return "timed out"
	case KindRedirects:
		if e.detail != "" {
			return "too many redirects (" + e.detail + ")"
		}
		return "too many redirects"
	case KindTooLarge:
		if e.detail != "" {
			return "response larger than " + e.detail
		}
		return "response too large"
	case KindPrivateAddress:
		addr := "the address"
		if e.detail != "" {
			addr = "address " + e.detail
		}
		return addr + " is private; set FETCH_ALLOW_PRIVATE=true to allow it"
	case KindEmpty:
		return "empty response body"
	case KindTLS:
		return "TLS error: " + cause
	case KindDNS:
		if e.detail != "" {
			return "cannot resolve host " + e.detail + ": " + cause
		}
		return "cannot resolve host: " + cause
	case KindBadURL:
		return "bad URL: " + cause
	case KindCanceled:
		return "fetch canceled: " + cause
	case KindBadBody:
		return "unreadable response body: " + cause
	default:
		return "network error: " + cause
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later: timeouts,
// network trouble and the statuses servers use for "not now".
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindTimeout, KindNetwork, KindDNS:
		return true
	case KindHTTPStatus:
		return e.StatusCode == http.StatusRequestTimeout ||
			e.StatusCode == http.StatusTooManyRequests ||
			e.StatusCode >= 500
	}
	return false
}

func badURL(format string, args ...any) *Error {
	return &Error{Kind: KindBadURL, Err: fmt.Errorf(format, args...)}
}

// classify turns what net/http returned into an *Error. parent is the caller's
// context, timeout the per-request limit that was applied on top of it.
func classify(parent context.Context, err error, timeout time.Duration) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	if cerr := parent.Err(); cerr != nil {
		return &Error{Kind: KindCanceled, Err: cerr}
	}
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err // its message repeats the method and URL
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Kind: KindTimeout, Err: err, detail: timeout.String()}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &Error{Kind: KindDNS, Err: errors.New(dnsErr.Err), detail: dnsErr.Name}
	}
	if isTLSError(err) {
		return &Error{Kind: KindTLS, Err: err}
	}
	return &Error{Kind: KindNetwork, Err: err}
}

func isTLSError(err error) bool {
	var (
		rec     tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	return errors.As(err, &rec) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) ||
		// Alerts from the server ("remote error: tls: handshake failure")
		// arrive as an unexported type; only the message tells.
		strings.Contains(err.Error(), "tls: ")
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// formatSize writes a byte count the way an admin sets it: "10 MiB".
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " bytes"
	}
}
