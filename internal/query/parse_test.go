package query

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var validQueries = []struct{ in, want string }{
	{"ВТБ Китай", "втб китай"},
	{"ВТБ Китай ИИ", "втб китай ии"},
	{"Ёлка ВСЁ", "елка все"},
	{`"exact phrase"`, `"exact phrase"`},
	{`"artificial intelligence" bank`, `"artificial intelligence" bank`},
	{"«искусственный интеллект»", `"искусственный интеллект"`},
	{"“smart quotes” and „нижние кавычки“", `"smart quotes" and "нижние кавычки"`},
	{`"bank"`, "bank"},
	{`" ВТБ, "`, "втб"},
	{"ИИ-центр", `"ии центр"`},
	{"x -y-z", `x -"y z"`},
	{"10:30 встреча", `"10 30" встреча`},
	{"ИИ: итоги", "ии итоги"},
	{"Sberbank’s AI", "sberbank's ai"},
	{"a OR b", "a OR b"},
	{"a | b", "a OR b"},
	{"a|b|c", "a OR b OR c"},
	{"a OR(b)", "a OR b"},
	{"a or b", "a or b"}, // only upper-case OR is an operator
	{"a b OR c", "a (b OR c)"},
	{"a OR b c", "(a OR b) c"},
	{"a OR b c OR d", "(a OR b) (c OR d)"},
	{"(a b) OR c", "(a b) OR c"},
	{"(a b) OR (c d)", "(a b) OR (c d)"},
	{"((a))", "a"},
	{"(a b) c", "a b c"},
	{"a (b (c d))", "a b c d"},
	{"(a OR b) OR c", "a OR b OR c"},
	{"a OR (b OR c)", "a OR b OR c"},
	{"-спорт ВТБ", "-спорт втб"},
	{`ВТБ -"phrase here"`, `втб -"phrase here"`},
	{"ВТБ -(a OR b)", "втб -(a OR b)"},
	{"ВТБ -(a b)", "втб -(a b)"},
	{"ВТБ -(a)", "втб -a"},
	{"ВТБ --a", "втб a"},
	{"ВТБ -(-a)", "втб a"},
	{"a (b OR -c)", "a (b OR -c)"}, // c is required, so the OR may exclude
	{"(a OR -b) c", "(a OR -b) c"},
	{"(a -b) OR c", "(a -b) OR c"},
	{"lang:RU ВТБ", "lang:ru втб"},
	{"LANG:en Sberbank", "lang:en sberbank"},
	{"lang:en", "lang:en"},
	{"site:www.Finextra.com", "site:finextra.com"},
	{"site:https://www.finextra.com/news Russia", "site:finextra.com russia"},
	{"site:ru ВТБ", "site:ru втб"},
	{"site:рбк.рф ВТБ", "site:рбк.рф втб"},
	{"-site:example.com bank", "-site:example.com bank"},
	{"(site:a.com OR site:b.com) bank", "(site:a.com OR site:b.com) bank"},
	{"bank (lang:en OR site:vtb.ru)", "bank (lang:en OR site:vtb.ru)"},
	{"  spaces\tand\nnewlines  ", "spaces and newlines"},
	{"(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)",
		"(втб OR сбербанк OR sberbank OR vtb) (китай OR china) (ии OR ai)"},
	{strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), "a"},
	{nested(16), nestedCanon(16)},
}

// nested gives a query 2k levels deep: x (y OR (x (y OR (… z)))).
func nested(k int) string {
	if k == 0 {
		return "z"
	}
	return "x (y OR (" + nested(k-1) + "))"
}

func nestedCanon(k int) string {
	switch k {
	case 0:
		return "z"
	case 1:
		return "x (y OR z)"
	}
	return "x (y OR (" + nestedCanon(k-1) + "))"
}

