package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loopback returns a Fetcher that may reach the httptest servers on
// 127.0.0.1; the address refusal has its own tests.
func loopback(opts Options) *Fetcher {
	opts.AllowPrivate = true
	return New(opts)
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fetchError asserts err is an *Error of kind want and returns it.
func fetchError(t *testing.T, err error, want Kind) *Error {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *fetch.Error", err, err)
	}
	if fe.Kind != want {
		t.Fatalf("kind = %v (%q), want %v", fe.Kind, fe.Error(), want)
	}
	return fe
}

func TestGetSendsHeadersAndReturnsResponse(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		req        Request
		wantUA     string
		wantAccept string
	}{
		{"defaults", Options{}, Request{}, DefaultUserAgent, "*/*"},
		{"validators and accept", Options{UserAgent: "dozor-test/2"},
			Request{ETag: `"v1"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT", Accept: "application/rss+xml"},
			"dozor-test/2", "application/rss+xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				check := map[string]string{
					"User-Agent":        tt.wantUA,
					"Accept":            tt.wantAccept,
					"Accept-Encoding":   "gzip",
					"If-None-Match":     tt.req.ETag,
					"If-Modified-Since": tt.req.LastModified,
				}
				for h, want := range check {
					if got := r.Header.Get(h); got != want {
						t.Errorf("%s = %q, want %q", h, got, want)
					}
				}
				w.Header().Set("ETag", `"v2"`)
				w.Header().Set("Last-Modified", "Tue, 03 Jan 2006 15:04:05 GMT")
				w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
				fmt.Fprint(w, "<rss/>")
			}))
			defer srv.Close()
			tt.req.URL = srv.URL + "/feed"
			resp, err := loopback(tt.opts).Get(t.Context(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			want := Response{
				URL: srv.URL + "/feed", StatusCode: 200, ETag: `"v2"`,
				LastModified: "Tue, 03 Jan 2006 15:04:05 GMT",
				ContentType:  "application/rss+xml; charset=utf-8",
			}
			if string(resp.Body) != "<rss/>" {
				t.Errorf("body = %q", resp.Body)
			}
			resp.Body = nil
			if !reflect.DeepEqual(*resp, want) {
				t.Errorf("response = %+v, want %+v", *resp, want)
			}
		})
	}
}

func TestGetNotModified(t *testing.T) {
	const etag, lastMod = `"abc"`, "Mon, 02 Jan 2006 15:04:05 GMT"
	tests := []struct {
		name            string
		serverETag      string // sent with the 304, if any
		wantETag        string
		wantLastModifed string
	}{
		{"server repeats no validators", "", etag, lastMod},
		{"server sends a new etag", `"def"`, `"def"`, lastMod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("If-None-Match") != etag || r.Header.Get("If-Modified-Since") != lastMod {
					t.Errorf("conditional headers missing: %v", r.Header)
					fmt.Fprint(w, "full body")
					return
				}
				if tt.serverETag != "" {
					w.Header().Set("ETag", tt.serverETag)
				}
				w.WriteHeader(http.StatusNotModified)
			}))
			defer srv.Close()
			resp, err := loopback(Options{}).Get(t.Context(), Request{URL: srv.URL, ETag: etag, LastModified: lastMod})
			if err != nil {
				t.Fatal(err)
			}
			if !resp.NotModified || resp.StatusCode != 304 || resp.Body != nil {
				t.Errorf("response = %+v, want NotModified without body", resp)
			}
			if resp.ETag != tt.wantETag || resp.LastModified != tt.wantLastModifed {
				t.Errorf("validators = %q, %q; want %q, %q", resp.ETag, resp.LastModified, tt.wantETag, tt.wantLastModifed)
			}
		})
	}
}

func TestGetGzip(t *testing.T) {
	body := []byte(strings.Repeat("<item>новость</item>", 500))
	for _, enc := range []string{"gzip", "x-gzip"} {
		t.Run(enc, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", enc)
				w.Write(gzipped(t, body))
			}))
			defer srv.Close()
			resp, err := loopback(Options{}).Get(t.Context(), Request{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, body) {
				t.Errorf("body not decompressed: %d bytes", len(resp.Body))
			}
		})
	}
}

func TestGetBodyProblems(t *testing.T) {
	bomb := gzipped(t, make([]byte, 11<<20)) // 11 MiB of zeros
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	const smallCap = 64 << 10
	tests := []struct {
		name     string
		maxBody  int64
		handler  http.HandlerFunc
		wantKind Kind
		wantMsg  string
	}{
		{"gzip bomb", 0, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb)
		}, KindTooLarge, "response larger than 10 MiB"},
		{"content-length over cap, refused before reading", smallCap, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(smallCap+1))
			w.Write(make([]byte, 1024))
			w.(http.Flusher).Flush()
			<-r.Context().Done() // a client reading it all would wait here until its timeout
		}, KindTooLarge, "response larger than 64 KiB"},
		{"chunked body over cap", smallCap, func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 8<<10)
			for { // endless: the client must stop reading at the cap
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}, KindTooLarge, "response larger than 64 KiB"},
		{"empty body", 0, func(w http.ResponseWriter, r *http.Request) {}, KindEmpty, "empty response body"},
		{"whitespace body", 0, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, " \r\n\t") }, KindEmpty, "empty response body"},
		{"204 no content", 0, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, KindEmpty, "empty response body"},
		{"gzip of nothing", 0, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped(t, nil))
		}, KindEmpty, "empty response body"},
		{"gzip header on plain body", 0, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			fmt.Fprint(w, "<rss>not compressed</rss>")
		}, KindBadBody, "unreadable response body: gzip: invalid header"},
		{"unknown encoding", 0, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "br")
			fmt.Fprint(w, "xx")
		}, KindBadBody, `unreadable response body: unsupported Content-Encoding "br"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			_, err := loopback(Options{MaxBodyBytes: tt.maxBody, Timeout: 10 * time.Second}).Get(t.Context(), Request{URL: srv.URL})
			fe := fetchError(t, err, tt.wantKind)
			if fe.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", fe.Error(), tt.wantMsg)
			}
		})
	}
}

