package tgfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBody caps request bodies; Telegram's own cap for uploads is 50 MB, but
// the fake implements no upload methods.
const maxBody = 10 << 20

// apiError is a failed call as the Bot API reports it.
type apiError struct {
	code       int
	desc       string
	retryAfter int
	migrateTo  int64
}

func badRequest(desc string) *apiError {
	return &apiError{code: http.StatusBadRequest, desc: "Bad Request: " + desc}
}

func forbidden(desc string) *apiError {
	return &apiError{code: http.StatusForbidden, desc: "Forbidden: " + desc}
}

func tooMany(retryAfter int) *apiError {
	return &apiError{code: http.StatusTooManyRequests, desc: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), retryAfter: retryAfter}
}

func conflict(desc string) *apiError {
	return &apiError{code: http.StatusConflict, desc: "Conflict: " + desc}
}

// described is a successful result that also carries a description, as
// setWebhook's "Webhook was set".
type described struct {
	result any
	desc   string
}

type handlerFunc func(r *http.Request, p params) (any, *apiError)

// methods maps lower-case method names (Telegram ignores their case) to
// handlers.
func (s *Server) methods() map[string]handlerFunc {
	return map[string]handlerFunc{
		"getme":                  s.getMe,
		"getupdates":             s.getUpdates,
		"setwebhook":             s.setWebhook,
		"deletewebhook":          s.deleteWebhook,
		"getwebhookinfo":         s.getWebhookInfo,
		"setmycommands":          s.setMyCommands,
		"getmycommands":          s.getMyCommands,
		"deletemycommands":       s.deleteMyCommands,
		"sendmessage":            s.sendMessage,
		"editmessagetext":        s.editMessageText,
		"editmessagereplymarkup": s.editMessageReplyMarkup,
		"deletemessage":          s.deleteMessage,
		"answercallbackquery":    s.answerCallbackQuery,
		"sendchataction":         s.sendChatAction,
		"getchatmember":          s.getChatMember,
	}
}

// unimplemented are real Bot API methods a bot might plausibly call that the
// fake does not model. Answering them 404 would pretend Telegram rejects
// them, so the fake fails the test instead.
var unimplemented = map[string]bool{
	"logout": true, "close": true, "forwardmessage": true, "forwardmessages": true,
	"copymessage": true, "copymessages": true, "sendphoto": true, "sendaudio": true,
	"senddocument": true, "sendvideo": true, "sendanimation": true, "sendvoice": true,
	"sendmediagroup": true, "sendlocation": true, "sendpoll": true, "setmessagereaction": true,
	"getfile": true, "getchat": true, "getchatadministrators": true,
	"getchatmembercount": true, "leavechat": true, "pinchatmessage": true, "unpinchatmessage": true,
	"setmyname": true, "getmyname": true, "setmydescription": true, "getmydescription": true,
	"setmyshortdescription": true, "getmyshortdescription": true, "setchatmenubutton": true,
	"getchatmenubutton": true, "editmessagecaption": true, "editmessagemedia": true,
	"deletemessages": true, "answerinlinequery": true, "getuserprofilephotos": true,
	"setmydefaultadministratorrights": true, "getmydefaultadministratorrights": true,
}

func (s *Server) handler() http.Handler {
	methods := s.methods()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
		if !ok {
			s.writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found"})
			return
		}
		token, method, ok := strings.Cut(rest, "/")
		if !ok {
			s.writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found"})
			return
		}
		if token != s.token {
			// Telegram answers a well-formed but wrong token with 401 and
			// anything else with 404.
			if _, wellFormed := botIDFromToken(token); wellFormed {
				s.writeError(w, &apiError{code: http.StatusUnauthorized, desc: "Unauthorized"})
			} else {
				s.writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found"})
			}
			return
		}
		name := strings.ToLower(method)
		h, known := methods[name]
		if !known {
			if unimplemented[name] {
				s.t.Errorf("tgfake: the bot called %s, a real Bot API method the fake does not implement", method)
				s.writeError(w, &apiError{code: http.StatusNotImplemented, desc: "Not Implemented: tgfake has no " + method})
				return
			}
			s.writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found"})
			return
		}
		p, perr := readParams(r)
		if perr != nil {
			s.writeError(w, perr)
			return
		}

		s.mu.Lock()
		s.calls[name]++
		var injected *failure
		if q := s.failures[name]; len(q) > 0 {
			injected = &q[0]
			s.failures[name] = q[1:]
		}
		s.mu.Unlock()
		if injected != nil {
			s.writeInjected(w, *injected)
			return
		}

		result, aerr := h(r, p)
		if aerr != nil {
			s.writeError(w, aerr)
			return
		}
		s.writeOK(w, result)
	})
}

