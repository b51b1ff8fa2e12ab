package tgfake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// webhookPorts are the only ports Telegram delivers webhooks to.
var webhookPorts = map[string]bool{"": true, "443": true, "80": true, "88": true, "8443": true}

func (s *Server) setWebhook(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := strings.TrimSpace(p["url"])
	if raw == "" {
		return s.removeWebhook(p.bool("drop_pending_updates")), nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, badRequest("bad webhook: Failed to resolve host: Name or service not known")
	}
	if u.Scheme != "https" {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if !webhookPorts[u.Port()] {
		return nil, badRequest("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
	}
	secret := p["secret_token"]
	if p.has("secret_token") && !validSecretToken(secret) {
		return nil, badRequest("bad webhook: secret token contains unallowed characters")
	}
	w := WebhookInfo{URL: raw, SecretToken: secret, MaxConnections: 40}
	if p.has("max_connections") {
		w.MaxConnections = min(max(p.int("max_connections"), 1), 100)
	}
	if p.has("allowed_updates") {
		var kinds []string
		if err := json.Unmarshal([]byte(p["allowed_updates"]), &kinds); err == nil {
			w.AllowedUpdates = kinds
			s.setAllowed(kinds)
		}
	}
	if p.bool("drop_pending_updates") {
		s.updates = nil
	}
	s.webhook = w
	s.notify() // a waiting getUpdates is not affected, but state changed
	return described{result: true, desc: "Webhook was set"}, nil
}

func validSecretToken(t string) bool {
	if t == "" || len(t) > 256 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (s *Server) deleteWebhook(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removeWebhook(p.bool("drop_pending_updates")), nil
}

// removeWebhook is deleteWebhook, also reached through setWebhook with an
// empty url. Callers hold s.mu.
func (s *Server) removeWebhook(dropPending bool) described {
	had := s.webhook.URL != ""
	s.webhook = WebhookInfo{}
	if dropPending {
		s.updates = nil
	}
	s.notify()
	if had {
		return described{result: true, desc: "Webhook was deleted"}
	}
	return described{result: true, desc: "Webhook is already deleted"}
}

func (s *Server) getWebhookInfo(*http.Request, params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := struct {
		URL                  string   `json:"url"`
		HasCustomCertificate bool     `json:"has_custom_certificate"`
		PendingUpdateCount   int      `json:"pending_update_count"`
		MaxConnections       int      `json:"max_connections,omitempty"`
		AllowedUpdates       []string `json:"allowed_updates,omitempty"`
	}{URL: s.webhook.URL, PendingUpdateCount: len(s.updates), MaxConnections: s.webhook.MaxConnections, AllowedUpdates: s.webhook.AllowedUpdates}
	return info, nil
}

// commandTarget reads scope and language_code, the key under which Telegram
// stores a command list. Callers hold s.mu.
func (s *Server) commandTarget(p params) (commandKey, *apiError) {
	lang := p["language_code"]
	if lang != "" && (len(lang) != 2 || strings.ToLower(lang) != lang || !isLetters(lang)) {
		return commandKey{}, badRequest("invalid language code specified")
	}
	if strings.TrimSpace(p["scope"]) == "" {
		return commandKey{scope: Scope{Type: ScopeDefault}, lang: lang}, nil
	}
	var raw struct {
		Type   string          `json:"type"`
		ChatID json.RawMessage `json:"chat_id"`
		UserID int64           `json:"user_id"`
	}
	if err := json.Unmarshal([]byte(p["scope"]), &raw); err != nil {
		return commandKey{}, badRequest("can't parse BotCommandScope JSON object")
	}
	sc := Scope{Type: raw.Type}
	switch raw.Type {
	case ScopeDefault, ScopeAllPrivateChats, ScopeAllGroupChats, ScopeAllChatAdministrators:
	case ScopeChat, ScopeChatAdministrators, ScopeChatMember:
		c, aerr := s.resolveChat(strings.Trim(string(raw.ChatID), `"`))
		if aerr != nil {
			return commandKey{}, aerr
		}
		sc.ChatID = c.id
		if raw.Type == ScopeChatMember {
			if raw.UserID <= 0 {
				return commandKey{}, badRequest("invalid user_id specified")
			}
			sc.UserID = raw.UserID
		}
		if raw.Type != ScopeChat && c.typ == "private" {
			return commandKey{}, badRequest("can't change commands in private chats")
		}
	default:
		return commandKey{}, badRequest("unsupported bot command scope type " + strconv.Quote(raw.Type))
	}
	return commandKey{scope: sc, lang: lang}, nil
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// setMyCommands validates like Telegram: at most 100 commands, each 1..32 of
// a-z, 0-9 and _ (a leading slash and upper case are tolerated and
// normalised), with a 1..256 character description.
func (s *Server) setMyCommands(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.has("commands") {
		return nil, badRequest("parameter \"commands\" is required")
	}
	var cmds []models.BotCommand
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands specified")
	}
	for i, c := range cmds {
		name := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(c.Command), "/"))
		if name == "" || len(name) > 32 || strings.IndexFunc(name, func(r rune) bool { return r >= utf8.RuneSelf || !isCommandByte(byte(r)) }) >= 0 {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		desc := strings.TrimSpace(c.Description)
		if desc == "" || utf8.RuneCountInString(desc) > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
		cmds[i] = models.BotCommand{Command: name, Description: desc}
	}
	key, aerr := s.commandTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	if len(cmds) == 0 {
		delete(s.commands, key)
	} else {
		s.commands[key] = cmds
	}
	s.cmdsSet++
	s.notify()
	return true, nil
}

func (s *Server) getMyCommands(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, aerr := s.commandTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	cmds := s.commands[key]
	if cmds == nil {
		return []models.BotCommand{}, nil
	}
	return cmds, nil
}

func (s *Server) deleteMyCommands(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, aerr := s.commandTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	delete(s.commands, key)
	s.notify()
	return true, nil
}
