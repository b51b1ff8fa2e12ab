package embed

import (
	"os"
	"slices"
	"strings"
	"testing"

	"dozor/internal/embed/embedfake"
)

// seedInput is what is embedded of a seed article: its first line is the
// title.
func seedInput(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/seeds/" + name)
	if err != nil {
		t.Fatal(err)
	}
	title, text, _ := strings.Cut(string(b), "\n")
	return Input(title, text, 0)
}

func TestEntitiesMeet(t *testing.T) {
	e := DefaultEntities()
	tests := []struct{ ru, en, key string }{
		{"Об этом сообщил ВТБ.", "This was reported by VTB.", "vtb"},
		{"Акции Сбербанка выросли.", "Shares of Sberbank rose.", "sberbank"},
		{"Банк работает в Китае.", "The bank works in China.", "geo:china"},
		{"Офис открыт в Шанхае.", "The office opened in Shanghai.", "shanghai"},
		{"Партнёром стал Хуавэй.", "The partner is Huawei.", "huawei"},
		{"Партнёром стала компания Хуавей.", "Huawei's partner said so.", "huawei"},
		{"Решение одобрил Путин.", "Putin's decision was approved.", "putin"},
		{"Встреча с Путиным прошла в Кремле.", "The meeting with Putin was in the Kremlin.", "putin"},
		{"Визит Си Цзиньпина в Москву.", "The visit of Xi Jinping to Moscow.", "xi-jinping"},
		{"Заявление Банка России.", "A statement by the Bank of Russia.", "cbr"},
		{"Ставку повысил ЦБ.", "The rate was raised by the CBR.", "cbr"},
		{"Данные Народного банка Китая.", "Data of the People's Bank of China.", "pboc"},
		{"Кредит от Газпромбанка.", "A loan from Gazprombank.", "gazprombank"},
		{"Газпром снизил добычу.", "Gazprom cut output.", "gazprom"},
		{"Акции Газпрома упали.", "Shares of Gazprom fell.", "gazprom"},
		{"Сделка с Газпромом.", "A deal with Gazprom.", "gazprom"},
		{"Клиенты Т-Банка.", "Clients of T-Bank.", "t-bank"},
		{"Торги на Мосбирже.", "Trading on the Moscow Exchange.", "moex"},
		{"Санкции США.", "Sanctions by the U.S. Treasury.", "geo:usa"},
		// Names in no list meet by transliteration.
		{"Слова Грефа о банке.", "The words of Gref about the bank.", "gref"},
		{"Прогноз Набиуллиной подтвердился.", "A forecast by Nabiullina came true.", "nabiullina"},
		{"Компания ООО «Ромашка» и партнёр Ромашки.", "The partner of Romashka.", "romashk"},
		{"Сделка с компанией Ozon.", "A deal with Ozon.", "ozon"},
		{"Сделка с T1.", "A deal with T1.", "t1"},
		{"Интеграция Т1 завершена.", "A deal with T1.", "t1"},
	}
	for _, tt := range tests {
		ru, en := e.Of(tt.ru), e.Of(tt.en)
		if !slices.Contains(ru, tt.key) || !slices.Contains(en, tt.key) {
			t.Errorf("%s: Of(%q) = %v, Of(%q) = %v; want both to have %q", tt.key, tt.ru, ru, tt.en, en, tt.key)
		}
	}
}

