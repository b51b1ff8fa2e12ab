package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck is `dozor healthcheck`: it GETs /healthz of the dozor run on
// this host (METRICS_ADDR, with an empty or unspecified host meaning
// loopback) and returns 0 on a 2xx answer, 1 on anything else. Containers
// use it as their HEALTHCHECK: distroless images have no curl or wget.
// It never returns 2, which Docker reserves.
func healthcheck(ctx context.Context, addr string, stdout, stderr io.Writer) int {
	if addr == "" {
		fmt.Fprintln(stderr, "dozor: healthcheck: METRICS_ADDR is empty, so nothing serves /healthz")
		return 1
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "dozor: healthcheck: METRICS_ADDR=%q: %v\n", addr, err)
		return 1
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "dozor: healthcheck:", err)
		return 1
	}
	// Its own transport: no proxy from the environment, no idle connections.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "dozor: healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "dozor: healthcheck: %s: %s %s\n", url, resp.Status, bytes.TrimSpace(body))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, resp.Status)
	return 0
}
