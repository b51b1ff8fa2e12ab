// Package logging builds dozor's logger and is the one place that scrubs
// secrets from what dozor writes out: a bot token in a failed request's URL
// must never reach a log or the terminal.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every secret the Scrubber finds.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret scrubbed: shorter ones would blank out
// ordinary words and numbers.
const minSecret = 6

// tokenShape matches anything shaped like a Telegram bot token, also other
// bots' and inside URLs (".../bot123456:AAH.../getMe"), with the colon raw
// or percent-encoded as in a query string.
const tokenShape = `\d{5,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}`

// Scrubber removes secrets from text: each secret in raw form, URL-encoded
// (url.QueryEscape and url.PathEscape forms, either case of hex digits),
// and JSON-escaped form, plus anything shaped like a Telegram bot token,
// replacing them with "[REDACTED]". It is safe for concurrent use.
type Scrubber struct {
	re *regexp.Regexp
}

// NewScrubber scrubs the given secrets and token-shaped text. Secrets
// shorter than 6 characters are ignored.
func NewScrubber(secrets ...string) *Scrubber {
	var kept []string
	for _, s := range secrets {
		if len(s) >= minSecret && !slices.Contains(kept, s) {
			kept = append(kept, s)
		}
	}
	// Longest first: a secret that is a prefix of another must not leave
	// the other's tail behind.
	slices.SortStableFunc(kept, func(a, b string) int { return len(b) - len(a) })
	alts := make([]string, 0, len(kept)+1)
	for _, s := range kept {
		alts = append(alts, secretPattern(s))
	}
	alts = append(alts, tokenShape)
	return &Scrubber{re: regexp.MustCompile(strings.Join(alts, "|"))}
}

// secretPattern matches s with each character either as is or in any
// encoding a URL or a JSON string may give it. Matching per character
// covers url.QueryEscape, url.PathEscape and JSON forms at once, and text
// that mixes them.
func secretPattern(s string) string {
	var sb strings.Builder
	sb.WriteString("(?:")
	for _, r := range s {
		if unreserved(r) {
			sb.WriteRune(r) // letters, digits and -._~ are never escaped
			continue
		}
		forms := []string{regexp.QuoteMeta(string(r))}
		var buf [utf8.UTFMax]byte
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			forms = append(forms, fmt.Sprintf("%%(?i:%02x)", c))
		}
		switch r {
		case ' ':
			forms = append(forms, `\+`)
		case '"', '\\', '/':
			forms = append(forms, regexp.QuoteMeta(`\`+string(r)))
		case '\n':
			forms = append(forms, `\\n`)
		case '\r':
			forms = append(forms, `\\r`)
		case '\t':
			forms = append(forms, `\\t`)
		case '\b':
			forms = append(forms, `\\b`)
		case '\f':
			forms = append(forms, `\\f`)
		}
		if r <= 0xFFFF {
			// \u escapes: encoding/json's for <, >, &, control characters
			// and U+2028/2029; any character may legally be written so.
			forms = append(forms, fmt.Sprintf(`\\u(?i:%04x)`, r))
		}
		sb.WriteString("(?:" + strings.Join(forms, "|") + ")")
	}
	sb.WriteString(")")
	return sb.String()
}

func unreserved(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// String is text with every secret replaced by "[REDACTED]".
func (s *Scrubber) String(text string) string {
	if !s.re.MatchString(text) {
		return text // the common case, without an allocation
	}
	return s.re.ReplaceAllLiteralString(text, Redacted)
}

// Handler wraps h so that the message, every attribute value (strings,
// errors, fmt.Stringers, []byte, groups and any other value rendered with
// fmt), and attributes added with WithAttrs are scrubbed before h sees
// them. Scrubbing comes first because h may encode values (JSON escapes
// them) into a form a plain search would miss.
func (s *Scrubber) Handler(h slog.Handler) slog.Handler {
	return &handler{inner: h, s: s}
}

type handler struct {
	inner slog.Handler
	s     *Scrubber
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.s.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{inner: h.inner.WithAttrs(h.s.attrs(as)), s: h.s}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), s: h.s}
}

func (s *Scrubber) attrs(as []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = s.attr(a)
	}
	return out
}

// attr scrubs one attribute's value. Values that could carry text are
// rendered to strings first; numbers, times and the like cannot hold a
// secret and pass unchanged.
func (s *Scrubber) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve() // a LogValuer may produce the secret
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(s.String(v.String()))
	case slog.KindGroup:
		a.Value = slog.GroupValue(s.attrs(v.Group())...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			a.Value = v
		case []byte:
			a.Value = slog.StringValue(s.String(string(x)))
		case error, fmt.Stringer:
			// fmt calls Error or String and survives a nil receiver.
			a.Value = slog.StringValue(s.String(fmt.Sprint(x)))
		default:
			a.Value = slog.StringValue(s.String(fmt.Sprintf("%+v", x)))
		}
	default:
		a.Value = v
	}
	return a
}

// New builds dozor's logger: text or json slog handler on w at level,
// behind the scrubber. Any format but "json" means text.
func New(w io.Writer, format string, level slog.Leveler, secrets ...string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(NewScrubber(secrets...).Handler(h))
}
