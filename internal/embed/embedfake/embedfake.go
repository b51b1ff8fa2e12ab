// Package embedfake is an in-process fake of an OpenAI-compatible
// embeddings endpoint (POST {base}/v1/embeddings) for tests of dozor's
// embeddings client and of the whole program.
//
// It behaves like the real thing where a client could get it wrong: a
// batch of inputs per request, answered in input order with "index" and
// "usage.prompt_tokens"; the dimension is configurable (default 1024);
// "encoding_format": "base64" and "dimensions" work; an empty input list,
// an empty input or a wrong model is a 400 with OpenAI's error JSON; a
// missing API key (when one is set) is a 401. Switches make it down (503),
// slow, or fail the next N requests with a status, optionally with
// Retry-After.
//
// Its vectors come from concepts, so that meaning, not spelling, decides
// closeness across languages: every word is stemmed (internal/analysis:
// Snowball, Russian or English) and mapped through a bilingual concept
// table (ВТБ/VTB, Шанхай/Shanghai, центр/centre, открыть/open …) to a
// concept id; a word the table does not know is a concept of its own, and
// function words (в, и, the, of …) and model prefixes ("passage: ") count
// for nothing. A text's vector is the sum of one fixed random direction per
// concept, weighted by the square root of its count, normalised. So a
// Russian report and its English translation come out close (cosine 0.85
// or more once the table covers their words; AddConcept extends it), and
// two different events on one subject share only some concepts and come
// out well below that.
package embedfake

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dozor/internal/analysis"
)

// DefaultModel is the model the fake serves unless WithModel says
// otherwise.
const DefaultModel = "fake-embed"

// DefaultDim is the dimension of its vectors unless WithDim says otherwise.
const DefaultDim = 1024

// Option configures a Server.
type Option func(*Server)

// WithModel sets the one model name the server accepts.
func WithModel(name string) Option { return func(s *Server) { s.model = name } }

// WithDim sets the dimension of the vectors (default 1024).
func WithDim(n int) Option { return func(s *Server) { s.dim = max(1, n) } }

// WithAPIKey makes the server require "Authorization: Bearer key".
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// Request is one request the server answered or refused.
type Request struct {
	Model string
	Input []string
	// Status is the HTTP status it was answered with.
	Status int
}

// Server is the fake endpoint. Its methods are safe for concurrent use.
type Server struct {
	t      testing.TB
	srv    *httptest.Server
	model  string
	dim    int
	apiKey string

	mu          sync.Mutex
	concepts    map[string]string    // stem → concept id
	basis       map[string][]float32 // concept id → unit direction
	down        bool
	delay       time.Duration
	failN       int
	failCode    int
	retryAfter  time.Duration
	requests    int
	inputs      int
	received    []Request
	inFlight    int
	maxInFlight int
}

// New starts a server that closes when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t:        t,
		model:    DefaultModel,
		dim:      DefaultDim,
		concepts: map[string]string{},
		basis:    map[string][]float32{},
	}
	for _, o := range opts {
		o(s)
	}
	for _, group := range defaultConcepts {
		s.AddConcept(group...)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL to configure a client with, including /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Model is the model name the server accepts.
func (s *Server) Model() string { return s.model }

// Dim is the dimension of the vectors it answers with.
func (s *Server) Dim() int { return s.dim }

// Requests counts requests to /embeddings, answered or refused.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Inputs counts the inputs the server answered with embeddings.
func (s *Server) Inputs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inputs
}

// Received lists the requests in the order they arrived (failed ones
// included, with their status; a request whose body did not parse has no
// inputs).
func (s *Server) Received() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.received))
	for i, r := range s.received {
		out[i] = Request{Model: r.Model, Input: append([]string(nil), r.Input...), Status: r.Status}
	}
	return out
}

// MaxInFlight is the most requests the server was handling at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// SetDown makes every request fail with 503 until SetDown(false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetDelay makes the server wait d before answering (or until the client
// gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// FailNext makes the next n requests fail with HTTP status code.
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// SetRetryAfter adds Retry-After (whole seconds, rounded up) and
// Retry-After-Ms to the answers of SetDown and FailNext; 0 removes them.
func (s *Server) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = d
}

// AddConcept makes words (any language, any inflected form; phrases are
// split into words) one concept. Words already in a concept bring the new
// ones into it.
func (s *Server) AddConcept(words ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var stems []string
	for _, w := range words {
		for _, tok := range analysis.Tokens(w) {
			stems = append(stems, analysis.Stem(tok))
		}
	}
	if len(stems) == 0 {
		return
	}
	id := ""
	for _, st := range stems {
		if c, ok := s.concepts[st]; ok {
			id = c
			break
		}
	}
	if id == "" {
		id = "c:" + stems[0]
	}
	for _, st := range stems {
		s.concepts[st] = id
	}
}

// Vector is the embedding the server answers for text, normalised.
func (s *Server) Vector(text string) []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vector(text)
}

// Cosine is the cosine of the server's vectors of two texts: what a test
// can expect Client.Embed to reproduce, up to quantisation.
func (s *Server) Cosine(a, b string) float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	va, vb := s.vector(a), s.vector(b)
	var d float64
	for i := range va {
		d += float64(va[i]) * float64(vb[i])
	}
	return float32(d)
}

