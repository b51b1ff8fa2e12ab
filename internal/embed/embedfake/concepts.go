package embedfake

import "dozor/internal/analysis"

// defaultConcepts is the built-in bilingual concept table: the names and
// the common words of dozor's news (banks, China, AI, offices, deals), each
// line one concept, in whatever forms the stemmer does not bring together.
// Tests add their own with AddConcept.
var defaultConcepts = [][]string{
	// Names.
	{"ВТБ", "VTB"},
	{"Сбербанк", "Сбер", "Sberbank", "Sber"},
	{"Газпромбанк", "Gazprombank"},
	{"Huawei", "Хуавэй", "Хуавей"},
	{"T1", "Т1"},
	{"Китай", "Китая", "Китае", "China", "КНР", "PRC"},
	{"китайский", "китайских", "китайские", "китайскими", "китайской", "Chinese"},
	{"Россия", "России", "Россию", "Russia", "РФ"},
	{"российский", "российских", "российские", "российским", "российской", "Russian"},
	{"Шанхай", "Шанхае", "Shanghai"},
	{"Москва", "Москве", "Moscow"},
	{"Пекин", "Пекине", "Beijing"},
	{"Путин", "Путина", "Putin"},
	{"Костин", "Kostin"},
	{"Андрей", "Andrey", "Andrei"},
	{"БРИКС", "BRICS"},
	{"ТАСС", "TASS"},
	{"США", "US", "USA"},
	{"Украина", "Украины", "Ukraine"},
	// Banking and business.
	{"банк", "банка", "банке", "банком", "bank", "banks", "banking"},
	{"центр", "центра", "центре", "centre", "center", "hub"},
	{"офис", "офиса", "office", "offices"},
	{"представительство", "представительства", "representative"},
	{"компания", "компании", "компаний", "company", "companies", "firm"},
	{"клиент", "клиентов", "клиентам", "client", "clients", "customer", "customers"},
	{"рынок", "рынке", "рынка", "market", "markets"},
	{"операция", "операций", "операции", "operation", "operations", "transactions"},
	{"объём", "объем", "объёма", "volume"},
	{"сделка", "сделки", "deal", "deals"},
	{"инвестиции", "инвестиций", "investment", "investments"},
	{"партнер", "партнёр", "партнером", "партнеров", "partner", "partners"},
	{"сотрудничество", "сотрудничать", "сотрудничества", "cooperation", "co-operation", "cooperate", "collaboration"},
	{"лаборатория", "лабораторий", "laboratory", "lab", "labs"},
	{"пресс-служба", "пресс", "служба", "службы", "press", "service"},
	{"платеж", "платежи", "платежей", "payment", "payments"},
	{"санкции", "санкций", "sanctions"},
	{"ставка", "ставку", "rate"},
	{"кредит", "кредиты", "loan", "loans", "credit"},
	// Technology.
	{"ИИ", "AI", "искусственный", "искусственного", "интеллект", "интеллекта", "artificial", "intelligence"},
	{"технология", "технологии", "технологий", "technology", "technologies", "tech"},
	{"исследование", "исследования", "исследований", "research"},
	{"разработка", "разработки", "development", "develop"},
	{"тестирование", "тестирования", "testing", "test"},
	{"вычислительный", "вычислительных", "computing", "compute"},
	{"мощность", "мощности", "мощностям", "capacity", "power"},
	{"чип", "чипы", "микрочип", "микрочипов", "chip", "chips", "microchips", "semiconductors"},
	// Verbs and the rest of a news sentence.
	{"открыть", "открыл", "открыла", "открыли", "открывает", "открытие", "open", "opens", "opened", "opening"},
	{"создать", "создание", "создания", "создаст", "create", "creation", "set up", "establish"},
	{"рассматривает", "рассматривать", "consider", "considers", "considering", "weighing"},
	{"заявил", "заявила", "сообщил", "сообщила", "сказал", "said", "says", "say", "stated", "announced"},
	{"рассчитывает", "ожидает", "планирует", "expects", "expect", "plans", "aims"},
	{"удвоить", "удвоит", "double", "doubling"},
	{"обслуживать", "обслуживание", "обслуживания", "serve", "serving"},
	{"работать", "работающих", "работает", "работу", "work", "working", "works", "doing business"},
	{"поручил", "поручение", "приказал", "ordered", "orders", "order", "instructed"},
	{"новый", "новая", "новое", "нового", "новым", "new"},
	{"глава", "главы", "head", "chief", "chief executive", "ceo"},
	{"президент", "президента", "president"},
	{"правительство", "правительства", "government"},
	{"понедельник", "Monday"},
	{"вторник", "Tuesday"},
	{"среда", "Wednesday"},
	{"четверг", "Thursday"},
	{"пятница", "Friday"},
	{"год", "году", "года", "year"},
	{"первый", "первая", "первого", "first"},
}

// stopWords count for nothing in a vector: function words of both
// languages, auxiliaries, and the prefixes embedding models use.
var stopWords = []string{
	// Russian.
	"в", "во", "на", "и", "а", "но", "с", "со", "по", "к", "ко", "у", "о", "об", "от", "до", "из",
	"за", "для", "при", "что", "чтобы", "как", "это", "этот", "эта", "также", "же", "ли", "не",
	"его", "ее", "их", "он", "она", "они", "мы", "который", "которая", "которые", "будет", "был",
	"была", "были", "быть", "уже", "еще", "так", "свой", "своих",
	// English.
	"the", "a", "an", "of", "in", "on", "at", "to", "for", "from", "by", "with", "and", "or",
	"but", "that", "this", "these", "its", "it", "is", "are", "was", "were", "be", "been",
	"has", "have", "had", "will", "would", "as", "not", "their", "his", "her", "they", "which",
	"who", "s",
	// Prefixes.
	"passage", "query", "search_document", "search_query", "search", "document",
}

var stopStems = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range stopWords {
		for _, t := range analysis.Tokens(w) {
			m[analysis.Stem(t)] = true
		}
	}
	return m
}()

// A report and its translation, one event in Russian and in English, whose
// words the concept table covers: tests of cross-language folding use them.
const (
	PairRUTitle = "ВТБ открыл представительство в Шанхае"
	PairRUText  = "ВТБ открыл представительство в Шанхае, сообщила пресс-служба банка в понедельник. " +
		"Новый офис будет обслуживать российских и китайских клиентов, работающих на рынке Китая. " +
		"Глава ВТБ Андрей Костин заявил, что банк рассчитывает удвоить объём операций в Китае в 2025 году."
	PairENTitle = "VTB opens representative office in Shanghai"
	PairENText  = "VTB has opened a representative office in Shanghai, the bank's press service said on Monday. " +
		"The new office will serve Russian and Chinese clients working in the Chinese market. " +
		"VTB head Andrey Kostin said the bank expects to double its operations in China in 2025."
)
