package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"
)

// A listing too long for one message (hundreds of sources or users) is sent
// as its first page with ◀ ▶ buttons that edit the message to the other
// pages, so no command floods a chat with messages. Pages are built again
// from what is stored at each press: nothing is kept on the server.

// listing is a command's long list: a header block, then one block an item.
type listing struct {
	build func(r *cmdReq) ([]string, error)
	sep   string
	empty string // what to say when there is nothing
	admin bool   // admins only, in a private chat
}

func (b *Bot) listing(kind string) (listing, bool) {
	switch kind {
	case "wl":
		return listing{build: b.watchlistBlocks, sep: "\n\n", empty: "no_topics", admin: true}, true
	case "src":
		return listing{build: b.sourcesBlocks, sep: "\n\n", empty: "no_sources", admin: true}, true
	case "usr":
		return listing{build: b.usersBlocks, sep: "\n", empty: "no_users", admin: true}, true
	}
	return listing{}, false
}

// sendListing sends the first page of a listing.
func (b *Bot) sendListing(ctx context.Context, r *cmdReq, kind string) {
	l, _ := b.listing(kind)
	blocks, err := l.build(r)
	if err != nil {
		b.fail(ctx, r, "list "+kind, err)
		return
	}
	if len(blocks) == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, l.empty))
		return
	}
	text, kb := page(kind, blocks, l.sep, 0)
	b.send(ctx, r.chatID, text, kb)
}

// onPage is a ◀ ▶ press: "pg:<kind>:<page>".
func (b *Bot) onPage(ctx context.Context, q *models.CallbackQuery, msg *models.Message, r *cmdReq, arg string) {
	kind, n, _ := strings.Cut(arg, ":")
	num, err := strconv.Atoi(n)
	l, ok := b.listing(kind)
	if !ok || err != nil || msg == nil {
		quiet(ctx)
		b.refuseButton(ctx, q.ID, tr(r.lang, "cb_expired"))
		return
	}
	if l.admin && (!r.admin || isGroup(msg.Chat.Type)) {
		quiet(ctx)
		b.answer(ctx, q.ID, tr(r.lang, "admin_only"))
		return
	}
	blocks, err := l.build(r)
	if err != nil {
		b.log.Error("bot: list", "kind", kind, "err", err)
		b.answer(ctx, q.ID, tr(r.lang, "internal_error"))
		return
	}
	quiet(ctx)
	// The edit goes first: the answer ends the spinner on a page that is
	// already there.
	if len(blocks) == 0 {
		b.edit(ctx, msg.Chat.ID, msg.ID, tr(r.lang, l.empty), nil)
	} else {
		text, kb := page(kind, blocks, l.sep, num)
		b.edit(ctx, msg.Chat.ID, msg.ID, text, kb)
	}
	b.answer(ctx, q.ID, "")
}

// page renders page n (clamped) of blocks, whose first block is a header
// repeated on every page, with the buttons to the neighbours.
func page(kind string, blocks []string, sep string, n int) (string, *models.InlineKeyboardMarkup) {
	head, items := blocks[0], blocks[1:]
	// Room for the header and the "page k of n" line.
	pages := packBlocks(items, sep, tgTextLimit-utf16Length(head)-64)
	if len(pages) == 0 {
		return head, nil
	}
	n = max(0, min(n, len(pages)-1))
	text := head + sep + pages[n]
	if len(pages) == 1 {
		return text, nil
	}
	text += fmt.Sprintf("\n\n<i>%d / %d</i>", n+1, len(pages))
	return text, &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{pagerRow("pg:"+kind+":", n, len(pages))}}
}

// pagerRow is ◀ and ▶ to the pages before and after n of count, wrapping
// around; data is the callback prefix the page number is appended to.
func pagerRow(data string, n, count int) []models.InlineKeyboardButton {
	prev, next := (n+count-1)%count, (n+1)%count
	return []models.InlineKeyboardButton{
		{Text: "◀", CallbackData: data + strconv.Itoa(prev)},
		{Text: "▶", CallbackData: data + strconv.Itoa(next)},
	}
}
