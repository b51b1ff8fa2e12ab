package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite ../.env.example")

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Parse(lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "data/dozor.db" || c.WatchSchedule != "@every 5m" || c.FetchAllowPriv || c.AlertBacklog != 24*time.Hour {
		t.Errorf("defaults: %+v", c)
	}
	if c.Access != "approval" || c.SummaryLanguage != "ru" || c.LLMConcurrency != 2 || c.SummaryDeadline != 2*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	if c.LLMEnabled() {
		t.Error("LLM enabled with no base URL and no key")
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"WATCH_SCHEDULE", "every five minutes"},
		{"FETCH_ALLOW_PRIVATE", "maybe"},
		{"LOG_LEVEL", "loud"},
		{"ALERT_BACKLOG", "1 day"},
		{"DOZOR_DB", ""},
		{"ADMIN_IDS", "12,abc"},
		{"ACCESS", "everyone"},
		{"SUMMARY_LANGUAGE", "de"},
		{"LLM_CONCURRENCY", "0"},
		{"OPENAI_BASE_URL", "localhost:11434"},
		{"TELEGRAM_API_URL", "ftp://x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(lookupMap(map[string]string{tc.name: tc.value}))
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.name, tc.value)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.name) || strings.Contains(msg, "\n") {
				t.Errorf("error %q should be one line naming %s", msg, tc.name)
			}
		})
	}
}

func TestGoodValues(t *testing.T) {
	c, err := Parse(lookupMap(map[string]string{
		"WATCH_SCHEDULE": "@every 2s", "FETCH_ALLOW_PRIVATE": "true", "LOG_LEVEL": "debug",
		"ADMIN_IDS": "1, 42,7", "OPENAI_BASE_URL": "http://localhost:11434/v1/", "ACCESS": "OPEN",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.WatchSchedule != "@every 2s" || !c.FetchAllowPriv || !c.IsAdmin(42) || c.IsAdmin(2) || len(c.AdminIDs) != 3 {
		t.Errorf("parsed: %+v", c)
	}
	if c.OpenAIBaseURL != "http://localhost:11434/v1" || !c.LLMEnabled() || c.Access != "open" {
		t.Errorf("parsed: %+v", c)
	}
}

func TestSecretFromFileNeverEchoed(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("123:SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(lookupMap(map[string]string{"TELEGRAM_BOT_TOKEN_FILE": f}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TelegramToken != "123:SECRET" {
		t.Errorf("token = %q", c.TelegramToken)
	}
	_, err = Parse(lookupMap(map[string]string{"TELEGRAM_BOT_TOKEN_FILE": f, "TELEGRAM_BOT_TOKEN": "123:OTHER"}))
	if err == nil || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "OTHER") {
		t.Errorf("both set: err = %v", err)
	}
}

func TestDotEnvFileAndPrecedence(t *testing.T) {
	dir := t.TempDir()
	env := "WATCH_SCHEDULE=@every 2s\nLOG_LEVEL=debug\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOG_LEVEL", "warn")
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.WatchSchedule != "@every 2s" {
		t.Errorf("schedule from .env = %q", c.WatchSchedule)
	}
	if c.LogLevel.String() != "WARN" {
		t.Errorf("environment should win over .env, level = %v", c.LogLevel)
	}
}

// .env.example and the README's table must list every variable.
func TestDocsListEveryVariable(t *testing.T) {
	if *update {
		if err := os.WriteFile("../../.env.example", []byte(Example()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	if string(example) != Example() {
		t.Error(".env.example is stale: run go test ./config -update")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		if !strings.Contains(string(readme), "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s", v.Name)
		}
	}
}
