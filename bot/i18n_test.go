package bot

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var verbPattern = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

func TestPhrasesHaveBothLanguages(t *testing.T) {
	t.Parallel()
	for key, p := range phrases {
		if strings.TrimSpace(p.en) == "" || strings.TrimSpace(p.ru) == "" {
			t.Errorf("%s: missing a language", key)
			continue
		}
		en, ru := verbPattern.FindAllString(p.en, -1), verbPattern.FindAllString(p.ru, -1)
		if strings.Join(en, " ") != strings.Join(ru, " ") {
			t.Errorf("%s: format verbs differ: en %v, ru %v", key, en, ru)
		}
	}
}

// Every key the code asks for exists: a typo would show the key itself to
// users.
func TestPhraseKeysUsedExist(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	use := regexp.MustCompile(`tr\([^,()]+, "([a-z_]+)"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllStringSubmatch(string(src), -1) {
			if strings.HasSuffix(m[1], "_") {
				continue // a prefix completed at run time; checked below
			}
			n++
			if _, ok := phrases[m[1]]; !ok {
				t.Errorf("%s: tr key %q does not exist", f, m[1])
			}
		}
	}
	if n < 50 {
		t.Errorf("found only %d uses of tr; the pattern is broken", n)
	}
	for _, k := range []string{"mode_instant", "status_pending", "status_approved", "status_banned"} {
		if _, ok := phrases[k]; !ok {
			t.Errorf("dynamic key %q missing", k)
		}
	}
}

func TestLangFromCode(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{"ru": "ru", "ru-RU": "ru", "RU": "ru", "en": "en", "en-GB": "en", "": "en", "uk": "en", "rus": "en"} {
		if got := langFromCode(code); got != want {
			t.Errorf("langFromCode(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t      time.Time
		en, ru string
	}{
		{time.Time{}, "never", "никогда"},
		{now.Add(-10 * time.Second), "just now", "только что"},
		{now.Add(-5 * time.Minute), "5 min ago", "5 мин назад"},
		{now.Add(-3 * time.Hour), "3 h ago", "3 ч назад"},
		{now.Add(-72 * time.Hour), "3 days ago", "3 дн назад"},
	} {
		if got := ago("en", now, tc.t); got != tc.en {
			t.Errorf("en: %q, want %q", got, tc.en)
		}
		if got := ago("ru", now, tc.t); got != tc.ru {
			t.Errorf("ru: %q, want %q", got, tc.ru)
		}
	}
}
