package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const (
	token     = "424242:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	tokenTail = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	// password has characters every encoding treats differently.
	password = `pa$$ w/rd+"<x>"&more`
)

// jsonForm is s as it appears inside a JSON string.
func jsonForm(t *testing.T, s string, escapeHTML bool) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(buf.String()), `"`), `"`)
}

// lowerHex turns "%3A" into "%3a", as some encoders write it.
func lowerHex(s string) string {
	return regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(s, strings.ToLower)
}

func TestScrubberString(t *testing.T) {
	s := NewScrubber(token, password, "short")
	tests := []struct {
		name, in, want string
	}{
		{"raw token", "token " + token + " end", "token [REDACTED] end"},
		{"token in a URL", `Post "https://api.telegram.org/bot` + token + `/getMe": refused`, `Post "https://api.telegram.org/bot[REDACTED]/getMe": refused`},
		{"query-escaped token", "?t=" + url.QueryEscape(token), "?t=[REDACTED]"},
		{"query-escaped token, lower hex", "?t=" + lowerHex(url.QueryEscape(token)), "?t=[REDACTED]"},
		{"path-escaped token", "/" + url.PathEscape(token), "/[REDACTED]"},
		{"JSON-escaped token", `{"t":"` + jsonForm(t, token, true) + `"}`, `{"t":"[REDACTED]"}`},
		{"another bot's token", "987654321:ABCdefGHIjklMNOpqrSTUvwx_yz-12345", "[REDACTED]"},
		{"another bot's token, encoded", "987654321%3AABCdefGHIjklMNOpqrSTUvwx_yz-12345", "[REDACTED]"},
		{"another bot's token, lower hex", "987654321%3aABCdefGHIjklMNOpqrSTUvwx_yz-12345", "[REDACTED]"},
		{"raw password", "p=" + password + ";", "p=[REDACTED];"},
		{"query-escaped password", "p=" + url.QueryEscape(password), "p=[REDACTED]"},
		{"query-escaped password, lower hex", "p=" + lowerHex(url.QueryEscape(password)), "p=[REDACTED]"},
		{"path-escaped password", "/" + url.PathEscape(password) + "/", "/[REDACTED]/"},
		{"JSON-escaped password", `"` + jsonForm(t, password, true) + `"`, `"[REDACTED]"`},
		{"JSON-escaped password, no HTML escaping", `"` + jsonForm(t, password, false) + `"`, `"[REDACTED]"`},
		{"twice", token + " " + token, "[REDACTED] [REDACTED]"},
		{"short secrets are ignored", "a short word", "a short word"},
		{"ids and times are not tokens", "chat 123456789 at 12:30:00", "chat 123456789 at 12:30:00"},
		{"nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScrubberLongestSecretFirst(t *testing.T) {
	s := NewScrubber("abcdef", "abcdefghij")
	if got := s.String("x abcdefghij y"); got != "x [REDACTED] y" {
		t.Errorf("got %q", got)
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return "stringer(" + s.s + ")" }

type nilStringer struct{}

func (*nilStringer) String() string { panic("called on nil") }

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value { return slog.StringValue(v.s) }

type request struct {
	URL   string
	Token []byte
}

// forms are the ways the secrets could show up in output if a scrubber
// missed them.
func forms(t *testing.T) []string {
	out := []string{tokenTail}
	for _, s := range []string{token, password} {
		out = append(out, s, url.QueryEscape(s), lowerHex(url.QueryEscape(s)), url.PathEscape(s),
			jsonForm(t, s, true), jsonForm(t, s, false))
	}
	return out
}

func TestHandlerScrubsEverything(t *testing.T) {
	u := "https://api.telegram.org/bot" + token + "/getMe"
	logs := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("failed for " + token) }},
		{"string", func(l *slog.Logger) { l.Info("x", "url", u) }},
		{"query-escaped", func(l *slog.Logger) { l.Info("x", "q", "?t="+url.QueryEscape(token)) }},
		{"query-escaped, lower hex", func(l *slog.Logger) { l.Info("x", "q", "?t="+lowerHex(url.QueryEscape(token))) }},
		{"JSON-escaped", func(l *slog.Logger) { l.Info("x", "body", `{"key":"`+jsonForm(t, password, true)+`"}`) }},
		{"error", func(l *slog.Logger) { l.Error("x", "err", fmt.Errorf("bot: %w", errors.New("Post "+u))) }},
		{"url.Error", func(l *slog.Logger) { l.Error("x", "err", &url.Error{Op: "Post", URL: u, Err: errors.New("refused")}) }},
		{"stringer", func(l *slog.Logger) { l.Info("x", "v", stringer{token}) }},
		{"nil stringer", func(l *slog.Logger) { l.Info("x", "v", (*nilStringer)(nil), "t", token) }},
		{"bytes", func(l *slog.Logger) { l.Info("x", "body", []byte("password="+password)) }},
		{"struct", func(l *slog.Logger) { l.Info("x", "req", request{URL: u, Token: []byte(token)}) }},
		{"pointer", func(l *slog.Logger) { l.Info("x", "req", &request{URL: u}) }},
		{"map", func(l *slog.Logger) { l.Info("x", "m", map[string]string{"t": token}) }},
		{"log valuer", func(l *slog.Logger) { l.Info("x", "v", valuer{token}) }},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("req", "url", u, "n", 1)) }},
		{"nested group", func(l *slog.Logger) {
			l.Info("x", slog.Group("a", slog.Group("b", "err", errors.New(u), "pw", password)))
		}},
		{"with attrs", func(l *slog.Logger) { l.With("url", u).Info("x") }},
		{"with group and attrs", func(l *slog.Logger) { l.WithGroup("g").With("err", errors.New(token)).Info("x", "pw", password) }},
		{"attrs on a record", func(l *slog.Logger) { l.LogAttrs(t.Context(), slog.LevelWarn, "x", slog.String("pw", password)) }},
	}
	for _, format := range []string{"text", "json"} {
		for _, tt := range logs {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				var buf bytes.Buffer
				tt.log(New(&buf, format, slog.LevelDebug, token, password))
				out := buf.String()
				if out == "" {
					t.Fatal("nothing logged")
				}
				for _, f := range forms(t) {
					if strings.Contains(out, f) {
						t.Errorf("output has %q:\n%s", f, out)
					}
				}
				if !strings.Contains(out, Redacted) {
					t.Errorf("output has no %s:\n%s", Redacted, out)
				}
				if format == "json" && !json.Valid(buf.Bytes()) {
					t.Errorf("not JSON:\n%s", out)
				}
			})
		}
	}
}

func TestHandlerKeepsTheRest(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "json", slog.LevelInfo, token)
	l.Debug("hidden")
	l.With("component", "bot").Info("send failed", "chat_id", 42, "err", errors.New("Post "+token+": 502"), slog.Group("g", "ok", true))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, buf.String())
	}
	want := map[string]any{
		"level": "INFO", "msg": "send failed", "component": "bot", "chat_id": 42.0,
		"err": "Post [REDACTED]: 502", "g": map[string]any{"ok": true},
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if strings.Contains(buf.String(), "hidden") {
		t.Error("a debug record passed an info logger")
	}
}

func TestNewFormats(t *testing.T) {
	tests := []struct {
		format, want string
	}{
		{"text", `level=INFO msg=hello`},
		{"", `level=INFO msg=hello`},
		{"json", `"msg":"hello"`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		New(&buf, tt.format, slog.LevelInfo).Info("hello")
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("format %q: %s", tt.format, buf.String())
		}
	}
}
