// Package watchlist reads and writes a team's sources and topics as YAML, so
// the watchlist can live in git next to the team's other configuration.
package watchlist

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"dozor/internal/canon"
	"dozor/internal/query"
)

// File is the YAML document:
//
//	sources:
//	  - url: https://www.finextra.com/rss/headlines.aspx
//	    name: Finextra        # optional
//	    full_text: auto       # optional: auto (default), on or off
//	topics:
//	  - name: vtb-china
//	    query: (ВТБ OR VTB) (Китай OR China)
//	entities:                 # optional: names that are one entity across languages
//	  - [Т1, T1, Т1 Интеграция]
type File struct {
	Sources  []Source   `yaml:"sources"`
	Topics   []Topic    `yaml:"topics"`
	Entities [][]string `yaml:"entities,omitempty"`
}

// Source is a feed.
type Source struct {
	URL  string `yaml:"url"`
	Name string `yaml:"name,omitempty"`
	// FullText is when article pages are fetched: auto (when the feed
	// carries only teasers), on or off; "" keeps what is stored.
	FullText string `yaml:"full_text,omitempty"`
}

// Topic is a watched query.
type Topic struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
}

// Read parses and validates a watchlist; unknown fields are errors (a typo
// like "querry:" must not silently drop a topic). All problems are reported
// together.
func Read(r io.Reader) (*File, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return &File{}, nil
		}
		return nil, fmt.Errorf("watchlist: %w", err)
	}
	// A second document ("---") would otherwise be dropped without a word.
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("watchlist: the file holds more than one YAML document; put everything in one")
	}
	var errs []error
	seen := map[string]bool{}
	for i := range f.Sources {
		s := &f.Sources[i]
		u, err := canon.URL(strings.TrimSpace(s.URL))
		if err != nil {
			errs = append(errs, fmt.Errorf("sources[%d] url %q: %w", i, s.URL, err))
			continue
		}
		s.URL, s.Name = u, strings.TrimSpace(s.Name)
		switch s.FullText = strings.ToLower(strings.TrimSpace(s.FullText)); s.FullText {
		case "", "auto", "on", "off":
		default:
			errs = append(errs, fmt.Errorf("sources[%d] full_text %q: want auto, on or off", i, s.FullText))
		}
	}
	for i, t := range f.Topics {
		if err := ValidateTopic(t.Name, t.Query); err != nil {
			errs = append(errs, fmt.Errorf("topics[%d] %q: %w", i, t.Name, err))
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("topics[%d]: name %q used twice", i, t.Name))
		}
		seen[t.Name] = true
	}
	for i, group := range f.Entities {
		var names []string
		for _, n := range group {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		if len(names) < 2 {
			errs = append(errs, fmt.Errorf("entities[%d]: a group names one entity in at least two ways, e.g. [Т1, T1]", i))
		}
		f.Entities[i] = names
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("watchlist: %w", errors.Join(errs...))
	}
	return &f, nil
}

// Write renders a watchlist as YAML.
func Write(w io.Writer, f *File) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("watchlist: %w", err)
	}
	return enc.Close()
}

// MaxTopicName is the longest topic name, in characters.
const MaxTopicName = 32

// ValidateTopic checks a topic's name and query.
func ValidateTopic(name, q string) error {
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	if _, err := query.ParseTopic(q); err != nil {
		return err
	}
	return nil
}

// ValidateTopicName allows short names that survive in chat commands and
// Telegram callback data: letters, digits, '-' and '_'.
func ValidateTopicName(name string) error {
	if name == "" {
		return errors.New("topic name is empty")
	}
	if n := len([]rune(name)); n > MaxTopicName {
		return fmt.Errorf("topic name is %d characters long, at most %d allowed", n, MaxTopicName)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' {
			return fmt.Errorf("topic name %q may only hold letters, digits, '-' and '_'", name)
		}
	}
	return nil
}
