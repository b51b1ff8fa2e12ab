package embed

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestInput(t *testing.T) {
	tests := []struct {
		name, title, text string
		budget            int
		want              string
	}{
		{"title and text", "ВТБ открыл офис", "Банк  открыл\tофис в Шанхае.", 0, "ВТБ открыл офис\nБанк открыл офис в Шанхае."},
		{"lines kept, blanks dropped", "T", "One.\n\n\n  Two.  \r\nThree.", 0, "T\nOne.\nTwo.\nThree."},
		{"repeated title dropped", "ВТБ рассматривает создание ИИ-центра", "ВТБ рассматривает создание ИИ-центра\n\nБанк ВТБ активно…", 0, "ВТБ рассматривает создание ИИ-центра\nБанк ВТБ активно…"},
		{"repeated title, other case", "VTB opens office", "VTB Opens Office: the bank said", 0, "VTB opens office\nthe bank said"},
		{"no title", "", "Just text.", 0, "Just text."},
		{"no text", "Just a title", "", 0, "Just a title"},
		{"cut on a word boundary", "Title", "one two three four", 14, "Title\none two"},
		{"cut where a word ends", "Title", "one two three", 13, "Title\none two"},
		{"one long word is cut hard", "", "abcdefghij", 4, "abcd"},
		{"invalid UTF-8 removed", "a\xffb", "c", 0, "ab\nc"},
		{"nothing", " ", "\n", 0, ""},
	}
	for _, tt := range tests {
		if got := Input(tt.title, tt.text, tt.budget); got != tt.want {
			t.Errorf("%s: Input(%q, %q, %d) = %q, want %q", tt.name, tt.title, tt.text, tt.budget, got, tt.want)
		}
	}
}

func TestInputBudget(t *testing.T) {
	text := strings.Repeat("слово ", 1000)
	got := Input("Заголовок", text, 0)
	if n := utf8.RuneCountInString(got); n > DefaultInputBudget || n < DefaultInputBudget-10 {
		t.Errorf("%d runes, want just under %d", n, DefaultInputBudget)
	}
	if strings.HasSuffix(got, " ") || !strings.HasSuffix(got, "слово") {
		t.Errorf("cut mid-word or left a space: …%q", got[len(got)-20:])
	}
}