func TestNotEntities(t *testing.T) {
	e := DefaultEntities()
	tests := []struct {
		text string
		want []string
	}{
		{"Банк повысил ставку по вкладам. Банк сообщил об этом в среду.", nil},
		{"The bank raised its rates. The decision came on Monday.", nil},
		{"Новый продукт. Компания его представила.", nil},
		{"Президент подписал указ. Правительство выполнит его.", nil},
		{"Эксперты ждут роста. Аналитики согласны.", nil},
		{"Russian and Chinese banks use AI, the CEO said.", nil},
		{"Вы можете оформить карту. Ваш банк поможет.", nil},
		{"ИИ и IT меняют ООО и ПАО.", nil},
		{"Phase II of the plan. Part XXI.", nil},
		{"0 Be the first to comment", nil},
		// A headline in Title Case proves nothing about its words.
		{"Bank Raises Rates Amid Growing Inflation Fears\nThe bank raised rates.", nil},
		// ALL CAPS does not make acronyms, and US may be the pronoun.
		{"CALL US NOW FOR A FREE QUOTE", nil},
		// Sentence-initial, but capitalised elsewhere too: a name.
		{"Ромашка выросла. Акции Ромашки дорожают.", []string{"romashk"}},
		// A known name counts even at the start of a sentence.
		{"Сбербанк снизил ставки.", []string{"sberbank"}},
		// A first name or title before a known name is part of it.
		{"Президент Владимир Путин и глава Банка ВТБ Андрей Костин.", []string{"kostin", "putin", "vtb"}},
		{"VTB Capital and Alibaba Group signed a deal with Ant Group.", []string{"alibaba", "ant", "vtb"}},
	}
	for _, tt := range tests {
		if got := e.Of(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Of(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestAdd(t *testing.T) {
	e := DefaultEntities()
	e.Add("Т1", "T1", "Т1 Интеграция")
	e.Add("Ромашка", "Romashka Ltd")
	e.Add("Сбер Банк") // joins Sberbank? No: a new name, its own key
	e.Add("Сбер", "SberTech")
	tests := []struct {
		text string
		want []string
	}{
		{"Т1 Интеграция выиграла тендер.", []string{"t1"}},
		{"Contract for T1.", []string{"t1"}},
		{"Ромашка открыла офис.", []string{"romashk"}},
		{"Romashka Ltd opened an office.", []string{"romashk"}},
		{"SberTech hires.", []string{"sberbank"}},
	}
	for _, tt := range tests {
		if got := e.Of(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Of(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	// DefaultEntities gives a fresh list each time.
	if got := DefaultEntities().Of("SberTech hires."); slices.Contains(got, "sberbank") {
		t.Errorf("Add leaked into another Entities: %v", got)
	}
}

func TestEachShared(t *testing.T) {
	tests := []struct {
		a, b []string
		want int
	}{
		{nil, nil, 0},
		{[]string{"a"}, nil, 0},
		{[]string{"a", "b", "c"}, []string{"b", "c", "d"}, 2},
		{[]string{"a", "c", "e"}, []string{"b", "d"}, 0},
		{[]string{"geo:china", "vtb"}, []string{"geo:china", "vtb"}, 2},
	}
	for _, tt := range tests {
		got := 0
		eachShared(tt.a, tt.b, func(string) { got++ })
		if got != tt.want {
			t.Errorf("eachShared(%v, %v) called %d times, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSeedsStayApart(t *testing.T) {
	e := DefaultEntities()
	ru := e.Of(seedInput(t, "vtb-ai-centre-china.ru.txt"))
	en := e.Of(seedInput(t, "finextra-sberbank-china-ai.en.txt"))
	t.Logf("RU seed: %v\nEN seed: %v", ru, en)
	for _, k := range []string{"vtb", "geo:china"} {
		if !slices.Contains(ru, k) {
			t.Errorf("RU seed entities %v lack %s", ru, k)
		}
	}
	for _, k := range []string{"sberbank", "putin", "geo:china"} {
		if !slices.Contains(en, k) {
			t.Errorf("EN seed entities %v lack %s", en, k)
		}
	}
	// They share only context (China, Russia): no bank, no person.
	for _, k := range ru {
		if slices.Contains(en, k) && !IsContext(k) {
			t.Errorf("the seeds share %s", k)
		}
	}
	for _, cos := range []float32{0.9, 0.99, 1} {
		if SameStory(cos, DefaultThreshold("bge-m3"), ru, en) {
			t.Errorf("SameStory(%v) folds the seeds", cos)
		}
	}
}

func TestTranslationFolds(t *testing.T) {
	e := DefaultEntities()
	ru := e.Of(Input(embedfake.PairRUTitle, embedfake.PairRUText, 0))
	en := e.Of(Input(embedfake.PairENTitle, embedfake.PairENText, 0))
	want := []string{"geo:china", "kostin", "shanghai", "vtb"}
	if !slices.Equal(ru, want) || !slices.Equal(en, want) {
		t.Errorf("entities: RU %v, EN %v; want both %v", ru, en, want)
	}
	if !SameStory(0.9, DefaultThreshold("bge-m3"), ru, en) {
		t.Error("SameStory does not fold a report and its translation")
	}
	if SameStory(0.7, DefaultThreshold("bge-m3"), ru, en) {
		t.Error("SameStory folds at a cosine below the threshold")
	}
}

func TestSameStory(t *testing.T) {
	const thr = 0.8
	tests := []struct {
		name string
		cos  float32
		a, b []string
		want bool
	}{
		{"translation", 0.9, []string{"geo:china", "shanghai", "vtb"}, []string{"geo:china", "shanghai", "vtb"}, true},
		{"below threshold", 0.79, []string{"geo:china", "shanghai", "vtb"}, []string{"geo:china", "shanghai", "vtb"}, false},
		{"NaN", float32(nan()), []string{"vtb"}, []string{"vtb"}, false},
		{"only context shared", 0.95, []string{"geo:china", "geo:russia", "vtb"}, []string{"geo:china", "geo:russia", "putin", "sberbank"}, false},
		{"context and one name", 0.9, []string{"geo:china", "vtb"}, []string{"geo:china", "putin", "vtb"}, true},
		{"one shared of many", 0.9, []string{"a", "b", "c", "vtb"}, []string{"d", "e", "f", "vtb"}, false},
		{"two shared, under half", 0.9, []string{"a", "b", "c", "d", "e", "f", "vtb", "x"}, []string{"g", "h", "i", "j", "k", "l", "vtb", "x"}, false},
		{"smaller side has one, shared", 0.9, []string{"vtb"}, []string{"geo:china", "shanghai", "vtb"}, true},
		{"smaller side has one, context", 0.9, []string{"geo:china"}, []string{"geo:china", "vtb"}, false},
		{"no entities", 0.99, nil, []string{"vtb"}, false},
		{"none at all", 0.99, nil, nil, false},
		{"news agency is context", 0.9, []string{"media:tass", "vtb"}, []string{"media:tass", "sberbank"}, false},
	}
	for _, tt := range tests {
		if got := SameStory(tt.cos, thr, tt.a, tt.b); got != tt.want {
			t.Errorf("%s: SameStory(%v, %v, %v, %v) = %v, want %v", tt.name, tt.cos, thr, tt.a, tt.b, got, tt.want)
		}
		if got := SameStory(tt.cos, thr, tt.b, tt.a); got != tt.want {
			t.Errorf("%s: SameStory is not symmetric", tt.name)
		}
	}
}

func TestDefaultThreshold(t *testing.T) {
	tests := map[string]float32{
		"bge-m3":                              0.80,
		"bge-m3:latest":                       0.80,
		"BAAI/bge-m3":                         0.80,
		"intfloat/multilingual-e5-base":       0.88,
		"jeffh/intfloat-multilingual-e5-base": 0.88,
		"nomic-embed-text-v2-moe":             0.78,
		"Qwen/Qwen3-Embedding-0.6B":           0.75,
		"qwen3-embedding:0.6b":                0.75,
		"text-embedding-3-small":              0.80,
	}
	for model, want := range tests {
		if got := DefaultThreshold(model); got != want {
			t.Errorf("DefaultThreshold(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestChooseThreshold(t *testing.T) {
	same := []float32{0.91, 0.88, 0.93, 0.86, 0.84}
	different := []float32{0.62, 0.71, 0.78, 0.55}
	thr, wrong := ChooseThreshold(same, different)
	if thr <= 0.78 || thr > 0.84 || wrong != 0 {
		t.Errorf("ChooseThreshold = %v, %d wrong; want in (0.78, 0.84], 0 wrong", thr, wrong)
	}
	// Overlap: a wrong fold costs twice a missed one.
	thr, wrong = ChooseThreshold([]float32{0.9, 0.8, 0.75}, []float32{0.77, 0.6})
	if thr != 0.8 || wrong != 1 {
		t.Errorf("ChooseThreshold with overlap = %v, %d; want 0.8, 1", thr, wrong)
	}
	if thr, _ := ChooseThreshold(nil, different); thr != 1 {
		t.Errorf("no same pairs: %v", thr)
	}
}

func TestNameForms(t *testing.T) {
	tests := []struct{ a, b string }{
		{"сбербанка", "sberbank"},
		{"путину", "putin"},
		{"грефом", "gref"},
		{"набиуллиной", "nabiullina"},
		{"зеленского", "zelensky"},
		{"яндекса", "yandex"},
		{"тинькофф", "tinkoff"},
		{"газпрома", "gazprom"},
		{"киева", "kiev"},
	}
	for _, tt := range tests {
		if a, b := skeleton(nameStem(tt.a)), skeleton(nameStem(tt.b)); a != b {
			t.Errorf("%s → %q, %s → %q: want equal", tt.a, a, tt.b, b)
		}
	}
}

func nan() float64 { var z float64; return z / z }
