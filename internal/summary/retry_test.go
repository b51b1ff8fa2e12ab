package summary

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"dozor/internal/backoff"
)

func TestRetry(t *testing.T) {
	retryable := &CallError{Err: errors.New("HTTP 503"), Retryable: true}
	final := &CallError{Err: errors.New("HTTP 400")}
	slow := &CallError{Err: errors.New("HTTP 429"), Retryable: true, RetryAfter: 7 * time.Second}
	tooSlow := &CallError{Err: errors.New("HTTP 429"), Retryable: true, RetryAfter: time.Hour}
	tests := []struct {
		name      string
		script    []error // one per attempt; past the end, the last repeats
		retries   int
		wantCalls int
		wantErr   string // "" means success
		minWait   time.Duration
	}{
		{name: "first try", script: []error{nil}, retries: 3, wantCalls: 1},
		{name: "retryable then ok", script: []error{retryable, retryable, nil}, retries: 3, wantCalls: 3},
		{name: "wrapped retryable then ok", script: []error{wrap(retryable), nil}, retries: 3, wantCalls: 2},
		{name: "retries run out", script: []error{retryable}, retries: 2, wantCalls: 3, wantErr: "HTTP 503"},
		{name: "no retries", script: []error{retryable}, retries: 0, wantCalls: 1, wantErr: "HTTP 503"},
		{name: "not retryable", script: []error{final, nil}, retries: 3, wantCalls: 1, wantErr: "HTTP 400"},
		{name: "plain error", script: []error{errors.New("bad reply"), nil}, retries: 3, wantCalls: 1, wantErr: "bad reply"},
		{name: "Retry-After lengthens the wait", script: []error{slow, nil}, retries: 3, wantCalls: 2, minWait: 7 * time.Second},
		{name: "Retry-After over MaxWait", script: []error{tooSlow, nil}, retries: 3, wantCalls: 1, wantErr: "server asks to wait 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			p := DefaultRetry("test", tt.retries, testLogger(t))
			if tt.retries == 0 {
				p.MaxRetries = 0
			}
			p.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
			calls := 0
			err := Retry(context.Background(), p, func(context.Context) error {
				e := tt.script[min(calls, len(tt.script)-1)]
				calls++
				return e
			})
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if len(waits) != max(calls-1, 0) && tt.wantErr == "" {
				t.Errorf("%d waits for %d calls", len(waits), calls)
			}
			for _, w := range waits {
				if w < tt.minWait || w > 2*time.Minute {
					t.Errorf("waited %v, want in [%v, 2m]", w, tt.minWait)
				}
			}
		})
	}
}

func wrap(err error) error { return errors.Join(errors.New("batch 2"), err) }

func TestRetryContext(t *testing.T) {
	retryable := &CallError{Err: errors.New("HTTP 503"), Retryable: true, RetryAfter: 30 * time.Second}
	t.Run("next try would pass the deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		calls := 0
		err := Retry(ctx, DefaultRetry("test", 3, testLogger(t)), func(context.Context) error { calls++; return retryable })
		if calls != 1 || err == nil || !strings.Contains(err.Error(), "would pass the deadline") {
			t.Errorf("%d calls, error %v", calls, err)
		}
	})
	t.Run("cancelled during the wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := DefaultRetry("test", 3, testLogger(t))
		p.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return backoff.Sleep(ctx, d) }
		err := Retry(ctx, p, func(context.Context) error { return retryable })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, retryable) {
			t.Errorf("error %v, want both context.Canceled and the last error", err)
		}
	})
	t.Run("ctx ended during the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Retry(ctx, DefaultRetry("test", 3, testLogger(t)), func(ctx context.Context) error {
			calls++
			cancel()
			return &CallError{Err: ctx.Err(), Retryable: true}
		})
		if calls != 1 || !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "last error") {
			t.Errorf("%d calls, error %v", calls, err)
		}
	})
}

func TestDefaultRetry(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, DefaultMaxRetries}, {-1, 0}, {5, 5}} {
		if got := DefaultRetry("x", tt.in, nil).MaxRetries; got != tt.want {
			t.Errorf("DefaultRetry(%d).MaxRetries = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestAttempt runs go-openai through NewHTTPDoer against a server, as the
// embeddings client does.
func TestAttempt(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		timeout    time.Duration
		retryable  bool
		retryAfter time.Duration
		status     int
		wantErr    string
	}{
		{name: "503 with Retry-After", retryable: true, retryAfter: 7 * time.Second, status: 503, wantErr: "overloaded",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				writeJSON(w, 503, `{"error":{"message":"overloaded","type":"server_error"}}`)
			}},
		{name: "400 is final", status: 400, wantErr: "bad input",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 400, `{"error":{"message":"bad input","type":"invalid_request_error"}}`)
			}},
		{name: "no reply in time", timeout: 50 * time.Millisecond, retryable: true, wantErr: "no reply within 50ms",
			handler: hang},
		{name: "garbage", wantErr: "malformed reply", handler: garbage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Read the body first, or the server never notices that the
				// client hung up and hang waits forever.
				io.Copy(io.Discard, r.Body)
				tt.handler(w, r)
			}))
			defer srv.Close()
			oc := openai.DefaultConfig("")
			oc.BaseURL = srv.URL + "/v1"
			oc.HTTPClient = NewHTTPDoer(srv.Client(), 1<<20)
			client := openai.NewClientWithConfig(oc)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			err := Attempt(context.Background(), timeout, func(ctx context.Context) error {
				_, err := client.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{Input: []string{"x"}, Model: "m"})
				return err
			})
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *CallError", err, err)
			}
			if ce.Retryable != tt.retryable || ce.RetryAfter != tt.retryAfter || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %+v (%v), want retryable %v after %v mentioning %q", *ce, err, tt.retryable, tt.retryAfter, tt.wantErr)
			}
			var he *HTTPError
			if tt.status != 0 && (!errors.As(err, &he) || he.StatusCode != tt.status) {
				t.Errorf("error %v is not an HTTPError %d", err, tt.status)
			}
		})
	}
	if err := Attempt(context.Background(), time.Second, func(context.Context) error { return nil }); err != nil {
		t.Errorf("success gave %v (%T)", err, err)
	}
}