func (s *Server) writeOK(w http.ResponseWriter, result any) {
	body := struct {
		OK          bool   `json:"ok"`
		Result      any    `json:"result"`
		Description string `json:"description,omitempty"`
	}{OK: true, Result: result}
	if d, ok := result.(described); ok {
		body.Result, body.Description = d.result, d.desc
	}
	data, err := json.Marshal(body)
	if err != nil {
		s.t.Errorf("tgfake: encode result: %v", err)
		s.writeError(w, &apiError{code: http.StatusInternalServerError, desc: "Internal Server Error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	type parameters struct {
		RetryAfter      int   `json:"retry_after,omitempty"`
		MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	}
	body := struct {
		OK          bool        `json:"ok"`
		ErrorCode   int         `json:"error_code"`
		Description string      `json:"description"`
		Parameters  *parameters `json:"parameters,omitempty"`
	}{ErrorCode: e.code, Description: e.desc}
	if e.retryAfter != 0 || e.migrateTo != 0 {
		body.Parameters = &parameters{RetryAfter: e.retryAfter, MigrateToChatID: e.migrateTo}
	}
	if e.code == http.StatusTooManyRequests {
		s.mu.Lock()
		s.count429++
		s.mu.Unlock()
	}
	data, _ := json.Marshal(body) // plain strings and ints cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.code)
	_, _ = w.Write(data)
}

func (s *Server) writeInjected(w http.ResponseWriter, f failure) {
	switch f.code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		status := fmt.Sprintf("%d %s", f.code, http.StatusText(f.code))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.code)
		_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n", status, status)
	case http.StatusTooManyRequests:
		s.writeError(w, tooMany(f.retryAfter))
	case http.StatusBadRequest:
		s.writeError(w, badRequest("injected failure"))
	case http.StatusForbidden:
		s.writeError(w, forbidden("bot was blocked by the user"))
	case http.StatusConflict:
		s.writeError(w, conflict("terminated by other getUpdates request; make sure that only one bot instance is running"))
	default:
		s.writeError(w, &apiError{code: f.code, desc: http.StatusText(f.code)})
	}
}

// params are a call's parameters as strings, the way the Bot API sees them
// whatever the encoding: JSON strings unquoted, other JSON values as JSON.
type params map[string]string

// readParams collects parameters from the query string and from a JSON,
// urlencoded or multipart body, the four encodings Telegram accepts.
func readParams(r *http.Request) (params, *apiError) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("can't read request body")
	}
	if len(body) > maxBody {
		return nil, &apiError{code: http.StatusRequestEntityTooLarge, desc: "Request Entity Too Large"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, badRequest("can't parse JSON object")
		}
		for k, raw := range obj {
			var str string
			switch {
			case json.Unmarshal(raw, &str) == nil:
				p[k] = str
			case string(raw) == "null":
			default:
				p[k] = string(raw)
			}
		}
	case "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("can't parse request body")
		}
		for k, v := range q {
			p[k] = v[0]
		}
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), ctParams["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, badRequest("can't parse multipart/form-data request body")
			}
			value, err := io.ReadAll(part)
			if err != nil {
				return nil, badRequest("can't parse multipart/form-data request body")
			}
			if part.FileName() == "" {
				p[part.FormName()] = string(value)
			}
		}
	}
	return p, nil
}

func (p params) has(name string) bool {
	_, ok := p[name]
	return ok
}

// int64 parses an integer parameter; like the Bot API it reads garbage as 0.
func (p params) int64(name string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(p[name]), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func (p params) int(name string) int {
	return int(p.int64(name))
}

func (p params) bool(name string) bool {
	v := strings.ToLower(strings.TrimSpace(p[name]))
	return v == "true" || v == "1"
}
