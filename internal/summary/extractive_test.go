package summary

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

const seedsDir = "../testdata/seeds"

func seed(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(seedsDir, name))
	if err != nil {
		t.Fatalf("seed article missing: %v", err)
	}
	return string(b)
}

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"russian abbreviations",
			"Он, т.е. директор, приехал в 2024 г. в Москву. Рост составил 3.5% за год. Офис в г. Москва открыт.",
			[]string{"Он, т.е. директор, приехал в 2024 г. в Москву.", "Рост составил 3.5% за год.", "Офис в г. Москва открыт."}},
		{"year abbreviation ends sentence",
			"Это случилось в 2023 г. Банк не ответил.",
			[]string{"Это случилось в 2023 г.", "Банк не ответил."}},
		{"initials", "В. Путин подписал указ. Его исполнит Г. Греф.",
			[]string{"В. Путин подписал указ.", "Его исполнит Г. Греф."}},
		{"english abbreviations",
			"Mr. Smith met Dr. Jones in the U.S. in 2020. The U.S. Treasury said e.g. Sberbank. It was 5.5 p.m.",
			[]string{"Mr. Smith met Dr. Jones in the U.S. in 2020.", "The U.S. Treasury said e.g. Sberbank.", "It was 5.5 p.m."}},
		{"etc ends", "Банки, биржи и т.д. Потом решили.", []string{"Банки, биржи и т.д.", "Потом решили."}},
		{"question, exclamation, ellipsis", "Что дальше?! Неясно… Посмотрим... может быть. Итог!",
			[]string{"Что дальше?!", "Неясно…", "Посмотрим... может быть.", "Итог!"}},
		{"quotes", "«Почему?» — спросил он. Он сказал: «Да». «Нет», — ответила она.",
			[]string{"«Почему?» — спросил он.", "Он сказал: «Да».", "«Нет», — ответила она."}},
		{"quote closes sentence", `He said "yes." Then left.`, []string{`He said "yes."`, "Then left."}},
		{"lines", "Заголовок без точки\nПервый абзац. Второе предложение\n\n  \nТретий", []string{"Заголовок без точки", "Первый абзац.", "Второе предложение", "Третий"}},
		{"urls and numbers", "See example.com/a.html now. Total 1.000.000 rub.", []string{"See example.com/a.html now.", "Total 1.000.000 rub."}},
		{"money abbreviation", "Прибыль 5 млрд руб. Это рекорд.", []string{"Прибыль 5 млрд руб.", "Это рекорд."}},
		{"empty", "  \n ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitSentences(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
		cut      bool
	}{
		{"short", "Коротко.", 100, "Коротко.", false},
		{"exact", "абв", 3, "абв", false},
		{"sentence", "Первое предложение. Второе длинное предложение", 40, "Первое предложение. Второе длинное", true},
		{"sentence boundary in window", "Раз два три. Четыре пять", 14, "Раз два три.", true},
		{"sentence boundary too early", "Раз два три. Четыре пять", 19, "Раз два три. Четыре", true},
		{"word", "слово слово слово слово", 14, "слово слово", true},
		{"no space", "ааааааааааааа", 5, "ааааа", true},
		{"zero", "x", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := truncate(tt.in, tt.max)
			if got != tt.want || cut != tt.cut {
				t.Errorf("truncate(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, cut, tt.want, tt.cut)
			}
			if utf8.RuneCountInString(got) > tt.max {
				t.Errorf("%d runes > %d", utf8.RuneCountInString(got), tt.max)
			}
		})
	}
}

// checkExtractive asserts what every extractive summary promises.
func checkExtractive(t *testing.T, s Summary, text string) {
	t.Helper()
	if !s.Extractive || s.Model != "" || s.PromptTokens != 0 {
		t.Errorf("not marked extractive: %+v", s)
	}
	if n := utf8.RuneCountInString(s.Text); n == 0 || n > extractiveRunes {
		t.Errorf("summary has %d runes, want 1..%d", n, extractiveRunes)
	}
	sents := splitSentences(s.Text)
	if len(sents) < 2 || len(sents) > defaultSentences {
		t.Errorf("%d sentences, want 2..3: %q", len(sents), sents)
	}
	flat := normKey(text)
	for _, sent := range append(sents, s.KeyPoints...) {
		if !endsSentence(sent) {
			t.Errorf("not cut on a sentence boundary: %q", sent)
		}
		if !strings.Contains(flat, normKey(sent)) {
			t.Errorf("sentence not from the article: %q", sent)
		}
	}
	if len(s.KeyPoints) > maxKeyPoints {
		t.Errorf("%d key points", len(s.KeyPoints))
	}
	for _, p := range s.KeyPoints {
		if utf8.RuneCountInString(p) > maxKeyPointRunes || strings.Contains(s.Text, p) {
			t.Errorf("bad key point %q", p)
		}
	}
}

func TestExtractiveSeeds(t *testing.T) {
	t.Run("russian", func(t *testing.T) {
		text := seed(t, "vtb-ai-centre-china.ru.txt")
		s := Extractive(Article{Title: "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований", Text: text}, 3)
		checkExtractive(t, s, text)
		if s.Lang != "ru" {
			t.Errorf("lang %q", s.Lang)
		}
		cyr, lat := 0, 0
		for _, r := range s.Text {
			if unicode.Is(unicode.Cyrillic, r) {
				cyr++
			} else if unicode.Is(unicode.Latin, r) {
				lat++
			}
		}
		if cyr < 10*lat {
			t.Errorf("not Russian: %q", s.Text)
		}
		if !strings.Contains(s.Text, "ВТБ") || !strings.Contains(s.Text, "Китая") {
			t.Errorf("the lead is missing: %q", s.Text)
		}
	})
	t.Run("english with boilerplate", func(t *testing.T) {
		text := seed(t, "finextra-sberbank-china-ai.en.txt")
		s := Extractive(Article{Lang: "en", Text: text}, 3)
		checkExtractive(t, s, text)
		if s.Lang != "en" {
			t.Errorf("lang %q", s.Lang)
		}
		if !strings.Contains(s.Text, "Sberbank") {
			t.Errorf("missing the subject: %q", s.Text)
		}
		for _, junk := range []string{"cookies", "Accept", "Share", "Related", "Webinar", "editorial team"} {
			if strings.Contains(s.Text, junk) {
				t.Errorf("boilerplate %q in %q", junk, s.Text)
			}
		}
	})
}

