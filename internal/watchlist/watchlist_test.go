package watchlist

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dozor/internal/canon"
	"dozor/internal/query"
)

func read(t *testing.T, doc string) (*File, error) {
	t.Helper()
	return Read(strings.NewReader(doc))
}

func TestReadREADMEFormat(t *testing.T) {
	doc := `# dozor import team.yaml
sources:
  - url: https://www.finextra.com/rss/headlines.aspx
    name: Finextra        # optional
  - url: HTTPS://WWW.Example.COM:443/news/rss?utm_source=tg&b=2&utm_medium=social&a=1#top
  - url: "  https://tass.ru/rss/v2.xml  "
    name: "  ТАСС  "
topics:
  - name: vtb-china
    query: (ВТБ OR VTB) (Китай OR China)
  - name: sber_ai
    query: '"искусственный интеллект" Сбербанк -спорт lang:ru'
  - name: финтех
    query: site:finextra.com (Russia OR Russian)
`
	got, err := read(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Sources: []Source{
			{URL: "https://www.finextra.com/rss/headlines.aspx", Name: "Finextra"},
			{URL: "https://www.example.com/news/rss?a=1&b=2"},
			{URL: "https://tass.ru/rss/v2.xml", Name: "ТАСС"},
		},
		Topics: []Topic{
			{Name: "vtb-china", Query: "(ВТБ OR VTB) (Китай OR China)"},
			{Name: "sber_ai", Query: `"искусственный интеллект" Сбербанк -спорт lang:ru`},
			{Name: "финтех", Query: "site:finextra.com (Russia OR Russian)"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read =\n%+v\nwant\n%+v", got, want)
	}
}

func TestReadExampleFile(t *testing.T) {
	data, err := os.ReadFile("../../watchlist.example.yaml")
	if err != nil {
		t.Skipf("no example watchlist: %v", err)
	}
	f, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the shipped example does not read: %v", err)
	}
	if len(f.Sources) == 0 || len(f.Topics) == 0 {
		t.Errorf("example read as %+v", f)
	}
}

func TestReadRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // all must appear in the error
	}{
		{
			name: "unknown field",
			doc:  "topics:\n  - name: vtb\n    querry: ВТБ\n",
			want: []string{"querry"},
		},
		{
			name: "unknown top-level field",
			doc:  "source:\n  - url: https://a.example/rss\n",
			want: []string{"source"},
		},
		{
			name: "duplicate topic name",
			doc:  "topics:\n  - name: vtb\n    query: ВТБ\n  - name: sber\n    query: Сбербанк\n  - name: vtb\n    query: VTB\n",
			want: []string{"topics[2]", `"vtb" used twice`},
		},
		{
			name: "name with a space",
			doc:  "topics:\n  - name: vtb china\n    query: ВТБ\n",
			want: []string{"topics[0]", "letters, digits"},
		},
		{
			name: "name of 33 characters",
			doc:  "topics:\n  - name: " + strings.Repeat("я", 33) + "\n    query: ВТБ\n",
			want: []string{"33 characters", "at most 32"},
		},
		{
			name: "empty name",
			doc:  "topics:\n  - name: \"\"\n    query: ВТБ\n",
			want: []string{"topics[0]", "empty"},
		},
		{
			name: "missing name",
			doc:  "topics:\n  - query: ВТБ\n",
			want: []string{"topics[0]", "empty"},
		},
		{
			name: "empty query",
			doc:  "topics:\n  - name: vtb\n",
			want: []string{"topics[0]", "empty query"},
		},
		{
			name: "not a web address",
			doc:  "sources:\n  - url: ftp://a.example/rss\n",
			want: []string{"sources[0]", "ftp://a.example/rss"},
		},
		{
			name: "not YAML of the right shape",
			doc:  "sources: everything\n",
			want: []string{"watchlist"},
		},
		{
			name: "broken YAML",
			doc:  "topics:\n  - name: [vtb\n",
			want: []string{"watchlist"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := read(t, tt.doc)
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			if f != nil {
				t.Errorf("returned a file with the error: %+v", f)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestReadBadQueryNamesThePosition(t *testing.T) {
	f, err := read(t, "topics:\n  - name: vtb-china\n    query: ВТБ (Китай OR China\n")
	if err == nil {
		t.Fatalf("accepted: %+v", f)
	}
	var se *query.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %q does not carry a query.SyntaxError", err)
	}
	if se.Pos != 4 {
		t.Errorf("position = %d, want 4 (the unmatched parenthesis)", se.Pos)
	}
	for _, w := range []string{"topics[0]", `"vtb-china"`, "at 4", "("} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestReadReportsAllProblemsTogether(t *testing.T) {
	doc := `sources:
  - url: https://good.example/rss
  - url: gopher://bad.example/feed
topics:
  - name: vtb
    query: ВТБ (Китай
  - name: sber
    query: Сбербанк
  - name: sber
    query: Sberbank
`
	f, err := read(t, doc)
	if err == nil {
		t.Fatalf("accepted: %+v", f)
	}
	msg := err.Error()
	for _, w := range []string{"gopher://bad.example/feed", "topics[0]", "at 4", `topics[2]: name "sber" used twice`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Errorf("want 3 joined errors, got %v", err)
	}
	if !errors.Is(err, canon.ErrNotWeb) {
		t.Errorf("the bad URL's cause is lost: %v", err)
	}
}

func TestReadEmptyDocument(t *testing.T) {
	for _, doc := range []string{"", "\n", "# nothing yet\n", "sources:\ntopics:\n", "sources: []\ntopics: []\n"} {
		f, err := read(t, doc)
		if err != nil {
			t.Errorf("%q: %v", doc, err)
			continue
		}
		if f == nil || len(f.Sources) != 0 || len(f.Topics) != 0 {
			t.Errorf("%q read as %+v", doc, f)
		}
	}
}

func TestValidateTopicName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"vtb-china", true},
		{"sber_ai2", true},
		{"втб-китай", true},
		{strings.Repeat("x", 32), true},
		{strings.Repeat("ж", 32), true}, // counted in characters, not bytes
		{"", false},
		{strings.Repeat("x", 33), false},
		{"vtb china", false},
		{"vtb/china", false},
		{"vtb\n", false},
		{"#vtb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopicName(tt.name)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateTopicName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	files := map[string]*File{
		"full": {
			Sources: []Source{
				{URL: "https://www.finextra.com/rss/headlines.aspx", Name: "Finextra"},
				{URL: "https://www.kommersant.ru/RSS/section-economics.xml", Name: "Коммерсантъ — Экономика"},
				{URL: "https://habr.com/ru/rss/hub/artificial_intelligence/all/?fl=ru"},
				{URL: "https://a.example/rss", Name: "# not: a comment"},
			},
			Topics: []Topic{
				{Name: "ru-banks-china-ai", Query: `(ВТБ OR Сбербанк OR Sberbank) (Китай OR China) (ИИ OR AI OR "искусственный интеллект")`},
				{Name: "sber-ai", Query: "(Сбербанк OR Сбер) (ИИ | AI) -спорт"},
				{Name: "quotes", Query: `«цифровой рубль» OR "digital ruble"`},
				{Name: "site", Query: "site:finextra.com (Russia OR Russian) lang:en"},
				{Name: "leading-quote", Query: `"искусственный интеллект" lang:ru`},
				{Name: "leading-minus", Query: "-спорт ВТБ: #новости"},
			},
		},
		"only topics":  {Topics: []Topic{{Name: "yes", Query: "yes OR no"}}},
		"only sources": {Sources: []Source{{URL: "https://a.example/"}}},
	}
	for name, f := range files {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f); err != nil {
				t.Fatal(err)
			}
			written := buf.String()
			got, err := Read(&buf)
			if err != nil {
				t.Fatalf("%v\nwritten:\n%s", err, written)
			}
			// nil and empty lists are the same watchlist.
			if !slices.Equal(got.Sources, f.Sources) || !slices.Equal(got.Topics, f.Topics) {
				t.Errorf("round trip =\n%+v\nwant\n%+v\nwritten:\n%s", got, f, written)
			}
		})
	}
}

func TestReadRejectsASecondDocument(t *testing.T) {
	_, err := Read(strings.NewReader("topics:\n  - name: a\n    query: ВТБ\n---\ntopics:\n  - name: b\n    query: Китай\n"))
	if err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Fatalf("err = %v, want a refusal of the second document", err)
	}
}
