package query

import (
	"fmt"
	"testing"

	"dozor/internal/analysis"
)

// benchTopics builds n varied topics of the kinds subscribers write:
// entities, places and subjects in both languages, ORs, phrases,
// exclusions and filters.
func benchTopics(n int) []string {
	entRU := []string{"ВТБ", "Сбербанк", "Сбер", "Газпромбанк", "Альфа-Банк", "Т-Банк", `"Банк России"`, "Минфин", "Росатом", "Роснефть", "Газпром", "Яндекс", "МТС", "Ozon", "Аэрофлот", "РЖД", "Ростех"}
	entEN := []string{"Sberbank", "VTB", `"Bank of Russia"`, "Gazprombank", "Tinkoff", "Huawei", "Alibaba", "Tencent", "Baidu", "Nvidia", "OpenAI", "Microsoft", "Google", "Visa", "Mastercard", "Swift", "JPMorgan", "HSBC", "Revolut"}
	placeRU := []string{"Китай", "Индия", "Турция", "ОАЭ", "Иран", "Казахстан", "Беларусь", "Шанхай", "Гонконг", "Вьетнам", "Москва"}
	placeEN := []string{"China", "India", "Turkey", "UAE", "Iran", "Kazakhstan", "Belarus", "Shanghai", `"Hong Kong"`, "Vietnam", "Moscow"}
	subjRU := []string{"ИИ", `"искусственный интеллект"`, "криптовалюта", "санкции", `"цифровой рубль"`, "ипотека", "дивиденды", "IPO", "кибератака", "биометрия", `"центр обработки данных"`, "чипы", "полупроводники", "платежи", "облако", "ИИ-центр"}
	subjEN := []string{"AI", `"artificial intelligence"`, "crypto", "sanctions", `"digital ruble"`, "mortgage", "dividends", "IPO", "cyberattack", "biometrics", `"data centre"`, "chips", "semiconductors", "payments", "cloud", "fintech"}
	excl := []string{"-спорт", "-футбол", "-хоккей", "-реклама", "-sport", "-football", `-"press release"`, "-вакансия", "-(гороскоп OR астрология)", "-webinar"}
	filt := []string{"", "lang:ru", "lang:en", "site:finextra.com", "(site:rbc.ru OR site:vedomosti.ru)", "-site:example.com", "site:ru"}

	at := func(list []string, i int) string { return list[i%len(list)] }
	topics := make([]string, 0, n)
	for i := 0; len(topics) < n; i++ {
		a, b, c := i*7, i*5+3, i*3+1
		var q string
		switch i % 6 {
		case 0:
			q = fmt.Sprintf("(%s OR %s) (%s OR %s) %s %s %s", at(entRU, a), at(entEN, a), at(placeRU, b), at(placeEN, b), at(subjRU, c), at(excl, a), at(filt, b))
		case 1:
			q = fmt.Sprintf("%s %s %s", at(entRU, b), at(subjRU, a), at(placeRU, c))
		case 2:
			q = fmt.Sprintf("(%s OR %s) (%s OR %s) %s", at(subjRU, a), at(subjEN, a), at(entRU, c), at(entEN, c), at(excl, b))
		case 3:
			q = fmt.Sprintf("%s %s -%s lang:en", at(entEN, a), at(placeEN, c), at(entEN, b+1))
		case 4:
			q = fmt.Sprintf("%s %s OR %s %s", at(entRU, c), at(subjRU, b), at(subjEN, b), at(filt, a))
		case 5:
			q = fmt.Sprintf("(%s OR %s OR %s OR %s) (%s OR %s) (%s OR %s)", at(entRU, a), at(entRU, a+1), at(entEN, a), at(entEN, a+1), at(placeRU, b), at(placeEN, b), at(subjRU, c), at(subjEN, c))
		}
		topics = append(topics, q)
	}
	return topics
}

func parseAll(tb testing.TB, topics []string) []*Query {
	tb.Helper()
	qs := make([]*Query, len(topics))
	for i, s := range topics {
		q, err := Parse(s)
		if err != nil {
			tb.Fatalf("topic %q: %v", s, err)
		}
		qs[i] = q
	}
	return qs
}

func TestBenchTopicsParse(t *testing.T) {
	topics := benchTopics(200)
	qs := parseAll(t, topics)
	d := seedDocs(t)[0]
	matched := 0
	for _, q := range qs {
		if q.Match(d) {
			matched++
		}
	}
	// Some of the topics are about this article, most are not.
	if matched == 0 || matched > len(qs)/2 {
		t.Errorf("%d of %d topics match the Russian seed", matched, len(qs))
	}
}

func BenchmarkMatch200Topics(b *testing.B) {
	qs := parseAll(b, benchTopics(200))
	d := seedDocs(b)[0]
	b.ReportAllocs()
	for b.Loop() {
		for _, q := range qs {
			q.Match(d)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	const s = `(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI) -спорт "искусственный интеллект" lang:ru`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeAndMatch is the cost per new article: analyse it once,
// then check 200 topics.
func BenchmarkAnalyzeAndMatch(b *testing.B) {
	qs := parseAll(b, benchTopics(200))
	title, text := "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований", readSeed(b, "vtb-ai-centre-china.ru.txt")
	b.ReportAllocs()
	for b.Loop() {
		d := analysis.Analyze(title, text, "vtb.ru")
		for _, q := range qs {
			q.Match(d)
		}
	}
}

// BenchmarkSet200Topics is BenchmarkMatch200Topics through a Set, which
// checks only the topics whose stems the article has.
func BenchmarkSet200Topics(b *testing.B) {
	qs := parseAll(b, benchTopics(200))
	names := make([]string, len(qs))
	for i := range names {
		names[i] = fmt.Sprint("t", i)
	}
	set := NewSet(names, qs)
	d := seedDocs(b)[0]
	b.ReportAllocs()
	for b.Loop() {
		set.Match(d)
	}
}
