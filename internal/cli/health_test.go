package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte("state\n"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, addr := range []string{":" + port, "0.0.0.0:" + port, "127.0.0.1:" + port, "localhost:" + port} {
		var out, errb bytes.Buffer
		if code := healthcheck(context.Background(), addr, &out, &errb); code != 0 {
			t.Errorf("healthcheck(%q) = %d, stderr %q", addr, code, errb.String())
		}
	}
	status = http.StatusServiceUnavailable
	var out, errb bytes.Buffer
	if code := healthcheck(context.Background(), ":"+port, &out, &errb); code != 1 || !strings.Contains(errb.String(), "503") {
		t.Errorf("503: code %d, stderr %q", code, errb.String())
	}
	srv.Close()
	for _, addr := range []string{"", "9090", ":" + port} {
		var out, errb bytes.Buffer
		if code := healthcheck(context.Background(), addr, &out, &errb); code != 1 || errb.Len() == 0 {
			t.Errorf("healthcheck(%q) = %d, stderr %q; want 1 and a reason", addr, code, errb.String())
		}
	}
}