func TestParseValid(t *testing.T) {
	for _, tt := range validQueries {
		t.Run(tt.in, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			got := q.String()
			if got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			q2, err := Parse(got)
			if err != nil {
				t.Fatalf("canonical %q does not parse: %v", got, err)
			}
			if again := q2.String(); again != got {
				t.Errorf("canonical %q parses to %q", got, again)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in   string
		pos  int
		want string // part of the message
	}{
		{"", 0, "empty query"},
		{"   \t", 0, "empty query"},
		{"(a b", 0, `unbalanced "("`},
		{"a (b (c)", 2, `unbalanced "("`},
		{"a b)", 3, `unbalanced ")"`},
		{")a(", 0, `unbalanced ")"`},
		{"ВТБ (Китай OR China)) ИИ", 20, `unbalanced ")"`},
		{`"abc`, 0, "unterminated quote"},
		{"a «abc", 2, "unterminated quote"},
		{"a ” b", 2, "closing quote"},
		{`""`, 0, "empty phrase"},
		{`a " ! "`, 2, "empty phrase"},
		{"()", 0, "empty parentheses"},
		{"a ( ) b", 2, "empty parentheses"},
		{"a OR", 2, `"OR" must stand between two terms`},
		{"OR a", 0, `"OR" must stand between two terms`},
		{"a OR OR b", 2, `"OR"`},
		{"a | ", 2, `"OR"`},
		{"| a", 0, `"OR"`},
		{"(a OR) b", 3, `"OR"`},
		{"a (OR b)", 3, `"OR"`},
		{"-спорт", 0, "only excludes"},
		{"-a -b", 0, "only excludes"},
		{"-(a b)", 0, "only excludes"},
		{"-site:example.com", 0, "only excludes"},
		{"a OR -b", 5, "this side of OR only excludes"},
		{"(a OR -b) -c", 1, "the query only excludes"},
		{"x OR (-a -b)", 6, "this side of OR only excludes"},
		{"- a", 0, `"-" must be written right before`},
		{"a -", 2, `"-" must be written right before`},
		{"a -)", 2, `"-" must be followed by what it excludes`},
		{"a -OR b", 2, `"-" must be followed by what it excludes`},
		{"foo:bar", 0, `unknown filter "foo:": the filters are lang: and site:`},
		{"ВТБ http://vtb.ru", 4, `unknown filter "http:"`},
		{"lang:de ВТБ", 5, `unknown language "de"`},
		{"lang: ВТБ", 0, "lang: needs a language"},
		{"site: ВТБ", 0, "site: needs a domain"},
		{"ВТБ site:bad_domain!", 9, "not a domain name"},
		{"ВТБ site:.com", 9, "not a domain name"},
		{"a && b", 2, `"&&" has no letters or digits`},
		{strings.Repeat("a ", 501), MaxLen, "too long"},
		{strings.Repeat("a|b ", 250), 0, "too long"},
		{nested(17), 144, "nested deeper than 32 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.in, q)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", tt.in, err, err)
			}
			if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.want) {
				t.Errorf("Parse(%q) = %v; want at %d: …%s…", tt.in, err, tt.pos, tt.want)
			}
			if se.Pos < 0 || se.Pos > utf8.RuneCountInString(tt.in) {
				t.Errorf("position %d outside the query", se.Pos)
			}
		})
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := Parse("ВТБ (Китай OR China)) ИИ")
	if got, want := err.Error(), `query: at 20: unbalanced ")": no matching "("`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var se *SyntaxError
	errors.As(err, &se)
	got := se.Caret("ВТБ (Китай OR China)) ИИ")
	want := "ВТБ (Китай OR China)) ИИ\n" +
		"                    ^ unbalanced \")\": no matching \"(\""
	if got != want {
		t.Errorf("Caret() =\n%s\nwant\n%s", got, want)
	}
	// Tabs and newlines become spaces so the caret lines up.
	got = (&SyntaxError{Pos: 2, Msg: "x"}).Caret("a\tb")
	if want := "a b\n  ^ x"; got != want {
		t.Errorf("Caret() = %q, want %q", got, want)
	}
}

func TestTerms(t *testing.T) {
	q, err := Parse(`(ВТБ OR Сбербанк) Китай "ИИ центр" -спорт -(a b) китае`)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Terms()
	want := []string{"втб", "сбербанк", "кита", "ии", "центр"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Terms() = %q, want %q", got, want)
	}
}

