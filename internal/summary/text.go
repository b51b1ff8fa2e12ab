package summary

import (
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// truncate keeps the beginning of s, at most max runes, cut at the last
// sentence end or line break in the final fifth of that window, else at the
// last space there, else exactly at max. It never copies more than the kept
// part, so a megabyte of text costs no more than the window.
func truncate(s string, max int) (string, bool) {
	if max <= 0 {
		return "", s != ""
	}
	cut, n := -1, 0
	for i := range s {
		if n == max {
			cut = i
			break
		}
		n++
	}
	if cut < 0 {
		return s, false
	}
	head := s[:cut]
	minKeep := len(head) * 4 / 5
	space := -1
	for k := len(head); k > minKeep; {
		r, size := utf8.DecodeLastRuneInString(head[:k])
		k -= size
		if !unicode.IsSpace(r) {
			continue
		}
		if space < 0 {
			space = k
		}
		prev, _ := utf8.DecodeLastRuneInString(head[:k])
		if r == '\n' || isTerminator(prev) || isCloser(prev) {
			return strings.TrimSpace(head[:k]), true
		}
	}
	if space >= 0 {
		return strings.TrimSpace(head[:space]), true
	}
	return head, true
}

// cutRunes shortens s for display: at most max runes, cut on a word where
// possible and marked with "…".
func cutRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return ""
	}
	head, _ := truncate(s, max-1)
	if endsSentence(head) {
		return head
	}
	head = strings.TrimRightFunc(head, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && !isCloser(r) && !isTerminator(r)
	})
	return head + "…"
}

// cleanLine drops control and invisible formatting characters and folds
// whitespace runs into single spaces.
func cleanLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return strings.Join(strings.Fields(s), " ")
}

var (
	scriptRe   = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	tagRe      = regexp.MustCompile(`</?[a-zA-Z!][^<>]{0,500}>`)
	mdImageRe  = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLinkRe   = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	mdMarkRe   = regexp.MustCompile("(\\*\\*|__|~~|`+|\\*)")
	mdHeadRe   = regexp.MustCompile(`^\s*(#{1,6}|>+)\s*`)
	bulletRe   = regexp.MustCompile(`^\s*(?:[-•*–—▪●]|\d{1,2}[.)])\s+(.*)$`)
	labelRe    = regexp.MustCompile(`(?i)^\s*(summary|key points|резюме|краткое содержание|кратко|итог|ключевые (?:моменты|пункты|тезисы))\s*:\s*`)
	fenceRe    = regexp.MustCompile("(?s)```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)```")
	partialSum = regexp.MustCompile(`"summary"\s*:\s*"((?:[^"\\]|\\.)*)`)
	// Reasoning models served by Ollama or vLLM (qwen3, deepseek-r1) put
	// their thinking into the content, before the answer.
	thinkRe = regexp.MustCompile(`(?is)<think>.*?(</think>|$)`)
)

// cleanReply turns model output into plain text: entities decoded, HTML tags
// and markdown markup removed, control characters dropped. The bot escapes
// what it sends, so what is left only has to read well.
func cleanReply(s string) string {
	s = html.UnescapeString(s)
	s = scriptRe.ReplaceAllString(s, " ")
	s = tagRe.ReplaceAllString(s, " ")
	s = mdImageRe.ReplaceAllString(s, "$1")
	s = mdLinkRe.ReplaceAllString(s, "$1")
	s = mdHeadRe.ReplaceAllString(s, "")
	s = mdMarkRe.ReplaceAllString(s, "")
	s = cleanLine(s)
	// A space left before punctuation by a removed tag: "<b>word</b> ." etc.
	return strings.NewReplacer(" .", ".", " ,", ",", " !", "!", " ?", "?", " :", ":").Replace(s)
}

// parseReply reads the model's answer. JSON {"summary", "key_points"} is what
// the prompt asks for; a bare or fenced JSON object, a truncated one, or plain
// prose with bullet lines are all accepted, because servers without
// structured output answer however they like.
func parseReply(content string) (text string, points []string) {
	content = strings.TrimSpace(thinkRe.ReplaceAllString(content, ""))
	if m := fenceRe.FindStringSubmatch(content); m != nil {
		if t, p, ok := parseJSON(m[1]); ok {
			return t, p
		}
		if strings.HasPrefix(content, "```") {
			content = strings.TrimSpace(m[1])
		}
	}
	if t, p, ok := parseJSON(content); ok {
		return t, p
	}
	if strings.HasPrefix(content, "{") {
		// Cut off mid-object (max tokens): salvage the summary string.
		if m := partialSum.FindStringSubmatch(content); m != nil {
			if t, err := strconv.Unquote(`"` + m[1] + `"`); err == nil {
				return t, nil
			}
			return m[1], nil
		}
	}
	return parsePlain(content)
}

func parseJSON(s string) (string, []string, bool) {
	start, end := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if start < 0 || end < start {
		return "", nil, false
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s[start:end+1]), &raw); err != nil {
		return "", nil, false
	}
	var text string
	if err := json.Unmarshal(raw["summary"], &text); err != nil || strings.TrimSpace(text) == "" {
		return "", nil, false
	}
	var points []string
	for _, key := range []string{"key_points", "keyPoints", "points"} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		if json.Unmarshal(v, &points) != nil {
			var one string
			if json.Unmarshal(v, &one) == nil && one != "" {
				points = []string{one}
			}
		}
		break
	}
	return text, points, true
}

func parsePlain(s string) (string, []string) {
	var prose, points []string
	for _, line := range strings.Split(s, "\n") {
		line = labelRe.ReplaceAllString(line, "")
		if t := strings.TrimSpace(line); t == "" || strings.HasSuffix(t, ":") {
			continue // blank, or a preamble such as "Вот краткое содержание:"
		}
		if m := bulletRe.FindStringSubmatch(line); m != nil {
			points = append(points, m[1])
			continue
		}
		prose = append(prose, line)
	}
	if len(prose) == 0 && len(points) > 0 {
		prose, points = points[:1], points[1:]
	}
	sents := splitSentences(cleanReply(strings.Join(prose, " ")))
	if len(sents) > defaultSentences {
		sents = sents[:defaultSentences]
	}
	return strings.Join(sents, " "), points
}

// sanitize applies the limits every summary obeys, whatever the model sent.
func sanitize(text string, points []string) (string, []string) {
	text = cutRunes(cleanReply(text), maxSummaryRunes)
	var out []string
	seen := map[string]bool{normKey(text): true}
	for _, p := range points {
		if len(out) == maxKeyPoints {
			break
		}
		p = cleanReply(p)
		if m := bulletRe.FindStringSubmatch(p); m != nil {
			p = m[1]
		}
		p = cutRunes(strings.TrimSpace(p), maxKeyPointRunes)
		if p == "" || seen[normKey(p)] {
			continue
		}
		seen[normKey(p)] = true
		out = append(out, p)
	}
	return text, out
}
