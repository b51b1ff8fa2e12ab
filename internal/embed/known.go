package embed

// The built-in list of DefaultEntities: entities that dozor's feeds name in
// both Russian and English and whose two spellings transliteration would
// not bring together (Китай/China, Хуавэй/Huawei, Си Цзиньпин/Xi Jinping)
// or that are too important to leave to it (ВТБ/VTB, Путин/Putin). One
// form of each name is enough: names are compared by nameStem, so «Китае»,
// «Сбербанка» and «Путину» find «Китай», «Сбербанк» and «Путин».
//
// Keys starting "geo:" (countries, blocs, capitals) and "media:" (news
// agencies) are context: they say where a story happens or who reported it,
// not which event it is, so SameStory does not let them alone decide a fold.
// Keys are stored with stories: rename one only with a migration.

// group is one entity: its key and its names, in any script.
type group struct {
	key   string
	names []string
}

func builtinGroups() []group {
	return []group{
		// Countries and blocs.
		{"geo:russia", []string{"Россия", "РФ", "Российская Федерация", "Russia", "Russian Federation"}},
		{"geo:china", []string{"Китай", "КНР", "Китайская Народная Республика", "Поднебесная", "China", "PRC", "People's Republic of China"}},
		{"geo:usa", []string{"США", "Соединённые Штаты", "Соединённые Штаты Америки", "Америка", "US", "U.S.", "USA", "United States", "United States of America", "America"}},
		{"geo:ukraine", []string{"Украина", "Ukraine"}},
		{"geo:belarus", []string{"Белоруссия", "Беларусь", "Belarus"}},
		{"geo:kazakhstan", []string{"Казахстан", "Kazakhstan"}},
		{"geo:india", []string{"Индия", "India"}},
		{"geo:japan", []string{"Япония", "Japan"}},
		{"geo:korea-south", []string{"Южная Корея", "Республика Корея", "South Korea"}},
		{"geo:germany", []string{"Германия", "ФРГ", "Germany"}},
		{"geo:france", []string{"Франция", "France"}},
		{"geo:uk", []string{"Великобритания", "Британия", "Соединённое Королевство", "UK", "U.K.", "Britain", "Great Britain", "United Kingdom"}},
		{"geo:turkey", []string{"Турция", "Turkey", "Türkiye"}},
		{"geo:iran", []string{"Иран", "Iran"}},
		{"geo:brazil", []string{"Бразилия", "Brazil"}},
		{"geo:uae", []string{"ОАЭ", "Объединённые Арабские Эмираты", "Эмираты", "UAE", "United Arab Emirates", "Emirates"}},
		{"geo:saudi-arabia", []string{"Саудовская Аравия", "Saudi Arabia"}},
		{"geo:hong-kong", []string{"Гонконг", "Сянган", "Hong Kong"}},
		{"geo:taiwan", []string{"Тайвань", "Taiwan"}},
		{"geo:eu", []string{"ЕС", "Евросоюз", "Европейский союз", "EU", "European Union"}},
		{"geo:brics", []string{"БРИКС", "BRICS", "Brics"}},
		{"geo:sco", []string{"ШОС", "Шанхайская организация сотрудничества", "SCO", "Shanghai Cooperation Organisation", "Shanghai Cooperation Organization"}},
		// Capitals, and the seats of power that stand for governments.
		{"geo:moscow", []string{"Москва", "Moscow"}},
		{"geo:beijing", []string{"Пекин", "Beijing"}},
		{"geo:washington", []string{"Вашингтон", "Washington"}},
		{"geo:kyiv", []string{"Киев", "Kyiv", "Kiev"}},
		{"geo:minsk", []string{"Минск", "Minsk"}},
		{"geo:astana", []string{"Астана", "Astana"}},
		{"geo:london", []string{"Лондон", "London"}},
		{"geo:berlin", []string{"Берлин", "Berlin"}},
		{"geo:paris", []string{"Париж", "Paris"}},
		{"geo:brussels", []string{"Брюссель", "Brussels"}},
		{"geo:tokyo", []string{"Токио", "Tokyo"}},
		{"geo:new-delhi", []string{"Нью-Дели", "New Delhi"}},
		{"geo:ankara", []string{"Анкара", "Ankara"}},
		{"geo:tehran", []string{"Тегеран", "Tehran"}},
		{"geo:kremlin", []string{"Кремль", "Kremlin"}},
		{"geo:white-house", []string{"Белый дом", "White House"}},
		// Other cities: where a story happens can tell events apart.
		{"shanghai", []string{"Шанхай", "Shanghai"}},
		{"shenzhen", []string{"Шэньчжэнь", "Шэнчжэнь", "Shenzhen"}},
		{"guangzhou", []string{"Гуанчжоу", "Guangzhou"}},
		{"hangzhou", []string{"Ханчжоу", "Hangzhou"}},
		{"saint-petersburg", []string{"Санкт-Петербург", "Петербург", "St Petersburg", "St. Petersburg", "Saint Petersburg"}},
		{"vladivostok", []string{"Владивосток", "Vladivostok"}},
		{"dubai", []string{"Дубай", "Dubai"}},
		{"new-york", []string{"Нью-Йорк", "New York"}},
		// Central banks.
		{"cbr", []string{"Банк России", "ЦБ", "ЦБ РФ", "Центробанк", "Центральный банк России", "Центральный банк РФ", "Bank of Russia", "Central Bank of Russia", "CBR"}},
		{"pboc", []string{"Народный банк Китая", "НБК", "People's Bank of China", "PBOC", "PBoC"}},
		{"fed", []string{"ФРС", "Федеральная резервная система", "Federal Reserve", "Fed"}},
		{"ecb", []string{"ЕЦБ", "Европейский центральный банк", "European Central Bank", "ECB"}},
		// Russian banks.
		{"vtb", []string{"ВТБ", "Банк ВТБ", "VTB", "VTB Bank"}},
		{"sberbank", []string{"Сбербанк", "Сбер", "Sberbank", "Sber"}},
		{"gazprombank", []string{"Газпромбанк", "Gazprombank"}},
		{"alfa-bank", []string{"Альфа-Банк", "Альфа-банк", "Alfa-Bank", "Alfa Bank"}},
		{"t-bank", []string{"Т-Банк", "Тинькофф", "T-Bank", "Tinkoff"}},
		{"rosselkhozbank", []string{"Россельхозбанк", "Rosselkhozbank"}},
		{"sovcombank", []string{"Совкомбанк", "Sovcombank"}},
		{"moex", []string{"Мосбиржа", "Московская биржа", "Moscow Exchange", "MOEX"}},
		// Chinese banks.
		{"icbc", []string{"ICBC", "Промышленный и коммерческий банк Китая", "Industrial and Commercial Bank of China"}},
		{"bank-of-china", []string{"Банк Китая", "Bank of China"}},
		{"ccb", []string{"Строительный банк Китая", "China Construction Bank", "CCB"}},
		{"abc", []string{"Сельскохозяйственный банк Китая", "Agricultural Bank of China"}},
		// Companies.
		{"huawei", []string{"Хуавэй", "Хуавей", "Huawei"}},
		{"alibaba", []string{"Алибаба", "Alibaba"}},
		{"tencent", []string{"Тенсент", "Tencent"}},
		{"xiaomi", []string{"Сяоми", "Xiaomi"}},
		{"baidu", []string{"Байду", "Baidu"}},
		{"bytedance", []string{"ByteDance", "Байтдэнс"}},
		{"deepseek", []string{"DeepSeek", "Дипсик"}},
		{"gazprom", []string{"Газпром", "Gazprom"}},
		{"rosneft", []string{"Роснефть", "Rosneft"}},
		{"lukoil", []string{"Лукойл", "Lukoil"}},
		{"rosatom", []string{"Росатом", "Rosatom"}},
		{"rostec", []string{"Ростех", "Rostec"}},
		{"yandex", []string{"Яндекс", "Yandex"}},
		{"nvidia", []string{"Nvidia", "NVIDIA", "Нвидиа"}},
		{"openai", []string{"OpenAI"}},
		// International bodies.
		{"imf", []string{"МВФ", "Международный валютный фонд", "IMF", "International Monetary Fund"}},
		{"un", []string{"ООН", "Организация Объединённых Наций", "UN", "United Nations"}},
		{"swift", []string{"SWIFT", "Swift"}},
		{"state-duma", []string{"Госдума", "Государственная дума", "State Duma", "Duma"}},
		// People.
		{"putin", []string{"Путин", "Владимир Путин", "Putin", "Vladimir Putin"}},
		{"xi-jinping", []string{"Си Цзиньпин", "Си", "Цзиньпин", "Xi Jinping", "Xi"}},
		{"li-qiang", []string{"Ли Цян", "Li Qiang"}},
		{"trump", []string{"Трамп", "Дональд Трамп", "Trump", "Donald Trump"}},
		{"mishustin", []string{"Мишустин", "Mishustin"}},
		{"siluanov", []string{"Силуанов", "Siluanov"}},
		{"nabiullina", []string{"Набиуллина", "Эльвира Набиуллина", "Nabiullina"}},
		{"lavrov", []string{"Лавров", "Lavrov"}},
		{"peskov", []string{"Песков", "Peskov"}},
		{"zelensky", []string{"Зеленский", "Zelensky", "Zelenskyy"}},
		{"gref", []string{"Греф", "Герман Греф", "Gref", "German Gref"}},
		{"kostin", []string{"Костин", "Андрей Костин", "Kostin", "Andrey Kostin", "Andrei Kostin"}},
		// News agencies.
		{"media:tass", []string{"ТАСС", "TASS", "Tass"}},
		{"media:ria", []string{"РИА Новости", "РИА", "RIA Novosti", "RIA"}},
		{"media:interfax", []string{"Интерфакс", "Interfax"}},
		{"media:reuters", []string{"Рейтер", "Reuters"}},
		{"media:bloomberg", []string{"Блумберг", "Bloomberg"}},
		{"media:xinhua", []string{"Синьхуа", "Xinhua"}},
	}
}