func TestNilQuery(t *testing.T) {
	var q *Query
	if q.Match(nil) || q.String() != "" || q.Terms() != nil {
		t.Error("nil Query is not empty")
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range validQueries {
		f.Add(tt.in)
	}
	for _, s := range []string{"", "(a", "a)", `"`, `""`, "()", "a OR", "-a", "foo:bar",
		"lang:xx", "site:", "a -", "«a", "„a“", "&&", "site:www.www.x.com", "site:x.com..",
		"ЁЛКА-Палка", "a\u0306", "ИИ-центр OR -(b | \"c d\")"} {
		f.Add(s)
	}
	docs := seedDocs(f)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", s, err, err)
			}
			if n := utf8.RuneCountInString(s); se.Pos < 0 || se.Pos > max(n, MaxLen) {
				t.Fatalf("Parse(%q): position %d outside the query", s, se.Pos)
			}
			return
		}
		canon := q.String()
		q2, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, canon, err)
		}
		if again := q2.String(); again != canon {
			t.Fatalf("Parse(%q) = %q, which parses to %q", s, canon, again)
		}
		for _, d := range docs {
			if q.Match(d) != q2.Match(d) {
				t.Fatalf("%q and its canonical form %q match differently", s, canon)
			}
		}
	})
}

func TestParseTopicRefusesBroadFilters(t *testing.T) {
	for _, tc := range []struct {
		q     string
		broad bool
	}{
		{"lang:en", true},
		{"site:com", true},
		{"site:co.uk", true},
		{"lang:ru site:ru", true},
		{"lang:en OR ВТБ", true},
		{"(site:com OR site:ru) -спорт", true},
		{"site:finextra.com", false},
		{"site:bbc.co.uk lang:en", false},
		{"lang:ru ВТБ", false},
		{"site:ru рубль", false},
		{`"искусственный интеллект" lang:ru`, false},
		{"(ВТБ OR site:finextra.com) Китай", false},
	} {
		_, err := ParseTopic(tc.q)
		if (err != nil) != tc.broad {
			t.Errorf("ParseTopic(%q) = %v, want broad %v", tc.q, err, tc.broad)
		}
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("ParseTopic(%q): %T, want a *SyntaxError with a position", tc.q, err)
		}
		if _, err := Parse(tc.q); err != nil {
			t.Errorf("Parse(%q) = %v: search may use broad filters", tc.q, err)
		}
	}
}

func TestParseSearch(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		q    string
		want string // canonical form; "" means an error
	}{
		{"topic:vtb since:7d", "topic:vtb since:2026-11-24T12:00:00Z"},
		{"Huawei VTB since:2026-11-01 until:2026-11-30", "huawei vtb since:2026-11-01T00:00:00Z until:2026-11-30T23:59:59Z"},
		{"ВТБ since:12h", "втб since:2026-12-01T00:00:00Z"},
		{"lang:en", "lang:en"},
		{"(ВТБ OR since:7d)", ""},
		{"ВТБ -since:7d", ""},
		{"since:yesterday", ""},
		{"topic:", ""},
		{"-спорт", ""},
		{"foo:bar", ""},
	} {
		q, err := ParseSearch(tc.q, now)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseSearch(%q) = %q, want an error", tc.q, q)
			}
			continue
		}
		if err != nil || q.String() != tc.want {
			t.Errorf("ParseSearch(%q) = %v, %v; want %q", tc.q, q, err, tc.want)
		}
	}
	// Topics know no search filters.
	if _, err := Parse("topic:vtb ВТБ"); err == nil {
		t.Error("Parse accepted topic:")
	}
	// The tree shows what was parsed.
	q, _ := ParseSearch(`"ИИ-центр" (ВТБ OR VTB) -спорт site:www.Vedomosti.ru topic:vtb since:7d`, now)
	tree := q.Tree()
	if tree.Kind != And || len(tree.Kids) != 6 {
		t.Fatalf("tree %+v", tree)
	}
	if k := tree.Kids[0]; k.Kind != Phrase || strings.Join(k.Stems, " ") != "ии центр" {
		t.Errorf("phrase %+v", k)
	}
	if k := tree.Kids[3]; k.Kind != Site || k.Value != "vedomosti.ru" {
		t.Errorf("site %+v", k)
	}
	if k := tree.Kids[5]; k.Kind != Since || !k.Time.Equal(now.Add(-7*24*time.Hour)) {
		t.Errorf("since %+v", k)
	}
}
