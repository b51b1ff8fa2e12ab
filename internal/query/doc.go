// Package query parses and matches topic queries: the small search language
// in which a subscriber says which articles a topic is about.
//
// A query is parsed once and then checked against many articles, each
// analysed once by package analysis; matching does map lookups only.
//
// # Words
//
// Words are matched by stem, case-insensitively, with ё and е the same:
// Китай finds «Китай», «Китае» and «Китая»; bank finds "banks". Words of
// three letters or fewer are matched as written, so ИИ finds «ИИ» and
// «ИИ-центра» but not the conjunction «и» (and май does not find «мая»).
// A word joined by hyphens is a phrase of its parts: ИИ-центр is the same
// as "ИИ центр"; only a "-" in front of a word excludes it.
//
// # Operators
//
//	ВТБ Китай            both words (AND is implied by a space)
//	"artificial intelligence"
//	                     the words next to each other, in this order
//	                     (each still matched by stem; «» and “” work too)
//	Китай OR China       either word; | is the same as OR. Only upper-case
//	                     OR is an operator: "or" is a word
//	-спорт               articles without the word; also -"phrase",
//	                     -(group) and -site:example.com
//	( … )                grouping
//
// OR binds tighter than the space, as in web search engines:
//
//	ВТБ Китай OR China   means  ВТБ (Китай OR China)
//	a b OR c d           means  a (b OR c) d
//	(a b) OR c           needs the parentheses
//
// # Filters
//
//	lang:ru, lang:en     the article's language (guessed from its script)
//	site:finextra.com    articles from finextra.com or any subdomain of it,
//	                     such as news.finextra.com; site:ru is the whole .ru
//
// Filters combine like words: (site:vtb.ru OR site:sberbank.ru) ИИ,
// Sberbank -site:finextra.com. A query with nothing but filters is allowed:
// site:finextra.com follows a whole site.
//
// A query must require something: a word, phrase or filter that is not
// excluded, and if the query is an OR, each side of it must. -спорт alone,
// or Сбербанк OR -спорт, would match almost every article and is rejected;
// ВТБ (Китай OR -спорт) is fine.
//
// # Examples
//
//	ВТБ Китай ИИ
//	(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)
//	Sberbank China -VTB
//	"искусственный интеллект" lang:ru
//	(санкции OR sanctions) (банк OR bank) -крипто
//	site:finextra.com (Russia OR Russian)
//
// # Limits and errors
//
// A query has at most MaxLen characters and MaxDepth levels of nesting.
// Errors are *SyntaxError values giving the position (in characters, from
// 0) and the reason: an empty query, unbalanced parentheses or quotes, an
// empty phrase or group, OR without a term on each side, a "-" followed by
// a space, an unknown filter or language, a query that only excludes.
//
// Every query has a canonical form, returned by String: lower case, OR
// spelled out, hyphenated words shown as phrases, an OR group inside an AND
// in parentheses, redundant parentheses dropped. Parsing the canonical
// form gives the same query again.
package query