func TestReadBodyStopsDecompressingAtCap(t *testing.T) {
	// Over HTTP a bomb is refused either way; here the compressed bytes
	// consumed show that decompression stopped at the cap instead of
	// inflating everything and checking afterwards.
	bomb := gzipped(t, make([]byte, 16<<20))
	raw := &countingReader{r: bytes.NewReader(bomb)}
	resp := &http.Response{
		ContentLength: int64(len(bomb)),
		Header:        http.Header{"Content-Encoding": {"gzip"}},
		Body:          io.NopCloser(raw),
	}
	_, err := loopback(Options{MaxBodyBytes: 1 << 20}).readBody(resp)
	fetchError(t, err, KindTooLarge)
	if raw.n > int64(len(bomb))/2 {
		t.Errorf("read %d of %d compressed bytes for a 1 MiB cap", raw.n, len(bomb))
	}
}

func TestGetBodyExactlyAtCap(t *testing.T) {
	const limit = 1000
	for _, enc := range []string{"", "gzip"} {
		t.Run("encoding "+enc, func(t *testing.T) {
			body := bytes.Repeat([]byte("a"), limit)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if enc == "" {
					w.Write(body)
					return
				}
				w.Header().Set("Content-Encoding", enc)
				w.Write(gzipped(t, body))
			}))
			defer srv.Close()
			resp, err := loopback(Options{MaxBodyBytes: limit}).Get(t.Context(), Request{URL: srv.URL})
			if err != nil || len(resp.Body) != limit {
				t.Fatalf("a body of exactly the cap: %v", err)
			}
		})
	}
}

