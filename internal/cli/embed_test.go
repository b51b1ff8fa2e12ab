package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"dozor/internal/embed/embedfake"
)

// With EMBEDDINGS_MODEL set, dozor poll embeds what it stores and dozor
// search finds an English report for a Russian query.
func TestSearchByMeaningFromTheCommandLine(t *testing.T) {
	emb := embedfake.New(t)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rss" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>%[1]s/</link>
<item><title>VTB opens an office in Shanghai</title><link>%[1]s/vtb</link><description>VTB opened an office in Shanghai.</description><pubDate>%[2]s</pubDate></item>
<item><title>Gazprom cuts output</title><link>%[1]s/gazprom</link><description>Gazprom cut its gas output this year.</description><pubDate>%[2]s</pubDate></item>
</channel></rss>`, "http://"+r.Host, time.Now().Format(time.RFC1123Z))
	}))
	t.Cleanup(site.Close)
	env(t, "FETCH_ALLOW_PRIVATE", "true", "FETCH_FULL_TEXT", "false",
		"EMBEDDINGS_MODEL", emb.Model(), "EMBEDDINGS_BASE_URL", emb.URL())
	os.WriteFile("wl.yaml", []byte(fmt.Sprintf("sources:\n  - url: %s/rss\ntopics:\n  - name: vtb\n    query: VTB\n", site.URL)), 0o600)
	if code, _, stderr := dozor(t, "import", "wl.yaml"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := dozor(t, "poll"); code != 0 {
		t.Fatalf("poll exited %d: %s", code, lastLines(stderr, 5))
	}
	if emb.Inputs() == 0 {
		t.Fatal("poll embedded nothing")
	}
	const q = "ВТБ открыл офис в Шанхае"
	code, out, stderr := dozor(t, "search", q)
	if code != 0 {
		t.Fatalf("search exited %d: %s", code, stderr)
	}
	if !strings.Contains(out, "VTB opens an office in Shanghai") || strings.Contains(out, "Gazprom") {
		t.Errorf("dozor search %q printed:\n%s\nwant the English VTB story alone", q, out)
	}
	// Without embeddings the words alone find nothing.
	t.Setenv("EMBEDDINGS_MODEL", "")
	if _, out, _ := dozor(t, "search", q); strings.Contains(out, "VTB") {
		t.Errorf("without embeddings the words found:\n%s", out)
	}
}
