package summary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLLM is an OpenAI-compatible chat completions server. It checks every
// request the way a real server would (path, auth, JSON body, model) and
// answers from a script of steps, the last step repeating.
type fakeLLM struct {
	t      testing.TB
	srv    *httptest.Server
	prefix string // "/v1" or ""
	key    string // "" expects no Authorization header at all
	model  string
	// rejectsSchema makes it answer 400 to any request with response_format,
	// like servers without structured output.
	rejectsSchema bool
	// rejectsTemperature makes it answer 400 to any request with temperature.
	rejectsTemperature bool

	mu       sync.Mutex
	script   []step
	reqs     []fakeRequest
	inflight int
	maxIn    int
	arrived  chan struct{} // optional: one send per request
	release  chan struct{} // optional: requests wait for it to close
}

type fakeRequest struct {
	Path, Auth     string
	HasAuth        bool
	Size           int
	Model          string
	Messages       []struct{ Role, Content string }
	ResponseFormat json.RawMessage `json:"response_format"`
	Temperature    *float64
}

func (r fakeRequest) user() string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			return m.Content
		}
	}
	return ""
}

type step func(w http.ResponseWriter, r *http.Request)

func newFake(t *testing.T, steps ...step) *fakeLLM {
	t.Helper()
	f := &fakeLLM{t: t, prefix: "/v1", key: "sk-test", model: "test-model", script: steps}
	t.Cleanup(newServer(f).Close)
	return f
}

func newServer(f *fakeLLM) *httptest.Server {
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f.srv
}

func (f *fakeLLM) config() Config {
	return Config{
		BaseURL: f.srv.URL + f.prefix, APIKey: f.key, Model: f.model,
		CallTimeout: 5 * time.Second, Logger: testLogger(f.t),
	}
}

// testLogger sends slog output to t.Log, shown with -v or on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// llm builds a client on the fake whose waits between retries are recorded,
// not slept.
func (f *fakeLLM) llm(cfg Config) (*LLM, *[]time.Duration) {
	f.t.Helper()
	l, err := NewLLM(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	l.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return l, waits
}

func (f *fakeLLM) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

func (f *fakeLLM) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var req fakeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, `{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}`)
		return
	}
	req.Path, req.Size = r.URL.Path, len(body)
	req.Auth = r.Header.Get("Authorization")
	_, req.HasAuth = r.Header["Authorization"]

	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	n := len(f.reqs)
	f.inflight++
	f.maxIn = max(f.maxIn, f.inflight)
	var s step
	if len(f.script) > 0 {
		s = f.script[min(n, len(f.script))-1]
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.arrived != nil {
		f.arrived <- struct{}{}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-r.Context().Done():
			return
		}
	}

	if f.key == "" && req.HasAuth {
		f.t.Errorf("Authorization header %q sent with an empty key", req.Auth)
	}
	switch {
	case r.Method != http.MethodPost || req.Path != f.prefix+"/chat/completions":
		f.t.Errorf("request %s %s, want POST %s/chat/completions", r.Method, req.Path, f.prefix)
		writeJSON(w, 404, `{"error":{"message":"Not found","type":"invalid_request_error"}}`)
		return
	case f.key != "" && req.Auth != "Bearer "+f.key:
		f.t.Errorf("Authorization %q, want %q", req.Auth, "Bearer "+f.key)
		writeJSON(w, 401, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`)
		return
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		f.t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	case req.Model != f.model:
		writeJSON(w, 404, fmt.Sprintf(`{"error":{"message":"The model %q does not exist","type":"invalid_request_error","code":"model_not_found"}}`, req.Model))
		return
	case f.rejectsSchema && len(req.ResponseFormat) > 0 && string(req.ResponseFormat) != "null":
		writeJSON(w, 400, `{"error":{"message":"response_format of type json_schema is not supported by this model","type":"invalid_request_error","param":"response_format","code":null}}`)
		return
	case f.rejectsTemperature && req.Temperature != nil:
		writeJSON(w, 400, `{"error":{"message":"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}`)
		return
	}
	if s == nil {
		s = okJSON("Сводка по статье.", "Пункт один")
	}
	s(w, r)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// okContent answers 200 with a chat completion whose message is content.
func okContent(content string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		msg, _ := json.Marshal(content)
		writeJSON(w, 200, fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1735800000,`+
			`"model":"test-model-2025","choices":[{"index":0,"message":{"role":"assistant","content":%s},`+
			`"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":85,"total_tokens":1285}}`, msg))
	}
}

// okJSON answers with the structured reply the prompt asks for.
func okJSON(summary string, points ...string) step {
	b, _ := json.Marshal(map[string]any{"summary": summary, "key_points": append([]string{}, points...)})
	return okContent(string(b))
}

func status(code int, body string, header ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if strings.HasPrefix(body, "<") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			io.WriteString(w, body)
			return
		}
		writeJSON(w, code, body)
	}
}

// hang never answers; it returns when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func garbage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	io.WriteString(w, "<html><body>Welcome to nginx!</body></html>")
}
