// Package prompts holds the LLM prompt templates. They are text/template files
// embedded in the binary and parsed once at start-up, so a broken prompt stops
// the program at once instead of failing on the first article. A team can
// override any of them with its own file of the same name (PROMPTS_DIR).
package prompts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed *.tmpl
var embedded embed.FS

// Template file names. An override directory may hold any subset of them.
const (
	SummarySystem = "summary.system.tmpl"
	SummaryUser   = "summary.user.tmpl"
)

var names = []string{SummarySystem, SummaryUser}

// Limits on the single-line fields: they come from feeds, and a broken feed
// can put a megabyte into a title.
const (
	maxLineRunes  = 500
	maxTopicRunes = 200
	maxTopics     = 50
)

// SummaryInput is the data the summary templates see. Set.Summary cleans every
// field before the templates run, so a team's own template gets the same
// protection as the built-in one without having to remember any escaping.
type SummaryInput struct {
	Title, Source, URL string
	Published          time.Time
	// Lang is the article's language ("ru", "en"), empty when unknown.
	Lang string
	// Text is the article body. It is untrusted: it is stripped of control
	// characters and of anything that looks like the <article> delimiter.
	Text   string
	Topics []string
	// SummaryLanguage is the language the summary is written in ("ru" or
	// "en"); empty means Russian.
	SummaryLanguage string
}

// Set is a parsed set of templates, safe for concurrent use.
type Set struct {
	tmpl map[string]*template.Template
}

// Load parses the templates. dir "" means the embedded ones; otherwise every
// known file present in dir replaces its embedded counterpart and the rest stay
// embedded. A *.tmpl file in dir with an unknown name is an error, because a
// misspelt override would otherwise be silently ignored.
func Load(dir string) (*Set, error) {
	s := &Set{tmpl: make(map[string]*template.Template, len(names))}
	override := map[string]bool{}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("prompts: read override dir: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
				continue
			}
			if !slices.Contains(names, e.Name()) {
				return nil, fmt.Errorf("prompts: %s: unknown template file (known: %s)",
					filepath.Join(dir, e.Name()), strings.Join(names, ", "))
			}
			override[e.Name()] = true
		}
	}
	for _, name := range names {
		var (
			src    []byte
			origin string
			err    error
		)
		if override[name] {
			origin = filepath.Join(dir, name)
			src, err = os.ReadFile(origin)
		} else {
			origin = "embedded " + name
			src, err = fs.ReadFile(embedded, name)
		}
		if err != nil {
			return nil, fmt.Errorf("prompts: read %s: %w", origin, err)
		}
		if !utf8.Valid(src) {
			return nil, fmt.Errorf("prompts: %s: not valid UTF-8", origin)
		}
		t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(src))
		if err != nil {
			// text/template errors read "template: NAME:LINE: ...".
			return nil, fmt.Errorf("prompts: %s: %w", origin, err)
		}
		s.tmpl[name] = t
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// check runs the templates once on a sample, so that errors only execution
// finds (an unknown field, a bad call) also surface at start-up.
func (s *Set) check() error {
	const marker = "SAMPLE-ARTICLE-BODY-7f3a"
	sys, user, err := s.Summary(SummaryInput{
		Title: "Sample title", Source: "Sample source", URL: "https://example.com/a",
		Published: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Lang: "en",
		Text: marker, Topics: []string{"sample topic"}, SummaryLanguage: "ru",
	})
	if err != nil {
		return err
	}
	if strings.TrimSpace(sys) == "" {
		return fmt.Errorf("prompts: %s renders empty", SummarySystem)
	}
	if !strings.Contains(sys+user, marker) {
		return errors.New("prompts: the summary templates never print {{.Text}}: the model would not see the article")
	}
	return nil
}

// Summary renders the system and user messages for one article.
func (s *Set) Summary(in SummaryInput) (system, user string, err error) {
	in = clean(in)
	if system, err = s.exec(SummarySystem, in); err != nil {
		return "", "", err
	}
	if user, err = s.exec(SummaryUser, in); err != nil {
		return "", "", err
	}
	return system, user, nil
}

func (s *Set) exec(name string, data any) (string, error) {
	t, ok := s.tmpl[name]
	if !ok {
		return "", fmt.Errorf("prompts: template %s not loaded", name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("prompts: render %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}

var funcs = template.FuncMap{
	"join":     strings.Join,
	"langName": langName,
	"date":     date,
}

// langName turns a language code into the English name models understand best.
func langName(code string) string {
	switch strings.ToLower(code) {
	case "", "ru":
		return "Russian"
	case "en":
		return "English"
	}
	return code
}

func date(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func clean(in SummaryInput) SummaryInput {
	out := SummaryInput{
		Title:           Line(in.Title, maxLineRunes),
		Source:          Line(in.Source, maxLineRunes),
		URL:             Line(in.URL, maxLineRunes),
		Published:       in.Published,
		Lang:            Line(in.Lang, 16),
		Text:            Untrusted(in.Text),
		SummaryLanguage: Line(in.SummaryLanguage, 16),
	}
	if out.SummaryLanguage == "" {
		out.SummaryLanguage = "ru"
	}
	for _, t := range in.Topics {
		if t = Line(t, maxTopicRunes); t != "" && len(out.Topics) < maxTopics {
			out.Topics = append(out.Topics, t)
		}
	}
	return out
}

var blankLines = regexp.MustCompile(`\n[ \t]*\n(?:[ \t]*\n)+`)

// Untrusted prepares multi-line text from outside for a place between the
// <article> markers: invalid UTF-8 and control characters go, and anything that
// looks like the delimiter, look-alikes included, becomes "[article]" /
// "[/article]", so the text cannot close the block it sits in.
func Untrusted(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case isInvisible(r):
			return -1
		}
		return r
	}, s)
	s = neutralise(s)
	s = blankLines.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}

// Line is Untrusted for a one-line field: whitespace runs become one space and
// the result is cut to max runes.
func Line(s string, max int) string {
	if max <= 0 {
		return ""
	}
	s = strings.Join(strings.Fields(Untrusted(s)), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

// isInvisible reports control and formatting characters (including bidi
// overrides) that can hide text from a human reader but not from a model.
func isInvisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}
