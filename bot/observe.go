package bot

import (
	"net/http"
	"path"
	"regexp"
	"time"
)

// Observer is told about every Bot API call: its method and the HTTP
// status of the answer, 0 when there was none. internal/metrics
// implements it, for the Telegram metrics and /healthz.
type Observer interface {
	TelegramCall(method string, code int)
}

// pollTimeout is the library's default long-poll and request timeout.
const pollTimeout = time.Minute

// methodName is what a Bot API method looks like; anything else (the
// token segment of a malformed path) is reported as "other", so the token
// never becomes a metric label.
var methodName = regexp.MustCompile(`^[A-Za-z]{1,64}$`)

// observedClient is the HTTP client the library calls Telegram with, made
// to report each call.
type observedClient struct {
	c   *http.Client
	obs Observer
}

func (o observedClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := o.c.Do(r)
	if r.Context().Err() != nil {
		return resp, err // cancelled by us: says nothing about Telegram
	}
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	method := path.Base(r.URL.Path)
	if !methodName.MatchString(method) {
		method = "other"
	}
	o.obs.TelegramCall(method, code)
	return resp, err
}