func (s *Server) vector(text string) []float32 {
	weights := map[string]float64{}
	for _, tok := range analysis.Tokens(stripPrefix(text)) {
		st := analysis.Stem(tok)
		if stopStems[st] {
			continue
		}
		c, ok := s.concepts[st]
		if !ok {
			c = "w:" + st
		}
		weights[c]++
	}
	v := make([]float64, s.dim)
	for c, n := range weights {
		w := math.Sqrt(n)
		for i, x := range s.direction(c) {
			v[i] += w * float64(x)
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, s.dim)
	if norm == 0 {
		// Nothing but function words: a fixed direction, as real models
		// give some vector for any input.
		copy(out, s.direction("empty"))
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// direction is the fixed random unit vector of a concept. Random
// directions in 1,024 dimensions are nearly orthogonal (cosine about
// ±0.03), so distinct concepts barely interact.
func (s *Server) direction(concept string) []float32 {
	if d, ok := s.basis[concept]; ok {
		return d
	}
	h := fnv.New64a()
	io.WriteString(h, concept)
	seed := h.Sum64()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := make([]float32, s.dim)
	var norm float64
	for i := range d {
		x := r.NormFloat64()
		d[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range d {
		d[i] = float32(float64(d[i]) / norm)
	}
	s.basis[concept] = d
	return d
}

// stripPrefix drops the instruction line some models put before queries;
// the one-word prefixes ("passage:", "query:") are stop words.
func stripPrefix(text string) string {
	if strings.HasPrefix(text, "Instruct:") {
		if _, after, ok := strings.Cut(text, "Query:"); ok {
			return after
		}
	}
	return text
}

// The HTTP side.

type embeddingRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/v1/embeddings") {
		s.t.Errorf("embedfake: request to %s %s: only POST /v1/embeddings is served", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, "Unknown request URL: "+r.URL.Path, "invalid_request_error", "", "unknown_url")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "invalid_request_error", "", "")
		return
	}
	// Read the body before anything else: only then does net/http notice a
	// client that hangs up, which SetDelay relies on.
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))

	s.mu.Lock()
	s.requests++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	delay := s.delay
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	// The reply is recorded before the client can read it, so a test sees
	// every request its call made once the call returns.
	rec := Request{}
	buf := httptest.NewRecorder()
	rec.Status = s.answer(buf, r, body, err, delay, &rec)
	s.mu.Lock()
	s.received = append(s.received, rec)
	s.mu.Unlock()
	maps.Copy(w.Header(), buf.Header())
	w.WriteHeader(buf.Code)
	w.Write(buf.Body.Bytes())
}

// answer writes the reply and returns its status.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, body []byte, readErr error, delay time.Duration, rec *Request) int {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return 499 // client closed the request, as nginx logs it
		}
	}
	if readErr != nil {
		return writeError(w, http.StatusBadRequest, "could not read the request body", "invalid_request_error", "", "")
	}
	var req embeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return writeError(w, http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error", "", "")
	}
	rec.Model = req.Model
	inputs, ok := parseInput(req.Input)
	rec.Input = inputs

	s.mu.Lock()
	down, retryAfter := s.down, s.retryAfter
	failCode := 0
	if !down && s.failN > 0 {
		s.failN--
		failCode = s.failCode
	}
	s.mu.Unlock()
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		return writeError(w, http.StatusUnauthorized, "Incorrect API key provided.", "invalid_request_error", "", "invalid_api_key")
	}
	if down || failCode != 0 {
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
			w.Header().Set("Retry-After-Ms", strconv.FormatInt(retryAfter.Milliseconds(), 10))
		}
		if down {
			return writeError(w, http.StatusServiceUnavailable, "The server is overloaded or not ready yet.", "server_error", "", "")
		}
		return writeError(w, failCode, failMessage(failCode), "server_error", "", "")
	}
	if req.Model != s.model {
		return writeError(w, http.StatusBadRequest,
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model),
			"invalid_request_error", "model", "model_not_found")
	}
	if !ok || len(inputs) == 0 {
		return writeError(w, http.StatusBadRequest,
			"'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
			"invalid_request_error", "input", "")
	}
	for i, in := range inputs {
		if in == "" {
			return writeError(w, http.StatusBadRequest, fmt.Sprintf("'$.input[%d]' is empty.", i), "invalid_request_error", "input", "")
		}
	}
	if req.Dimensions < 0 || req.Dimensions > s.dim {
		return writeError(w, http.StatusBadRequest, fmt.Sprintf("dimensions must be between 1 and %d", s.dim), "invalid_request_error", "dimensions", "")
	}

	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	data := make([]item, len(inputs))
	tokens := 0
	s.mu.Lock()
	for i, in := range inputs {
		v := s.vector(in)
		if req.Dimensions > 0 {
			v = renormalise(v[:req.Dimensions])
		}
		var emb any = v
		if req.EncodingFormat == "base64" {
			b := make([]byte, 0, 4*len(v))
			for _, x := range v {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = item{Object: "embedding", Index: i, Embedding: emb}
		tokens += max(1, len(analysis.Tokens(in)))
	}
	s.inputs += len(inputs)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data":   data,
		"model":  s.model,
		"usage":  map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
	return http.StatusOK
}

// parseInput accepts what OpenAI accepts as text: a string or a list of
// strings. Token arrays are not modelled.
func parseInput(raw json.RawMessage) ([]string, bool) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, true
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err == nil {
		return many, true
	}
	return nil, false
}

func renormalise(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out
}

func failMessage(code int) string {
	switch code {
	case http.StatusTooManyRequests:
		return "Rate limit reached for requests"
	case http.StatusBadRequest:
		return "Bad request"
	case http.StatusUnauthorized:
		return "Incorrect API key provided."
	}
	if code >= 500 {
		return "The server had an error while processing your request."
	}
	return http.StatusText(code)
}

func writeError(w http.ResponseWriter, status int, msg, typ, param, code string) int {
	e := map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}
	if param != "" {
		e["param"] = param
	}
	if code != "" {
		e["code"] = code
	}
	writeJSON(w, status, map[string]any{"error": e})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
