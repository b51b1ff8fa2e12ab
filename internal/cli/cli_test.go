package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dozor/internal/config"
	"dozor/storage"
)

// env gives a test its own working directory and database.
func env(t *testing.T, kv ...string) string {
	t.Helper()
	// The developer's own settings (an exported OPENAI_API_KEY, say) must
	// not leak into the tests: start from a clean slate.
	for _, v := range config.Vars() {
		for _, name := range []string{v.Name, v.Name + "_FILE"} {
			t.Setenv(name, "") // restored after the test
			os.Unsetenv(name)
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	db := filepath.Join(dir, "data", "dozor.db")
	t.Setenv("DOZOR_DB", db)
	t.Setenv("LOG_LEVEL", "error")
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
	return db
}

func dozor(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUnknownCommandAndBadConfig(t *testing.T) {
	env(t)
	if code, _, stderr := dozor(t, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
	t.Setenv("WATCH_SCHEDULE", "whenever")
	code, _, stderr := dozor(t, "poll")
	if code != 2 || !strings.Contains(stderr, "WATCH_SCHEDULE") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("bad WATCH_SCHEDULE: code %d, stderr %q", code, stderr)
	}
}

const watchlistYAML = `sources:
  - url: https://www.finextra.com/rss/headlines.aspx?utm_source=x
    name: Finextra
  - url: https://www.cnews.ru/inc/rss/news.xml
topics:
  - name: vtb-china
    query: (ВТБ OR VTB) (Китай OR China)
`

func TestImportExportRoundTripNeverDuplicates(t *testing.T) {
	env(t)
	os.WriteFile("wl.yaml", []byte(watchlistYAML), 0o600)
	for i := range 2 {
		code, out, stderr := dozor(t, "import", "wl.yaml")
		if code != 0 {
			t.Fatalf("import #%d: %d %s", i, code, stderr)
		}
		if i == 1 && !strings.Contains(out, "0 new") {
			t.Errorf("second import should add nothing: %q", out)
		}
	}
	code, out, stderr := dozor(t, "export")
	if code != 0 {
		t.Fatal(stderr)
	}
	if strings.Count(out, "url:") != 2 || strings.Count(out, "- name: vtb-china") != 1 {
		t.Errorf("export:\n%s", out)
	}
	if strings.Contains(out, "utm_source") {
		t.Errorf("source URL not canonical:\n%s", out)
	}
	// The export imports cleanly into a fresh database.
	os.WriteFile("exported.yaml", []byte(out), 0o600)
	t.Setenv("DOZOR_DB", filepath.Join(t.TempDir(), "other.db"))
	if code, _, stderr := dozor(t, "import", "exported.yaml"); code != 0 {
		t.Fatal(stderr)
	}
}

func TestImportRejectsBadFilesAndChangesNothing(t *testing.T) {
	db := env(t)
	for name, doc := range map[string]string{
		"bad query":  "topics:\n  - name: x\n    query: (ВТБ OR\n",
		"bad name":   "topics:\n  - name: a b\n    query: ВТБ\n",
		"typo field": "topics:\n  - name: x\n    querry: ВТБ\n",
		"private":    "sources:\n  - url: http://127.0.0.1:8080/rss\n",
		"not a url":  "sources:\n  - url: ftp://example.com/feed\n",
		"not yaml":   "{{{",
	} {
		os.WriteFile("bad.yaml", []byte(doc), 0o600)
		code, _, stderr := dozor(t, "import", "bad.yaml")
		if code == 0 || stderr == "" {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := os.Stat(db); err == nil {
		st, err := storage.Open(db, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c, _ := st.Count()
		if c.Sources != 0 || c.Topics != 0 {
			t.Errorf("bad imports stored something: %+v", c)
		}
	}
}

func TestPollPrintsMatchesFailuresAndCount(t *testing.T) {
	env(t, "FETCH_ALLOW_PRIVATE", "true")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rss" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Лента</title>
<item><title>ВТБ рассматривает создание ИИ-центра в Китае</title><link>https://news.example/vtb</link>
<description>Банк ВТБ прорабатывает создание центра ИИ в Китае.</description><pubDate>%s</pubDate></item>
</channel></rss>`, time.Now().Format(time.RFC1123Z))
	}))
	defer srv.Close()
	os.WriteFile("wl.yaml", []byte(fmt.Sprintf("sources:\n  - url: %s/rss\n  - url: %s/gone\ntopics:\n  - name: vtb\n    query: ВТБ Китай\n", srv.URL, srv.URL)), 0o600)
	if code, _, stderr := dozor(t, "import", "wl.yaml"); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr := dozor(t, "poll")
	if code != 0 {
		t.Fatalf("poll: %d %s", code, stderr)
	}
	for _, want := range []string{"[vtb] ВТБ рассматривает создание ИИ-центра в Китае", "https://news.example/vtb", "Лента",
		"FAILED " + srv.URL + "/gone", "404", "1 new articles", "1 matches"} {
		if !strings.Contains(out, want) {
			t.Errorf("poll output lacks %q:\n%s", want, out)
		}
	}
}

func TestLockedDatabaseFailsFastNamingTheHolder(t *testing.T) {
	db := env(t)
	st, err := storage.Open(db, storage.Options{Command: "dozor run"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	code, _, stderr := dozor(t, "export")
	if code == 0 || !strings.Contains(stderr, "dozor run") {
		t.Errorf("code %d stderr %q", code, stderr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

const (
	testToken = "424242:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	testKey   = "sk-test-0123456789abcdef"
)

// leaked returns the forms of the test secrets found in out.
func leaked(out string) []string {
	var found []string
	for _, f := range []string{testToken, url.QueryEscape(testToken), "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", testKey} {
		if strings.Contains(out, f) {
			found = append(found, f)
		}
	}
	return found
}

func TestLoggerScrubsSecrets(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := &config.Config{TelegramToken: testToken, OpenAIKey: testKey, LogFormat: format, LogLevel: slog.LevelInfo}
			log := newLogger(cfg, &buf)
			log.Debug("hidden " + testToken)
			log.Warn("getMe failed", "err", &url.Error{Op: "Post", URL: "https://api.telegram.org/bot" + testToken + "/getMe", Err: errors.New("refused")})
			log.Info("model", "q", "key="+url.QueryEscape(testKey), "k", testKey)
			out := buf.String()
			if f := leaked(out); len(f) > 0 {
				t.Errorf("log has %q:\n%s", f, out)
			}
			if strings.Contains(out, "hidden") || !strings.Contains(out, "getMe failed") || strings.Count(out, "[REDACTED]") != 3 {
				t.Errorf("log:\n%s", out)
			}
		})
	}
}

func TestPrintedErrorsAreScrubbed(t *testing.T) {
	env(t, "TELEGRAM_BOT_TOKEN", testToken, "OPENAI_API_KEY", testKey)
	// A database path under a regular file: the error names the path.
	os.WriteFile("blocker", nil, 0o600)
	t.Setenv("DOZOR_DB", filepath.Join("blocker", testToken, testKey, "dozor.db"))
	code, _, stderr := dozor(t, "export")
	if code != 1 || !strings.Contains(stderr, "blocker/[REDACTED]/[REDACTED]") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	if f := leaked(stderr); len(f) > 0 {
		t.Errorf("stderr has %q: %s", f, stderr)
	}

	// A configuration error comes before the secrets are known; a
	// token-shaped value is scrubbed all the same.
	t.Setenv("WATCH_SCHEDULE", testToken)
	code, _, stderr = dozor(t, "poll")
	if code != 2 || !strings.Contains(stderr, "WATCH_SCHEDULE") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	if f := leaked(stderr); len(f) > 0 {
		t.Errorf("stderr has %q: %s", f, stderr)
	}
}

// poll waits for the pages and summaries of what matched, never for the
// pages of what did not: those stay queued for dozor run, and the last
// line says how many.
func TestPollWaitsOnlyForWhatMatched(t *testing.T) {
	env(t, "FETCH_ALLOW_PRIVATE", "true", "FETCH_CONCURRENCY", "2")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var pages atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/rss":
			var items strings.Builder
			for i := range 30 {
				fmt.Fprintf(&items, `<item><title>Погода %d</title><link>%s/p/%d</link><description>Дождь.</description><pubDate>%s</pubDate></item>`,
					i, srv.URL, i, time.Now().Format(time.RFC1123Z))
			}
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Лента</title>
<item><title>ВТБ рассматривает создание ИИ-центра в Китае</title><link>%s/vtb</link>
<description>Банк ВТБ прорабатывает создание центра ИИ в Китае.</description><pubDate>%s</pubDate></item>%s
</channel></rss>`, srv.URL, time.Now().Format(time.RFC1123Z), items.String())
		case r.URL.Path == "/vtb":
			fmt.Fprint(w, `<html><body><article><h1>ВТБ рассматривает создание ИИ-центра в Китае</h1>
<p>Банк ВТБ прорабатывает создание центра компетенций в области искусственного интеллекта на территории Китая.</p>
<p>ВТБ уже имеет представительство в Шанхае, что может упростить создание нового центра.</p></article></body></html>`)
		default:
			// Pages of what matched nothing hang until the test ends.
			pages.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	os.WriteFile("wl.yaml", []byte(fmt.Sprintf("sources:\n  - url: %s/rss\ntopics:\n  - name: vtb\n    query: ВТБ Китай\n  - name: shanghai\n    query: Шанхай\n", srv.URL)), 0o600)
	if code, _, stderr := dozor(t, "import", "wl.yaml"); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr := dozor(t, "poll")
	if code != 0 {
		t.Fatalf("poll: %d %s", code, stderr)
	}
	for _, want := range []string{
		"Matched on the feeds' text:\n[vtb] ВТБ рассматривает создание ИИ-центра в Китае",
		// The page's full text matched one more topic.
		"Summaries:\n[vtb, shanghai] ВТБ рассматривает создание ИИ-центра в Китае\n    summary (extractive fallback): ",
		"1 matches", "1 summarised",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("poll output lacks %q:\n%s", want, out)
		}
	}
	var remaining int
	last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
	if _, err := fmt.Sscanf(last[strings.LastIndex(last, "; ")+2:], "%d pages remain queued for dozor run", &remaining); err != nil {
		t.Fatalf("last line %q: %v", last, err)
	}
	if remaining < 28 || remaining > 30 {
		t.Errorf("%d pages remain queued, want the 30 of what matched nothing but those in flight", remaining)
	}
	if n := pages.Load(); n > 2 {
		t.Errorf("%d pages of what matched nothing were requested; one host takes one at a time", n)
	}
}