func TestExtractiveEdges(t *testing.T) {
	tests := []struct {
		name string
		a    Article
		max  int
		want string
		lang string
	}{
		{"empty text uses title", Article{Title: "  Только\nзаголовок "}, 3, "Только заголовок", "ru"},
		{"nothing", Article{}, 3, "", "en"},
		{"one sentence", Article{Text: "Bank of Russia kept its key rate at 21 percent."}, 3, "Bank of Russia kept its key rate at 21 percent.", "en"},
		{"max sentences", Article{Text: "One two three four. Five six seven eight. Nine ten eleven twelve."}, 1, "One two three four.", "en"},
		{"title not repeated", Article{Title: "Big news about banks", Text: "Big news about banks\nThe central bank raised rates today. Markets fell after that news today."}, 3,
			"The central bank raised rates today. Markets fell after that news today.", "en"},
		{"only unfinished lines", Article{Text: "Заголовок новости о банке\nЕщё одна строка без точки"}, 3,
			"Заголовок новости о банке Ещё одна строка без точки", "ru"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Extractive(tt.a, tt.max)
			if s.Text != tt.want || s.Lang != tt.lang || !s.Extractive {
				t.Errorf("got %q lang %q, want %q lang %q", s.Text, s.Lang, tt.want, tt.lang)
			}
		})
	}

	t.Run("one huge sentence", func(t *testing.T) {
		s := Extractive(Article{Text: strings.Repeat("слово ", 400) + "конец."}, 3)
		if n := utf8.RuneCountInString(s.Text); n > extractiveRunes || !strings.HasSuffix(s.Text, "…") {
			t.Errorf("%d runes: %q", n, s.Text)
		}
	})
	t.Run("megabyte article", func(t *testing.T) {
		text := strings.Repeat("Банк ВТБ открывает центр в Китае. Партнёром станет Huawei. ", 20000)
		s := Extractive(Article{Text: text + "\xff\xfe"}, 3)
		if n := utf8.RuneCountInString(s.Text); n == 0 || n > extractiveRunes || !utf8.ValidString(s.Text) {
			t.Errorf("%d runes: %q", n, s.Text)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		text := seed(t, "vtb-ai-centre-china.ru.txt")
		first := Extractive(Article{Text: text}, 3)
		for range 5 {
			if again := Extractive(Article{Text: text}, 3); !reflect.DeepEqual(again, first) {
				t.Fatalf("different result:\n%+v\n%+v", again, first)
			}
		}
	})
}

func TestSummarizer(t *testing.T) {
	ru := seed(t, "vtb-ai-centre-china.ru.txt")
	article := Article{Title: "ВТБ и Китай", Lang: "ru", Text: ru, URL: "https://example.com/vtb"}

	t.Run("no llm", func(t *testing.T) {
		for _, s := range []*Summarizer{nil, {}} {
			got := s.Summarize(context.Background(), article)
			checkExtractive(t, got, ru)
		}
	})
	t.Run("llm answers", func(t *testing.T) {
		f := newFake(t, okJSON("ВТБ изучает центр ИИ в Китае.", "T1 и Huawei"))
		l, _ := f.llm(f.config())
		got := (&Summarizer{LLM: l, Logger: testLogger(t)}).Summarize(context.Background(), article)
		if got.Extractive || got.Text != "ВТБ изучает центр ИИ в Китае." || got.Model == "" || got.PromptTokens == 0 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("deadline falls back", func(t *testing.T) {
		f := newFake(t, hang)
		l, _ := f.llm(f.config()) // CallTimeout 5s, far beyond the deadline
		l.sleep = sleepCtx
		got := (&Summarizer{LLM: l, Deadline: 100 * time.Millisecond, Logger: testLogger(t)}).Summarize(context.Background(), article)
		checkExtractive(t, got, ru)
		if got.Lang != "ru" {
			t.Errorf("lang %q", got.Lang)
		}
	})
	t.Run("error falls back", func(t *testing.T) {
		f := newFake(t, status(404, ollamaNotFound))
		l, _ := f.llm(f.config())
		got := (&Summarizer{LLM: l, Logger: testLogger(t)}).Summarize(context.Background(), article)
		checkExtractive(t, got, ru)
		if len(f.requests()) != 1 {
			t.Errorf("%d requests", len(f.requests()))
		}
	})
	t.Run("english article in russian config stays english when extractive", func(t *testing.T) {
		en := seed(t, "finextra-sberbank-china-ai.en.txt")
		f := newFake(t, status(500, `{"error":{"message":"down"}}`))
		cfg := f.config()
		cfg.MaxRetries = -1
		l, _ := f.llm(cfg)
		got := (&Summarizer{LLM: l, Logger: testLogger(t)}).Summarize(context.Background(), Article{Text: en})
		if !got.Extractive || got.Lang != "en" {
			t.Errorf("got %+v", got)
		}
	})
}
