// Package fetch makes every HTTP GET dozor sends to news sites. It is polite
// (one request at a time per host, a bounded number overall, urgent requests
// first, conditional GET, an honest User-Agent), careful (a body cap that also
// holds after gzip, no connections to private addresses) and explains
// failures in plain words so an admin can fix a source. DecodeFeed and
// DecodeHTML turn whatever charset a site really used into UTF-8.
package fetch

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultUserAgent names dozor so site owners can see who is polling them.
const DefaultUserAgent = "dozor/1.0 (+https://github.com/dozor; news watcher)"

// Options configures a Fetcher. Zero values mean the defaults noted.
type Options struct {
	UserAgent     string        // default DefaultUserAgent
	Timeout       time.Duration // per request, including the body; default 20s
	MaxBodyBytes  int64         // after decompression; default 10 MiB
	MaxConcurrent int           // requests in flight overall; default 8
	AllowPrivate  bool          // allow loopback/private/link-local targets
	MaxRedirects  int           // default 5; negative means none are followed
}

// Request is one GET. ETag and LastModified are the validators from the last
// successful fetch, sent back so an unchanged feed costs a 304.
type Request struct {
	URL          string
	ETag         string
	LastModified string
	Accept       string // default "*/*"

	// Urgent requests take the host's next turn and the next free slot ahead
	// of other waiting requests; politeness limits still hold. Meant for the
	// page an alert is waiting for, not for bulk work.
	Urgent bool
}

// Response is a successful GET (2xx with a body, or 304).
type Response struct {
	URL          string // final URL after redirects
	StatusCode   int
	NotModified  bool // 304: Body is nil, validators are kept
	ETag         string
	LastModified string
	ContentType  string
	Body         []byte // raw bytes, gzip already undone
}

// Fetcher is safe for concurrent use; build one per process with New.
type Fetcher struct {
	opts   Options
	client *http.Client
	hosts  hostGates
	slots  *gate // Options.MaxConcurrent
	now    func() time.Time
}

// New builds a Fetcher and its transport.
func New(opts Options) *Fetcher {
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 10 << 20
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 8
	}
	switch {
	case opts.MaxRedirects == 0:
		opts.MaxRedirects = 5
	case opts.MaxRedirects < 0:
		opts.MaxRedirects = 0
	}

	dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		dialer.Control = dialControl
	}
	transport := &http.Transport{
		// No proxy: through one, the address check would see only the proxy.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // gzip is undone here, under the size cap
	}
	f := &Fetcher{
		opts:  opts,
		slots: newGate(opts.MaxConcurrent),
		now:   time.Now,
	}
	f.client = &http.Client{Transport: transport, CheckRedirect: f.checkRedirect}
	return f
}

// Busy reports how many requests are in flight and how many wait for their
// host's turn or a free slot, for logs and metrics. It is a snapshot.
func (f *Fetcher) Busy() (inFlight, waiting int) {
	inFlight, urgent, normal := f.slots.stats()
	return inFlight, urgent + normal + f.hosts.waiting()
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.opts.MaxRedirects {
		return &Error{Kind: KindRedirects, detail: strconv.Itoa(f.opts.MaxRedirects)}
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return badURL("redirected to scheme %q, only http and https are fetched", s)
	}
	return nil
}

// Get fetches req.URL. It waits for the host's turn and then a free slot (or
// for ctx to end), then allows Options.Timeout for the request and body. Every
// error is an *Error.
func (f *Fetcher) Get(ctx context.Context, req Request) (*Response, error) {
	u, err := parseURL(req.URL)
	if err != nil {
		return nil, err
	}
	// The host's turn comes first, so a request stuck behind its host does
	// not sit on a slot that another host could use.
	host, unlock, err := f.hosts.lock(ctx, strings.ToLower(u.Hostname()), req.Urgent)
	if err != nil {
		return nil, &Error{Kind: KindCanceled, Err: err}
	}
	defer unlock()
	// A normal request holding the turn is promoted once an urgent one queues
	// for the same host; else the urgent one would wait for all the bulk work
	// queued ahead of this request.
	if err := f.slots.acquire(ctx, req.Urgent, host.urgentQueued()); err != nil {
		return nil, &Error{Kind: KindCanceled, Err: err}
	}
	defer f.slots.release()

	rctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	resp, err := f.do(rctx, u.String(), req)
	if err != nil {
		return nil, classify(ctx, err, f.opts.Timeout)
	}
	return resp, nil
}

func (f *Fetcher) do(ctx context.Context, u string, req Request) (*Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, badURL("%v", err)
	}
	accept := req.Accept
	if accept == "" {
		accept = "*/*"
	}
	hreq.Header.Set("User-Agent", f.opts.UserAgent)
	hreq.Header.Set("Accept", accept)
	hreq.Header.Set("Accept-Encoding", "gzip")
	if req.ETag != "" {
		hreq.Header.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		hreq.Header.Set("If-Modified-Since", req.LastModified)
	}

	resp, err := f.client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()

	out := &Response{
		URL:          resp.Request.URL.String(),
		StatusCode:   resp.StatusCode,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		ContentType:  resp.Header.Get("Content-Type"),
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		out.NotModified = true
		if out.ETag == "" {
			out.ETag = req.ETag
		}
		if out.LastModified == "" {
			out.LastModified = req.LastModified
		}
		return out, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		e := &Error{Kind: KindHTTPStatus, StatusCode: resp.StatusCode}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), f.now())
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets a small error page keep the connection
		return nil, e
	}
	out.Body, err = f.readBody(resp)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readBody reads at most MaxBodyBytes+1 bytes, before and after gunzip, so an
// oversized or decompression-bomb body is refused without being read whole.
func (f *Fetcher) readBody(resp *http.Response) ([]byte, error) {
	limit := f.opts.MaxBodyBytes
	tooLarge := &Error{Kind: KindTooLarge, detail: formatSize(limit)}
	if resp.ContentLength > limit {
		return nil, tooLarge
	}
	raw := &countingReader{r: io.LimitReader(resp.Body, limit+1)}
	var r io.Reader = raw
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if errors.Is(err, io.EOF) {
			return nil, &Error{Kind: KindEmpty}
		}
		if err != nil {
			return nil, gzipError(err, raw.n > limit, tooLarge)
		}
		defer zr.Close()
		r = io.LimitReader(zr, limit+1)
	default:
		return nil, &Error{Kind: KindBadBody, Err: errors.New("unsupported Content-Encoding " + strconv.Quote(enc))}
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, gzipError(err, raw.n > limit, tooLarge)
	}
	if int64(len(body)) > limit || raw.n > limit {
		return nil, tooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &Error{Kind: KindEmpty}
	}
	return body, nil
}

// gzipError sorts a read error: a compressed stream cut at the cap is too
// large, a broken one is a bad body, anything else is the network's.
func gzipError(err error, overCap bool, tooLarge *Error) error {
	var corrupt flate.CorruptInputError
	switch {
	case overCap:
		return tooLarge
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return &Error{Kind: KindBadBody, Err: err}
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