func TestGetStatusErrors(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		status        int
		retryAfter    string
		wantMsg       string
		wantRetry     time.Duration
		wantRetryable bool
	}{
		{404, "", "server answered 404 Not Found", 0, false},
		{410, "", "server answered 410 Gone", 0, false},
		{500, "", "server answered 500 Internal Server Error", 0, true},
		{520, "", "server answered 520", 0, true},
		{429, "120", "server answered 429 Too Many Requests; retry after 2m0s", 2 * time.Minute, true},
		{503, now.Add(90 * time.Minute).Format(http.TimeFormat), "server answered 503 Service Unavailable; retry after 1h30m0s", 90 * time.Minute, true},
		{503, "", "server answered 503 Service Unavailable", 0, true},
		{429, "soon", "server answered 429 Too Many Requests", 0, true},
		{429, now.Add(-time.Hour).Format(http.TimeFormat), "server answered 429 Too Many Requests", 0, true},
		{404, "120", "server answered 404 Not Found", 0, false}, // only 429 and 503 carry it
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.retryAfter), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, "<html>error page</html>")
			}))
			defer srv.Close()
			f := loopback(Options{})
			f.now = func() time.Time { return now }
			_, err := f.Get(t.Context(), Request{URL: srv.URL})
			fe := fetchError(t, err, KindHTTPStatus)
			if fe.StatusCode != tt.status || fe.RetryAfter != tt.wantRetry || fe.Error() != tt.wantMsg {
				t.Errorf("got %d, %v, %q; want %d, %v, %q", fe.StatusCode, fe.RetryAfter, fe.Error(), tt.status, tt.wantRetry, tt.wantMsg)
			}
			if fe.Retryable() != tt.wantRetryable {
				t.Errorf("Retryable = %v", fe.Retryable())
			}
		})
	}
}

func TestGetTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{"body stalls", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<rss><channel>")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			_, err := loopback(Options{Timeout: 50 * time.Millisecond}).Get(t.Context(), Request{URL: srv.URL})
			fe := fetchError(t, err, KindTimeout)
			if fe.Error() != "timed out after 50ms" || !fe.Retryable() {
				t.Errorf("message = %q, retryable = %v", fe.Error(), fe.Retryable())
			}
		})
	}
}

func TestGetCallerCancels(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, err := loopback(Options{}).Get(ctx, Request{URL: srv.URL})
	fetchError(t, err, KindCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not wrap context.Canceled", err)
	}
}

func TestGetRedirects(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusMovedPermanently) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/feed", http.StatusFound) })
	mux.HandleFunc("/feed", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<rss/>") })
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/feed", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	t.Run("loop", func(t *testing.T) {
		hits.Store(0)
		_, err := loopback(Options{}).Get(t.Context(), Request{URL: srv.URL + "/loop"})
		fe := fetchError(t, err, KindRedirects)
		if fe.Error() != "too many redirects (5)" {
			t.Errorf("message = %q", fe.Error())
		}
		if n := hits.Load(); n != 6 {
			t.Errorf("server saw %d requests, want 6 (1 + 5 redirects)", n)
		}
	})
	t.Run("chain is followed", func(t *testing.T) {
		resp, err := loopback(Options{}).Get(t.Context(), Request{URL: srv.URL + "/a"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.URL != srv.URL+"/feed" || string(resp.Body) != "<rss/>" {
			t.Errorf("final URL %q, body %q", resp.URL, resp.Body)
		}
	})
	t.Run("redirects disabled", func(t *testing.T) {
		_, err := loopback(Options{MaxRedirects: -1}).Get(t.Context(), Request{URL: srv.URL + "/a"})
		if fe := fetchError(t, err, KindRedirects); fe.Error() != "too many redirects (0)" {
			t.Errorf("message = %q", fe.Error())
		}
	})
	t.Run("to another scheme", func(t *testing.T) {
		_, err := loopback(Options{}).Get(t.Context(), Request{URL: srv.URL + "/ftp"})
		fetchError(t, err, KindBadURL)
	})
}

func TestGetRefusesPrivateAddress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "secret")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	f := New(Options{}) // AllowPrivate false

	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		t.Run(u, func(t *testing.T) {
			_, err := f.Get(t.Context(), Request{URL: u})
			fe := fetchError(t, err, KindPrivateAddress)
			// localhost may resolve to ::1 first elsewhere.
			want := regexp.MustCompile(`^address (127\.0\.0\.1|::1) is private; set FETCH_ALLOW_PRIVATE=true to allow it$`)
			if !want.MatchString(fe.Error()) {
				t.Errorf("message = %q", fe.Error())
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests; the connection should have been refused", n)
	}
}

func TestGetBadURL(t *testing.T) {
	f := loopback(Options{})
	for _, u := range []string{"", "example.com/feed", "/feed", "ftp://example.com/", "file:///etc/passwd", "http://", "http://[::1", "javascript:alert(1)"} {
		t.Run(u, func(t *testing.T) {
			_, err := f.Get(t.Context(), Request{URL: u})
			fetchError(t, err, KindBadURL)
		})
	}
}

func TestGetConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = loopback(Options{}).Get(t.Context(), Request{URL: "http://" + addr + "/"})
	fe := fetchError(t, err, KindNetwork)
	if !strings.HasPrefix(fe.Error(), "network error: ") || !strings.Contains(fe.Error(), "refused") || !fe.Retryable() {
		t.Errorf("message = %q", fe.Error())
	}
}

