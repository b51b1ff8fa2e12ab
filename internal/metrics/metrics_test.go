package metrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dozor/storage"
)

func TestHealthTurnsRedWhenPassesStopOrTelegramIsUnreachable(t *testing.T) {
	st, err := storage.Open(filepath.Join(t.TempDir(), "dozor.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	m := New(st, Options{PassEvery: 5 * time.Minute, Now: func() time.Time { return now }})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	health := func() (int, Health) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h Health
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, h
	}
	steps := []struct {
		name     string
		do       func()
		code     int
		pass, tg string
	}{
		{"just started", func() {}, 200, "starting", "connecting"},
		{"connected", func() { m.TelegramCall("getMe", 200) }, 200, "starting", "connected"},
		{"a pass", func() { now = now.Add(time.Minute); m.PassDone(3*time.Second, now) }, 200, "ok", "connected"},
		{"a 429 is an answer", func() { m.TelegramCall("sendMessage", 429) }, 200, "ok", "connected"},
		{"Telegram unreachable", func() { m.TelegramCall("getUpdates", 0) }, 503, "ok", "unreachable"},
		{"back", func() { m.TelegramCall("getUpdates", 200) }, 200, "ok", "connected"},
		{"passes stopped", func() { now = now.Add(16 * time.Minute) }, 503, "stale", "connected"},
	}
	for _, s := range steps {
		s.do()
		code, h := health()
		if code != s.code || h.Pass != s.pass || h.Telegram != s.tg || h.OK != (code == 200) {
			t.Errorf("%s: %d %+v, want %d pass %s telegram %s", s.name, code, h, s.code, s.pass, s.tg)
		}
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{`dozor_telegram_requests_total{code="429",method="sendMessage"} 1`, `dozor_telegram_requests_total{code="0",method="getUpdates"} 1`, "dozor_last_pass_timestamp_seconds " + strconv.FormatFloat(float64(now.Add(-16*time.Minute).Unix()), 'g', -1, 64), `dozor_queue_length{stage="deliver"} 0`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