// The stop lists: capitalised words that are not names. They are compared
// in nameStem form, so one form of each Russian word is enough.

// stopAcronyms are all-caps words for things, not entities.
var stopAcronyms = []string{
	"AI", "ИИ", "IT", "ИТ", "CEO", "CFO", "CTO", "COO", "GPU", "CPU", "API", "ML", "LLM", "GPT",
	"IPO", "ESG", "PR", "HR", "SMS", "VR", "AR", "IOT", "TV", "ТВ", "USB", "ID", "OK", "ОК",
	"GDP", "ВВП", "СМИ", "ООО", "ПАО", "ОАО", "ЗАО", "АО", "НКО", "ИП", "НДС", "МСП", "ЖКХ",
	"ДТП", "ФЗ", "ГК", "ЦОД", "PDF", "FAQ", "USD", "EUR", "RUB", "CNY", "ЕАЭС",
	"LTD", "INC", "LLC", "PLC", "JSC", "PJSC", "AG", "SA", "NV", "GMBH", "ГВТ", "МВТ", "КВТ",
	"NEWS", "UPDATE", "BREAKING", "VIDEO", "ФОТО", "ВИДЕО", "AM", "PM", "UTC", "МСК",
}

// stopWords are words written with a capital that are not names: English
// function words and sentence openers, weekdays and months, titles, and the
// adjectives of nationality (capitalised in English, not in Russian), plus
// Russian polite pronouns and titles.
var stopWords = []string{
	// English function words and frequent sentence openers.
	"The", "A", "An", "This", "That", "These", "Those", "It", "Its", "He", "She", "We", "They",
	"His", "Her", "Our", "Their", "You", "Your", "In", "On", "At", "Of", "For", "From", "To",
	"By", "With", "As", "And", "Or", "But", "If", "When", "While", "After", "Before", "Since",
	"Also", "However", "Meanwhile", "According", "Back", "Earlier", "Later", "Last", "Next",
	"New", "Now", "Today", "Yesterday", "Tomorrow", "There", "Here", "What", "Why", "How",
	"Who", "Which", "Not", "No", "Yes", "All", "Some", "Many", "More", "Most", "Other",
	"Be", "Is", "Are", "Was", "Were", "Do", "Does", "Did", "Can", "Could", "Should", "Will",
	"Would", "Must", "May", "Might", "First", "One", "Two", "Three", "Every", "Each", "Any",
	"My", "Me", "So", "Then", "Thus", "Still", "Even", "Only", "Just", "Over", "Under",
	"Share", "Sponsored", "Related", "Editorial", "Comments", "Keywords", "Channels", "Read",
	"Please", "Welcome", "Accept", "Subscribe", "Sign", "Log", "Home", "Menu", "Search",
	// Weekdays and months.
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
	"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December",
	// Titles and roles.
	"President", "Prime", "Minister", "Mr", "Mrs", "Ms", "Dr", "Chairman", "Chairwoman",
	"Chair", "Director", "Deputy", "Governor", "Head", "Chief", "Executive", "Sir", "Mayor",
	"Senator", "Secretary", "Premier", "Vice", "King", "Queen", "Prince", "General",
	"Президент", "Премьер", "Премьер-министр", "Министр", "Глава", "Председатель",
	"Правительство", "Государство",
	// Nationalities and regions as adjectives.
	"Russian", "Chinese", "American", "Western", "Eastern", "Northern", "Southern",
	"European", "Asian", "African", "Soviet", "Ukrainian", "British", "English", "French",
	"German", "Indian", "Japanese", "Korean", "Arab", "Arabic", "Iranian", "Turkish",
	"Brazilian", "Kazakh", "Belarusian", "Israeli", "Saudi", "Emirati", "Taiwanese",
	"Muslim", "Christian", "Orthodox", "Internet",
	// Russian pronouns written with a capital in letters and interviews.
	"Вы", "Вас", "Вам", "Вами", "Ваш", "Ваша", "Ваше", "Ваши",
}

// genericHeads are the common nouns that end many company names ("Alibaba
// Group", "VTB Capital"); a name of unknown words is keyed by its last word
// that is not one of them.
var genericHeads = []string{
	"Group", "Groups", "Bank", "Banks", "Holding", "Holdings", "Inc", "Corp", "Corporation",
	"Company", "Co", "Ltd", "Limited", "LLC", "PLC", "Fund", "Capital", "Partners",
	"Technologies", "Technology", "Tech", "Systems", "International", "Global", "AG", "SA",
	"Банк", "Группа", "Холдинг", "Компания", "Корпорация", "Фонд", "Капитал", "Технологии",
	"Интернешнл",
}
