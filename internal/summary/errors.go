package summary

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sashabaranov/go-openai"
)

// HTTPError is an error status from the endpoint, with the server's message
// pulled out of whichever body shape it used: OpenAI's {"error":{"message"}},
// Ollama's {"error":"..."}, or a proxy's HTML page.
type HTTPError struct {
	StatusCode int
	Message    string
	// Param is the rejected request field when the server names it.
	Param string
	err   error
}

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
}

func (e *HTTPError) Unwrap() error { return e.err }

// CallError is one failed attempt at an OpenAI-compatible endpoint and what
// to do about it; Attempt makes them and Retry acts on them.
type CallError struct {
	Err error
	// Retryable: repeating the request could succeed.
	Retryable bool
	// RetryAfter is the wait the server asked for, 0 if none.
	RetryAfter time.Duration
}

func (e *CallError) Error() string { return e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

// classify sorts a failed attempt: 429, 5xx, 408, timeouts and broken
// connections are worth another try; other statuses, bad TLS and malformed
// replies are not, as repeating the request cannot change them.
func classify(err error, rec *responseRecord, timedOut bool, timeout time.Duration) *CallError {
	ce := &CallError{Err: err}
	if rec != nil {
		ce.RetryAfter = rec.retryAfter
	}
	var (
		apiErr *openai.APIError
		reqErr *openai.RequestError
	)
	switch {
	case timedOut:
		ce.Err = fmt.Errorf("no reply within %v: %w", timeout, context.DeadlineExceeded)
		ce.Retryable = true
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode > 0:
		he := &HTTPError{StatusCode: apiErr.HTTPStatusCode, Message: cutRunes(cleanReply(apiErr.Message), 300), err: err}
		if apiErr.Param != nil {
			he.Param = *apiErr.Param
		}
		ce.Err, ce.Retryable = he, retryableStatus(he.StatusCode)
	case errors.As(err, &reqErr) && reqErr.HTTPStatusCode > 0:
		he := &HTTPError{StatusCode: reqErr.HTTPStatusCode, Message: bodyMessage(reqErr.Body), err: err}
		ce.Err, ce.Retryable = he, retryableStatus(he.StatusCode)
	case rec != nil && rec.status >= 200 && rec.status < 300:
		// A 2xx whose body is not a chat completion: a proxy page, garbage.
		ce.Err = fmt.Errorf("malformed reply (HTTP %d): %w", rec.status, err)
	case isTLSError(err):
		ce.Retryable = false
	case isConnError(err):
		ce.Retryable = true
	}
	return ce
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}

func isConnError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

func isTLSError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		rh  tls.RecordHeaderError
		cve *tls.CertificateVerificationError
	)
	return errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) ||
		errors.As(err, &rh) || errors.As(err, &cve)
}

// bodyMessage extracts a readable message from an error body go-openai could
// not parse.
func bodyMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var s string
		var obj struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(v.Error, &s) == nil && s != "":
		case json.Unmarshal(v.Error, &obj) == nil && obj.Message != "":
			s = obj.Message
		case v.Message != "":
			s = v.Message
		case json.Unmarshal(v.Detail, &s) == nil && s != "":
		case len(v.Detail) > 0:
			s = string(v.Detail)
		}
		if s != "" {
			return cutRunes(cleanReply(s), 300)
		}
	}
	return cutRunes(cleanReply(string(body)), 300)
}

// recordKey carries a *responseRecord in a request's context, so the doer can
// hand back what go-openai's errors do not expose: the status and Retry-After
// of the response to that very request.
type recordKey struct{}

type responseRecord struct {
	status     int
	retryAfter time.Duration
}

// recordingDoer is the go-openai HTTP client: it records status and
// Retry-After per request and caps the body it lets go-openai read.
type recordingDoer struct {
	client *http.Client
	limit  int64
}

func (d *recordingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	if rec, ok := req.Context().Value(recordKey{}).(*responseRecord); ok {
		rec.status = resp.StatusCode
		rec.retryAfter = retryAfter(resp.Header, time.Now())
	}
	resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, d.limit), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// retryAfter reads Retry-After (seconds or an HTTP date) or, failing that,
// the retry-after-ms some OpenAI-compatible servers send.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < 1e6 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	return 0
}
