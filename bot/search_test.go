package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// callbacks is the callback data of every button of a keyboard.
func callbacks(kb [][]models.InlineKeyboardButton) []string {
	var out []string
	for _, row := range kb {
		for _, b := range row {
			out = append(out, b.CallbackData)
		}
	}
	return out
}

// pageButton is the callback data of the button labelled label, or "".
func pageButton(kb [][]models.InlineKeyboardButton, label string) string {
	for _, row := range kb {
		for _, b := range row {
			if b.Text == label {
				return b.CallbackData
			}
		}
	}
	return ""
}

func TestSearchPagesThroughTheArchive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	now := time.Now()
	// Seven stories about banks in several word forms, one reprinted, and
	// one story that must not match.
	forms := []string{"банк", "банка", "банку", "банком", "банке", "банки", "банков"}
	for i, f := range forms {
		title := fmt.Sprintf("Новость %d: история про %s и Китай", i, f)
		text := fmt.Sprintf("Подробный текст номер %d, в котором упоминается %s и сотрудничество.", i, f)
		h.saveArticle(fmt.Sprintf("https://a.example/%d", i), title, text, "РБК", now.Add(-time.Duration(i+1)*time.Hour), true)
	}
	h.saveArticle("https://b.example/reprint", "Новость 0: история про банк и Китай", "Подробный текст номер 0, в котором упоминается банк и сотрудничество.", "ТАСС", now.Add(-30*time.Minute), true)
	h.saveArticle("https://c.example/weather", "Погода в Москве", "Дожди и ветер.", "ТАСС", now, false)

	first := h.ask(aliceID, aliceID, "/search банки")
	mustContain(t, first.Plain, "банки: 7 stories", "1. ", "5. ", "+1 outlets")
	if strings.Contains(first.Plain, "6. ") || strings.Contains(first.Plain, "Погода") {
		t.Errorf("first page shows more than five stories or a non-match:\n%s", first.Plain)
	}
	if !strings.Contains(first.Text, "<b>") {
		t.Errorf("snippets do not mark the matched words: %s", first.Text)
	}
	next := pageButton(first.InlineKeyboard, "▶")
	if next == "" || pageButton(first.InlineKeyboard, "◀") != "" {
		t.Fatalf("first page buttons %q, want only ▶", callbacks(first.InlineKeyboard))
	}

	h.press(aliceID, aliceID, first, next)
	second := h.message(aliceID, first.ID)
	mustContain(t, second.Plain, "6. ", "7. ")
	if strings.Contains(second.Plain, "5. ") {
		t.Errorf("second page repeats the first:\n%s", second.Plain)
	}
	if pageButton(second.InlineKeyboard, "▶") != "" || pageButton(second.InlineKeyboard, "◀") == "" {
		t.Errorf("last page buttons %q, want only ◀", callbacks(second.InlineKeyboard))
	}
	h.press(aliceID, aliceID, second, pageButton(second.InlineKeyboard, "◀"))
	if back := h.message(aliceID, first.ID); back.Plain != first.Plain {
		t.Errorf("◀ did not bring back the first page:\n%s\nwant\n%s", back.Plain, first.Plain)
	}
	// Paging edits the one message: nothing new is sent.
	h.noMoreMessages(aliceID)
}

func TestSearchKeysBelongToTheirChat(t *testing.T) {
	s := newSearches()
	now := time.Now()
	key := s.put(aliceID, "банки", now)
	if q, ok := s.get(key, aliceID, now); !ok || q != "банки" {
		t.Errorf("own key: %q %v", q, ok)
	}
	if _, ok := s.get(key, bobID, now); ok {
		t.Error("another chat can page someone else's search")
	}
	if _, ok := s.get(key, aliceID, now.Add(searchTTL+time.Minute)); ok {
		t.Error("a search older than searchTTL still pages")
	}
	for i := range searchKeep + 10 {
		s.put(bobID, fmt.Sprint(i), now)
	}
	if len(s.m) > searchKeep {
		t.Errorf("%d searches kept, bound %d", len(s.m), searchKeep)
	}
}

func TestSearchReplies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	h.approved(bobID, "ru")
	now := time.Now()
	h.saveArticle("https://a.example/1", "ВТБ и Huawei: <script>alert(1)</script> центр ИИ", "ВТБ откроет центр искусственного интеллекта вместе с Huawei.", "РБК", now.Add(-time.Hour), false)

	cases := []struct {
		name string
		user int64
		text string
		want []string
	}{
		{"usage", aliceID, "/search", []string{"/search Huawei ВТБ"}},
		{"bad query", aliceID, "/search (ВТБ OR", []string{"^"}},
		{"hostile title shown as text", aliceID, "/search Huawei", []string{"<script>alert(1)</script>", "1 stories"}},
		{"nothing found suggests a looser query", aliceID, "/search ВТБ ксилофон", []string{"Nothing found", "Try a looser query", "/search"}},
		{"russian", bobID, "/search ксилофон", []string{"ничего не найдено"}},
		{"phrase", aliceID, `/search "искусственного интеллекта"`, []string{"1 stories"}},
		{"morphology across forms", bobID, "/search искусственный интеллект", []string{"сюжетов 1"}},
	}
	for _, tc := range cases {
		m := h.ask(tc.user, tc.user, tc.text)
		for _, w := range tc.want {
			if !strings.Contains(m.Plain, w) {
				t.Errorf("%s: %q does not contain %q", tc.name, m.Plain, w)
			}
		}
	}
}

func TestSearchPacedPerUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	h.approved(bobID, "en")
	h.saveArticle("https://a.example/1", "ВТБ и Китай", "Текст.", "РБК", time.Now(), false)
	// Five searches in a row are fine, the sixth is asked to wait; another
	// user is not held back by it.
	for i := range 5 {
		if m := h.ask(aliceID, aliceID, "/search ВТБ"); !strings.Contains(m.Plain, "1 stories") {
			t.Fatalf("search %d: %q", i+1, m.Plain)
		}
	}
	mustContain(t, h.ask(aliceID, aliceID, "/search ВТБ").Plain, "wait a few seconds")
	mustContain(t, h.ask(bobID, bobID, "/search ВТБ").Plain, "1 stories")
}

func TestSearchWithoutIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.Search = nil })
	h.approved(aliceID, "en")
	mustContain(t, h.ask(aliceID, aliceID, "/search ВТБ").Plain, "not available")
}