// inflight counts concurrent requests, per Host header and overall.
type inflight struct {
	mu      sync.Mutex
	perHost map[string]int
	total   int
	maxHost int
	maxAll  int
}

func (c *inflight) enter(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perHost == nil {
		c.perHost = map[string]int{}
	}
	c.perHost[host]++
	c.total++
	c.maxHost = max(c.maxHost, c.perHost[host])
	c.maxAll = max(c.maxAll, c.total)
}

func (c *inflight) leave(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.perHost[host]--
	c.total--
}

func TestGetOneRequestPerHost(t *testing.T) {
	var c inflight
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.enter(r.Host)
		defer c.leave(r.Host)
		time.Sleep(5 * time.Millisecond) // a window in which a second request would overlap
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	f := loopback(Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.Get(t.Context(), Request{URL: srv.URL}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.maxHost != 1 {
		t.Errorf("%d requests to one host ran at once", c.maxHost)
	}
}

func TestGetDifferentHostsOverlap(t *testing.T) {
	// Each request waits until the other host's request has arrived, so this
	// only finishes if the two run at the same time.
	arrived := map[string]chan struct{}{"localhost": make(chan struct{}), "127.0.0.1": make(chan struct{})}
	other := map[string]string{"localhost": "127.0.0.1", "127.0.0.1": "localhost"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		close(arrived[host])
		select {
		case <-arrived[other[host]]:
			fmt.Fprint(w, "ok")
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	f := loopback(Options{Timeout: 10 * time.Second})
	var wg sync.WaitGroup
	for host := range arrived {
		wg.Go(func() {
			if _, err := f.Get(t.Context(), Request{URL: "http://" + host + ":" + port + "/"}); err != nil {
				t.Errorf("%s: %v (did the hosts not overlap?)", host, err)
			}
		})
	}
	wg.Wait()
}

func TestGetMaxConcurrent(t *testing.T) {
	var c inflight
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.enter(r.Host)
		defer c.leave(r.Host)
		time.Sleep(5 * time.Millisecond)
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	f := loopback(Options{MaxConcurrent: 1})
	var wg sync.WaitGroup
	for i := range 6 {
		host := []string{"localhost", "127.0.0.1"}[i%2]
		wg.Go(func() {
			if _, err := f.Get(t.Context(), Request{URL: "http://" + host + ":" + port + "/"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.maxAll != 1 {
		t.Errorf("%d requests ran at once with MaxConcurrent 1", c.maxAll)
	}
}

// waitFor polls cond; the 10s bound only turns a broken lock into a failure
// instead of a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestGetCanceledWhileWaitingForHost(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before srv.Close, which waits for the handler
	f := loopback(Options{})

	first := make(chan error, 1)
	go func() {
		_, err := f.Get(t.Context(), Request{URL: srv.URL})
		first <- err
	}()
	waitFor(t, "the first request to hold the host", func() bool { return hits.Load() == 1 })

	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() {
		_, err := f.Get(ctx, Request{URL: srv.URL})
		second <- err
	}()
	waitFor(t, "the second request to wait for the host", func() bool { return f.hosts.users("127.0.0.1") == 2 })
	cancel()
	err := <-second
	fetchError(t, err, KindCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not wrap context.Canceled", err)
	}

	unblock()
	if err := <-first; err != nil {
		t.Errorf("first request: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
	if n := f.hosts.users("127.0.0.1"); n != 0 {
		t.Errorf("host lock still has %d users", n)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: KindTLS, Err: errors.New("x509: certificate signed by unknown authority")}, "TLS error: x509: certificate signed by unknown authority"},
		{&Error{Kind: KindDNS, Err: errors.New("no such host"), detail: "nope.example"}, "cannot resolve host nope.example: no such host"},
		{&Error{Kind: KindTimeout}, "timed out"},
		{&Error{Kind: KindBadURL, Err: errors.New(`scheme "ftp" is not supported`)}, `bad URL: scheme "ftp" is not supported`},
		{&Error{Kind: KindCanceled, Err: context.Canceled}, "fetch canceled: context canceled"},
		{&Error{Kind: KindTooLarge, detail: formatSize(1500)}, "response larger than 1500 bytes"},
		{&Error{Kind: KindTooLarge}, "response too large"},
		{&Error{Kind: KindRedirects}, "too many redirects"},
		{&Error{Kind: KindPrivateAddress}, "the address is private; set FETCH_ALLOW_PRIVATE=true to allow it"},
		{&Error{Kind: KindNetwork, Err: errors.New("connection reset by peer")}, "network error: connection reset by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Kind.String(), func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if s := Kind(99).String(); s != "kind(99)" {
		t.Errorf("unknown kind = %q", s)
	}
}

func TestGetTLSError(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	_, err := loopback(Options{}).Get(t.Context(), Request{URL: srv.URL}) // self-signed: not trusted
	if fe := fetchError(t, err, KindTLS); !strings.HasPrefix(fe.Error(), "TLS error: ") {
		t.Errorf("message = %q", fe.Error())
	}
}

// fakeHosts sends every connection f makes to srv, so URLs can name as many
// distinct hosts (h1.test, h2.test ...) as a test needs.
func fakeHosts(f *Fetcher, srv *httptest.Server) {
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	f.client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}

// stepServer holds every request until the test lets one finish, and reports
// arrivals in order, so a test can keep slots busy and see who comes next.
type stepServer struct {
	*httptest.Server
	arrived chan string // request paths
	proceed chan struct{}
}

func newStepServer(t *testing.T) *stepServer {
	s := &stepServer{arrived: make(chan string), proceed: make(chan struct{})}
	done := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.arrived <- r.URL.Path:
		case <-done:
			return
		}
		select {
		case <-s.proceed:
			fmt.Fprint(w, "ok")
		case <-done:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(done) }) // runs first: frees handlers a failed test left waiting
	return s
}

// expect waits for the next request to arrive and checks its path.
func (s *stepServer) expect(t *testing.T, path string) {
	t.Helper()
	select {
	case got := <-s.arrived:
		if got != path {
			t.Fatalf("server got %s, want %s", got, path)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gave up waiting for %s to arrive", path)
	}
}

// finish lets one arrived request complete.
func (s *stepServer) finish(t *testing.T) {
	t.Helper()
	select {
	case s.proceed <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("no request is waiting to finish")
	}
}

// getAsync runs f.Get in the background and delivers its error.
func getAsync(ctx context.Context, f *Fetcher, req Request) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := f.Get(ctx, req)
		ch <- err
	}()
	return ch
}

func waitAll(t *testing.T, results []<-chan error) {
	t.Helper()
	for _, ch := range results {
		if err := <-ch; err != nil {
			t.Error(err)
		}
	}
}

func slotsQueued(f *Fetcher) (urgent, normal int) {
	_, urgent, normal = f.slots.stats()
	return urgent, normal
}

func TestGetUrgentTakesHostsNextTurn(t *testing.T) {
	s := newStepServer(t)
	f := loopback(Options{})
	results := []<-chan error{getAsync(t.Context(), f, Request{URL: s.URL + "/slow"})}
	s.expect(t, "/slow")
	for i, p := range []string{"/n1", "/n2", "/n3"} {
		results = append(results, getAsync(t.Context(), f, Request{URL: s.URL + p}))
		waitFor(t, p+" to queue for the host", func() bool { return f.hosts.users("127.0.0.1") == i+2 })
	}
	results = append(results, getAsync(t.Context(), f, Request{URL: s.URL + "/urgent", Urgent: true}))
	waitFor(t, "/urgent to queue for the host", func() bool { return f.hosts.users("127.0.0.1") == 5 })
	s.finish(t)
	for _, p := range []string{"/urgent", "/n1", "/n2", "/n3"} {
		s.expect(t, p)
		s.finish(t)
	}
	waitAll(t, results)
}

func TestGetUrgentTakesNextFreeSlot(t *testing.T) {
	s := newStepServer(t)
	f := loopback(Options{MaxConcurrent: 1})
	fakeHosts(f, s.Server)
	results := []<-chan error{getAsync(t.Context(), f, Request{URL: "http://h0.test/slow"})}
	s.expect(t, "/slow")
	for i, host := range []string{"h1", "h2", "h3"} {
		results = append(results, getAsync(t.Context(), f, Request{URL: "http://" + host + ".test/" + host}))
		waitFor(t, host+" to queue for a slot", func() bool { _, n := slotsQueued(f); return n == i+1 })
	}
	results = append(results, getAsync(t.Context(), f, Request{URL: "http://h4.test/urgent", Urgent: true}))
	waitFor(t, "the urgent request to queue for a slot", func() bool { u, _ := slotsQueued(f); return u == 1 })
	s.finish(t)
	for _, p := range []string{"/urgent", "/h1", "/h2", "/h3"} {
		s.expect(t, p)
		s.finish(t)
	}
	waitAll(t, results)
}

// A bulk request holding its host's turn while it queues for a slot would
// make an urgent request for that host wait for every bulk request queued
// ahead of it; instead it is promoted, and the urgent one follows it as soon
// as a slot frees.
func TestGetUrgentPromotesHostTurnHolder(t *testing.T) {
	s := newStepServer(t)
	f := loopback(Options{MaxConcurrent: 1})
	fakeHosts(f, s.Server)
	results := []<-chan error{getAsync(t.Context(), f, Request{URL: "http://h0.test/slow"})}
	s.expect(t, "/slow")
	for i, u := range []string{"http://h2.test/b1", "http://h3.test/b2", "http://h1.test/a"} {
		results = append(results, getAsync(t.Context(), f, Request{URL: u}))
		waitFor(t, u+" to queue for a slot", func() bool { _, n := slotsQueued(f); return n == i+1 })
	}
	results = append(results, getAsync(t.Context(), f, Request{URL: "http://h1.test/c"}))
	waitFor(t, "/c to queue for h1", func() bool { return f.hosts.users("h1.test") == 2 })
	results = append(results, getAsync(t.Context(), f, Request{URL: "http://h1.test/urgent", Urgent: true}))
	waitFor(t, "/a to be promoted", func() bool { u, n := slotsQueued(f); return u == 1 && n == 2 })

	s.finish(t)
	s.expect(t, "/a")
	s.finish(t)
	// a's slot went to b1 before its turn passed to the urgent request,
	// which now takes the next free slot.
	s.expect(t, "/b1")
	waitFor(t, "the urgent request to queue for a slot", func() bool { u, _ := slotsQueued(f); return u == 1 })
	s.finish(t)
	for _, p := range []string{"/urgent", "/b2", "/c"} {
		s.expect(t, p)
		s.finish(t)
	}
	waitAll(t, results)
}

func TestGetCanceledWaitersLeakNothing(t *testing.T) {
	s := newStepServer(t)
	const limit = 2
	f := loopback(Options{MaxConcurrent: limit})
	fakeHosts(f, s.Server)
	var held []<-chan error
	for _, u := range []string{"http://h0.test/hold0", "http://h1.test/hold1"} {
		held = append(held, getAsync(t.Context(), f, Request{URL: u}))
		s.expect(t, u[len("http://h0.test"):])
	}

	ctx, cancel := context.WithCancel(t.Context())
	var canceled []<-chan error
	for i, u := range []string{
		"http://h2.test/", "http://h3.test/", "http://h4.test/", // for a slot
		"http://h0.test/", "http://h0.test/", "http://h1.test/", // for a turn
	} {
		canceled = append(canceled, getAsync(ctx, f, Request{URL: u, Urgent: i%2 == 1}))
		waitFor(t, u+" to wait", func() bool { _, w := f.Busy(); return w == i+1 })
	}
	cancel()
	for _, ch := range canceled {
		err := <-ch
		fetchError(t, err, KindCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%v does not wrap context.Canceled", err)
		}
	}
	if n, w := f.Busy(); n != limit || w != 0 {
		t.Errorf("after cancelling: %d in flight, %d waiting; want %d, 0", n, w, limit)
	}
	s.finish(t)
	s.finish(t)
	waitAll(t, held)

	// Both slots must be free: two requests reach the server together.
	var again []<-chan error
	for _, u := range []string{"http://h2.test/x", "http://h0.test/x"} {
		again = append(again, getAsync(t.Context(), f, Request{URL: u}))
	}
	s.expect(t, "/x")
	s.expect(t, "/x")
	s.finish(t)
	s.finish(t)
	waitAll(t, again)
	if n, w := f.Busy(); n != 0 || w != 0 {
		t.Errorf("at rest: %d in flight, %d waiting", n, w)
	}
	for _, h := range []string{"h0.test", "h1.test", "h2.test", "h3.test", "h4.test"} {
		if n := f.hosts.users(h); n != 0 {
			t.Errorf("%s still has %d users", h, n)
		}
	}
}

func TestGetPoliteUnderMixedLoad(t *testing.T) {
	var c inflight
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request canceled mid-flight frees its slots while its handler may
		// still run, so only requests that are never canceled are counted.
		if !strings.HasPrefix(r.URL.Path, "/cancel/") {
			c.enter(r.Host)
			defer c.leave(r.Host)
			time.Sleep(time.Millisecond) // a window in which an extra request would overlap
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	const limit = 3
	f := loopback(Options{MaxConcurrent: limit})
	fakeHosts(f, srv)
	var wg sync.WaitGroup
	for i := range 150 {
		ctx, path := t.Context(), "/"
		if i%7 == 0 { // some give up while waiting, or even mid-request
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			path = "/cancel/"
			wg.Go(func() {
				runtime.Gosched()
				cancel()
			})
		}
		req := Request{URL: fmt.Sprintf("http://h%d.test%s%d", i%5, path, i), Urgent: i%3 == 0}
		wg.Go(func() {
			_, err := f.Get(ctx, req)
			var fe *Error
			if err != nil && !(errors.As(err, &fe) && fe.Kind == KindCanceled) {
				t.Errorf("%s: %v", req.URL, err)
			}
		})
	}
	wg.Wait()
	if c.maxHost != 1 {
		t.Errorf("%d requests to one host ran at once", c.maxHost)
	}
	if c.maxAll > limit {
		t.Errorf("%d requests ran at once with MaxConcurrent %d", c.maxAll, limit)
	}
	if n, w := f.Busy(); n != 0 || w != 0 {
		t.Errorf("at rest: %d in flight, %d waiting", n, w)
	}
}
