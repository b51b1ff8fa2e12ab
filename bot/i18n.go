package bot

import (
	"fmt"
	"strings"
	"time"
)

// Interface languages. Russian is dozor's main audience; everyone else gets
// English.
const (
	langRU = "ru"
	langEN = "en"
)

// langFromCode maps a Telegram client language_code ("ru", "ru-RU", "en-GB")
// to an interface language.
func langFromCode(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	if code == langRU || strings.HasPrefix(code, "ru-") || strings.HasPrefix(code, "ru_") {
		return langRU
	}
	return langEN
}

// normLang is lang if it is one the interface speaks, else English.
func normLang(lang string) string {
	if lang == langRU {
		return langRU
	}
	return langEN
}

// phrase is one message in both interface languages. The texts are HTML
// for parse_mode=HTML: arguments must be escaped by the caller (escapeTG).
type phrase struct{ en, ru string }

// phrases is the interface text. It is constant data, read only.
var phrases = map[string]phrase{
	"welcome": {
		en: "Hi! I'm <b>dozor</b>: I watch news sources and send you new stories on the topics you follow, with a short summary.\n\nPick your topics: /topics\nAll commands: /help",
		ru: "Привет! Я <b>dozor</b>: слежу за новостными источниками и присылаю новые сюжеты по темам, на которые вы подписаны, с кратким пересказом.\n\nВыберите темы: /topics\nВсе команды: /help",
	},
	"waiting": {
		en: "Thanks! Your request has been sent to the admins. I'll write to you as soon as it is approved.",
		ru: "Спасибо! Заявка отправлена администраторам. Я напишу, как только её одобрят.",
	},
	"still_waiting": {
		en: "Your request is waiting for an admin's approval.",
		ru: "Ваша заявка ждёт одобрения администратора.",
	},
	"approved_notice": {
		en: "Your access has been approved! Pick the topics to follow: /topics",
		ru: "Доступ одобрен! Выберите темы для подписки: /topics",
	},
	"need_start": {
		en: "Send /start first.",
		ru: "Сначала отправьте /start.",
	},
	"admin_only": {
		en: "This command is for admins only.",
		ru: "Эта команда только для администраторов.",
	},
	"unknown_command": {
		en: "I don't know this command. All commands: /help",
		ru: "Не знаю такой команды. Все команды: /help",
	},
	"admin_private_only": {
		en: "Admin commands work only in a private chat with the bot.",
		ru: "Команды администратора работают только в личном чате с ботом.",
	},
	"group_admins_only": {
		en: "Only the group's administrators can change its subscriptions and settings.",
		ru: "Подписки и настройки группы могут менять только её администраторы.",
	},
	"latest_header": {
		en: "🗞 Latest on your topics",
		ru: "🗞 Последнее по вашим темам",
	},
	"slow_down": {
		en: "Too many messages at once: I am skipping some. Please wait a little and send the command again.",
		ru: "Слишком много сообщений сразу: часть я пропускаю. Подождите немного и отправьте команду снова.",
	},
	"internal_error": {
		en: "Something went wrong on my side. Please try again later.",
		ru: "Что-то пошло не так. Попробуйте позже.",
	},
	"help": {
		en: "<b>dozor</b> watches news feeds and alerts you when a story matches a topic you follow. Each story comes once, with a short summary, however many outlets reprint it.\n\n" +
			"/topics — all topics; tap one to subscribe or unsubscribe\n" +
			"/subscribe <i>name</i> — follow a topic, e.g. <code>/subscribe vtb-china</code>\n" +
			"/unsubscribe <i>name</i> — stop following it\n" +
			"/latest — the latest stories on your topics\n" +
			"/settings — language, delivery, time zone, e.g. <code>/settings tz Europe/Berlin</code>\n" +
			"/digest — instant alerts or a digest: <code>/digest daily 09:00</code>, <code>/digest weekly mon 09:00</code>, <code>/digest off</code>\n" +
			"/quiet — quiet hours, e.g. <code>/quiet 22:00-08:00</code>; alerts wait for their end\n" +
			"/mute <i>name duration</i> — mute a topic for a while, e.g. <code>/mute vtb-china 1w</code>; /muted lists mutes\n" +
			"/search — search the archive, e.g. <code>/search Huawei ВТБ since:30d</code>\n" +
			"/help — this message\n\n" +
			"Under every alert: 🔕 mutes its topic for a day, a week or for ever, 🔎 shows other coverage and similar stories.",
		ru: "<b>dozor</b> следит за новостными лентами и сообщает о сюжетах по темам, на которые вы подписаны. Каждый сюжет приходит один раз, с кратким пересказом, сколько бы изданий его ни перепечатали.\n\n" +
			"/topics — все темы; нажмите на тему, чтобы подписаться или отписаться\n" +
			"/subscribe <i>имя</i> — подписаться на тему, например <code>/subscribe vtb-china</code>\n" +
			"/unsubscribe <i>имя</i> — отписаться\n" +
			"/latest — последние сюжеты по вашим темам\n" +
			"/settings — язык, доставка, часовой пояс, например <code>/settings tz Europe/Moscow</code>\n" +
			"/digest — сразу или дайджестом: <code>/digest daily 09:00</code>, <code>/digest weekly пн 09:00</code>, <code>/digest off</code>\n" +
			"/quiet — тихие часы, например <code>/quiet 22:00-08:00</code>; сообщения ждут их конца\n" +
			"/mute <i>имя срок</i> — заглушить тему на время, например <code>/mute vtb-china 1w</code>; /muted — список\n" +
			"/search — поиск по архиву, например <code>/search Huawei ВТБ since:30d</code>\n" +
			"/help — эта справка\n\n" +
			"Под каждым сообщением: 🔕 заглушает тему на день, неделю или навсегда, 🔎 показывает, кто ещё писал об этом, и похожие сюжеты.",
	},
	"help_admin": {
		en: "<b>Admin commands</b>\n" +
			"/watch <i>name query</i> — add or change a topic, e.g. <code>/watch vtb-china (ВТБ OR VTB) (Китай OR China)</code>\n" +
			"/unwatch <i>name</i> — remove a topic and its subscriptions\n" +
			"/watchlist — topics, queries and subscriber counts\n" +
			"/test <i>query</i> — what a query would have matched in the last 7 days\n" +
			"/addsource <i>url</i> — add a feed, e.g. <code>/addsource https://www.finextra.com/rss/headlines.aspx</code>\n" +
			"/rmsource <i>url or id</i> — remove a feed\n" +
			"/sources — feeds and their health\n" +
			"/stats — counters for today\n" +
			"/users — who uses the bot; /approve <i>id</i>, /ban <i>id</i>\n\n" +
			"Query language: words match any form (Китай finds Китае), <code>\"exact phrase\"</code>, <code>OR</code>, <code>-exclude</code>, <code>( )</code>, <code>lang:ru</code>, <code>site:example.com</code>.",
		ru: "<b>Команды администратора</b>\n" +
			"/watch <i>имя запрос</i> — добавить или изменить тему, например <code>/watch vtb-china (ВТБ OR VTB) (Китай OR China)</code>\n" +
			"/unwatch <i>имя</i> — удалить тему и подписки на неё\n" +
			"/watchlist — темы, запросы и число подписчиков\n" +
			"/test <i>запрос</i> — что запрос нашёл бы за последние 7 дней\n" +
			"/addsource <i>url</i> — добавить ленту, например <code>/addsource https://www.finextra.com/rss/headlines.aspx</code>\n" +
			"/rmsource <i>url или id</i> — удалить ленту\n" +
			"/sources — ленты и их состояние\n" +
			"/stats — счётчики за сегодня\n" +
			"/users — пользователи бота; /approve <i>id</i>, /ban <i>id</i>\n\n" +
			"Язык запросов: слова ищутся в любой форме (Китай найдёт «Китае»), <code>\"точная фраза\"</code>, <code>OR</code>, <code>-исключить</code>, <code>( )</code>, <code>lang:ru</code>, <code>site:example.com</code>.",
	},

	// Topics and subscriptions.
	"no_topics": {
		en: "There are no topics yet. An admin adds them with /watch.",
		ru: "Тем пока нет. Администратор добавляет их командой /watch.",
	},
	"topics_header": {
		en: "<b>Topics</b> (✅ you follow it). Tap a topic to subscribe or unsubscribe.",
		ru: "<b>Темы</b> (✅ вы подписаны). Нажмите на тему, чтобы подписаться или отписаться.",
	},
	"subscribe_usage": {
		en: "Which topic? For example <code>/subscribe vtb-china</code>. All topics: /topics",
		ru: "На какую тему? Например <code>/subscribe vtb-china</code>. Все темы: /topics",
	},
	"unsubscribe_usage": {
		en: "Which topic? For example <code>/unsubscribe vtb-china</code>. Your topics: /topics",
		ru: "От какой темы? Например <code>/unsubscribe vtb-china</code>. Ваши темы: /topics",
	},
	"topic_unknown": {
		en: "There is no topic <b>%s</b>. All topics: /topics",
		ru: "Темы <b>%s</b> нет. Все темы: /topics",
	},
	"names_cut": {
		en: "Only the first %d names were read.",
		ru: "Прочитаны только первые %d названий.",
	},
	"and_more": {
		en: "and %d more",
		ru: "и ещё %d",
	},
	"subscribed": {
		en: "Subscribed to <b>%s</b>.",
		ru: "Вы подписались на тему <b>%s</b>.",
	},
	"already_subscribed": {
		en: "You already follow <b>%s</b>.",
		ru: "Вы уже подписаны на тему <b>%s</b>.",
	},
	"unsubscribed": {
		en: "Unsubscribed from <b>%s</b>.",
		ru: "Вы отписались от темы <b>%s</b>.",
	},
	"not_subscribed": {
		en: "You don't follow <b>%s</b>.",
		ru: "Вы не подписаны на тему <b>%s</b>.",
	},
	"cb_subscribed": {
		en: "Subscribed to %s",
		ru: "Подписка на %s оформлена",
	},
	"cb_unsubscribed": {
		en: "Unsubscribed from %s",
		ru: "Подписка на %s отменена",
	},
	"settings": {
		en: "<b>Settings</b>\nLanguage: %s\nDelivery: %s\nTime zone: %s\nQuiet hours: %s\n\nAnother time zone: <code>/settings tz Area/City</code>, e.g. <code>/settings tz Europe/Berlin</code>. Digest: /digest. Quiet hours: <code>/quiet 22:00-08:00</code>.",
		ru: "<b>Настройки</b>\nЯзык: %s\nДоставка: %s\nЧасовой пояс: %s\nТихие часы: %s\n\nДругой часовой пояс: <code>/settings tz Регион/Город</code>, например <code>/settings tz Asia/Yekaterinburg</code>. Дайджест: /digest. Тихие часы: <code>/quiet 22:00-08:00</code>.",
	},
	"settings_usage": {
		en: "Usage: <code>/settings</code>, <code>/settings tz Europe/Berlin</code>, <code>/settings lang en</code>, <code>/settings digest daily 09:00</code>, <code>/settings quiet 22:00-08:00</code>.",
		ru: "Использование: <code>/settings</code>, <code>/settings tz Europe/Moscow</code>, <code>/settings lang ru</code>, <code>/settings digest daily 09:00</code>, <code>/settings quiet 22:00-08:00</code>.",
	},
	"mode_instant": {
		en: "instant alerts",
		ru: "сразу",
	},
	"mode_daily": {
		en: "daily digest at %s",
		ru: "дайджест каждый день в %s",
	},
	"mode_weekly": {
		en: "weekly digest on %s at %s",
		ru: "дайджест раз в неделю, %s в %s",
	},
	"digest_next": {
		en: " (next: %s)",
		ru: " (следующий: %s)",
	},
	"delivery": {
		en: "Delivery",
		ru: "Доставка",
	},
	"digest_view": {
		en: "<b>Delivery</b>: %s\nTime zone: %s\n\"Nothing new\" notes: %s\nQuiet hours: %s\n\nType <code>/digest daily 08:30</code>, <code>/digest weekly mon 09:00</code> or <code>/digest off</code> for instant alerts. A story you got as an alert is not repeated in a digest.",
		ru: "<b>Доставка</b>: %s\nЧасовой пояс: %s\nСообщать, что нового нет: %s\nТихие часы: %s\n\nНапишите <code>/digest daily 08:30</code>, <code>/digest weekly пн 09:00</code> или <code>/digest off</code>, чтобы получать сообщения сразу. Сюжет, пришедший сообщением, в дайджесте не повторяется.",
	},
	"digest_usage": {
		en: "Usage: <code>/digest daily 09:00</code>, <code>/digest weekly mon 09:00</code>, <code>/digest off</code>, <code>/digest notes on</code>, or <code>/digest</code> to see the choice. Times are in your time zone (/settings).",
		ru: "Использование: <code>/digest daily 09:00</code>, <code>/digest weekly пн 09:00</code>, <code>/digest off</code>, <code>/digest notes on</code> или <code>/digest</code>, чтобы увидеть выбор. Время — в вашем часовом поясе (/settings).",
	},
	"on": {
		en: "on",
		ru: "да",
	},
	"off": {
		en: "off",
		ru: "нет",
	},
	"btn_instant": {
		en: "⚡ Instant",
		ru: "⚡ Сразу",
	},
	"btn_daily": {
		en: "🗓 Daily",
		ru: "🗓 Каждый день",
	},
	"btn_weekly": {
		en: "📅 Weekly",
		ru: "📅 Раз в неделю",
	},
	"btn_notes": {
		en: "\"Nothing new\" notes",
		ru: "Сообщать, что нового нет",
	},
	"quiet_none": {
		en: "none",
		ru: "нет",
	},
	"quiet_view": {
		en: "🌙 Quiet hours: %s. Alerts that arrive in them come together when they end.\nChange: <code>/quiet 22:00-08:00</code> or <code>/quiet off</code>.",
		ru: "🌙 Тихие часы: %s. Сообщения, пришедшие в это время, придут вместе, когда они закончатся.\nИзменить: <code>/quiet 22:00-08:00</code> или <code>/quiet off</code>.",
	},
	"quiet_usage": {
		en: "Usage: <code>/quiet 22:00-08:00</code> (in your time zone) or <code>/quiet off</code>.",
		ru: "Использование: <code>/quiet 22:00-08:00</code> (в вашем часовом поясе) или <code>/quiet off</code>.",
	},
	"mute_usage": {
		en: "Usage: <code>/mute name duration</code>, e.g. <code>/mute vtb-china 1d</code>, <code>/mute vtb-china 2w</code>, <code>/mute vtb-china forever</code>. /muted lists mutes.",
		ru: "Использование: <code>/mute имя срок</code>, например <code>/mute vtb-china 1d</code>, <code>/mute vtb-china 2w</code>, <code>/mute vtb-china навсегда</code>. /muted — список.",
	},
	"mute_how_long": {
		en: "Mute %s for how long?",
		ru: "На сколько заглушить %s?",
	},
	"muted_forever": {
		en: "🔕 Muted %s for ever. /muted to undo",
		ru: "🔕 Тема %s заглушена навсегда. Вернуть: /muted",
	},
	"muted_until": {
		en: "🔕 Muted %s until %s. /muted to undo",
		ru: "🔕 Тема %s заглушена до %s. Вернуть: /muted",
	},
	"muted_none": {
		en: "No muted topics.",
		ru: "Заглушённых тем нет.",
	},
	"muted_header": {
		en: "<b>Muted topics</b>",
		ru: "<b>Заглушённые темы</b>",
	},
	"forever": {
		en: "for ever",
		ru: "навсегда",
	},
	"until": {
		en: "until %s",
		ru: "до %s",
	},
	"unmuted": {
		en: "🔔 %s is back",
		ru: "🔔 Тема %s снова приходит",
	},
	"btn_unmute": {
		en: "Unmute",
		ru: "Вернуть",
	},
	"btn_1d": {
		en: "1 day",
		ru: "1 день",
	},
	"btn_1w": {
		en: "1 week",
		ru: "1 неделю",
	},
	"btn_forever": {
		en: "For ever",
		ru: "Навсегда",
	},
	"cb_not_subscribed": {
		en: "You don't follow %s",
		ru: "Вы не подписаны на %s",
	},
	"cb_topic_gone": {
		en: "This topic no longer exists",
		ru: "Этой темы больше нет",
	},
	"cb_expired": {
		en: "This button no longer works",
		ru: "Эта кнопка больше не работает",
	},

	// Latest and similar stories.
	"latest_no_topics": {
		en: "You don't follow any topics yet. Pick some: /topics",
		ru: "Вы ещё не подписаны ни на одну тему. Выберите: /topics",
	},
	"latest_empty": {
		en: "Nothing on your topics in the last 7 days.",
		ru: "По вашим темам за последние 7 дней ничего нет.",
	},
	"sim_story": {
		en: "<b>Other coverage of this story</b> (%d):",
		ru: "<b>Этот сюжет также освещали</b> (%d):",
	},
	"sim_similar": {
		en: "<b>Similar stories</b> (%d):",
		ru: "<b>Похожие сюжеты</b> (%d):",
	},
	"sim_none": {
		en: "No other coverage or similar stories found.",
		ru: "Других публикаций и похожих сюжетов не нашлось.",
	},
	"story_gone": {
		en: "This story is no longer stored.",
		ru: "Этого сюжета больше нет в архиве.",
	},

	// Settings.
	"lang_name": {
		en: "English",
		ru: "русский",
	},
	"tz_bad": {
		en: "Unknown time zone <code>%s</code>. Use an Area/City name such as <code>Europe/Berlin</code> or <code>Asia/Novosibirsk</code>, or <code>UTC</code>.",
		ru: "Неизвестный часовой пояс <code>%s</code>. Укажите Регион/Город, например <code>Europe/Moscow</code> или <code>Asia/Novosibirsk</code>, либо <code>UTC</code>.",
	},
	"tz_set": {
		en: "Time zone: %s",
		ru: "Часовой пояс: %s",
	},
	"lang_set": {
		en: "Language: English",
		ru: "Язык: русский",
	},
	"search_usage": {
		en: "Search every stored article, in the topics' language: <code>/search Huawei ВТБ</code>, <code>/search \"искусственный интеллект\" lang:ru since:30d</code>, <code>/search topic:vtb-china -спорт</code>.",
		ru: "Поиск по всем сохранённым статьям на языке тем: <code>/search Huawei ВТБ</code>, <code>/search \"искусственный интеллект\" lang:ru since:30d</code>, <code>/search topic:vtb-china -спорт</code>.",
	},
	"search_unavailable": {
		en: "Search is not available right now.",
		ru: "Поиск сейчас недоступен.",
	},
	"search_header": {
		en: "🔍 <code>%s</code>: %s stories",
		ru: "🔍 <code>%s</code>: сюжетов %s",
	},
	"search_none": {
		en: "Nothing found for <code>%s</code>.",
		ru: "По запросу <code>%s</code> ничего не найдено.",
	},
	"search_try": {
		en: "Try a looser query: <code>/search %s</code>",
		ru: "Попробуйте запрос шире: <code>/search %s</code>",
	},
	"search_partial": {
		en: "<i>The search was cut short: these are the stories found so far.</i>",
		ru: "<i>Поиск прерван: показано найденное к этому моменту.</i>",
	},
	"search_again": {
		en: "This search is too old: search again.",
		ru: "Этот поиск устарел: повторите его.",
	},
	"outlets_more": {
		en: "+%d outlets",
		ru: "+%d СМИ",
	},
	"busy": {
		en: "Busy with other searches: please try again in a moment.",
		ru: "Сейчас выполняются другие поиски: попробуйте через минуту.",
	},
	"slow_down_heavy": {
		en: "Too many searches in a row: please wait a few seconds.",
		ru: "Слишком много поисков подряд: подождите несколько секунд.",
	},

	// Approval.
	"approval_notice": {
		en: "🆕 Waiting for your approval (%d):",
		ru: "🆕 Ждут вашего одобрения (%d):",
	},
	"approval_notice_more": {
		en: "…and more: the rest come in the next notice, or see /users.",
		ru: "…и ещё: остальные придут следующим сообщением, или смотрите /users.",
	},
	"approval_request": {
		en: "%s, id <code>%d</code>, language %s",
		ru: "%s, id <code>%d</code>, язык %s",
	},
	"approval_request_group": {
		en: "group %s, chat id <code>%d</code>, added by %s",
		ru: "группа %s, id чата <code>%d</code>, добавил(а) %s",
	},
	"btn_approve": {
		en: "✅ Approve",
		ru: "✅ Одобрить",
	},
	"btn_deny": {
		en: "⛔ Deny",
		ru: "⛔ Отклонить",
	},
	"approved_by": {
		en: "✅ Approved by %s",
		ru: "✅ Одобрил(а) %s",
	},
	"denied_by": {
		en: "⛔ Denied by %s",
		ru: "⛔ Отклонил(а) %s",
	},
	"user_approved": {
		en: "User <code>%d</code> (%s) is approved.",
		ru: "Пользователь <code>%d</code> (%s) одобрен.",
	},
	"user_already_approved": {
		en: "User <code>%d</code> (%s) was already approved.",
		ru: "Пользователь <code>%d</code> (%s) уже одобрен.",
	},
	"user_banned": {
		en: "User <code>%d</code> (%s) is banned; %d queued messages dropped.",
		ru: "Пользователь <code>%d</code> (%s) заблокирован; удалено сообщений из очереди: %d.",
	},
	"user_unknown": {
		en: "There is no user <code>%d</code>. See /users.",
		ru: "Пользователя <code>%d</code> нет. Список: /users",
	},
	"user_id_usage": {
		en: "Give a numeric user id, e.g. <code>/%s 123456789</code>. Ids are in /users.",
		ru: "Укажите числовой id, например <code>/%s 123456789</code>. Id есть в /users.",
	},
	"cannot_ban_admin": {
		en: "Admins can't be banned; remove the id from ADMIN_IDS first.",
		ru: "Администратора нельзя заблокировать; сначала уберите его id из ADMIN_IDS.",
	},

	// Admin: topics.
	"watch_usage": {
		en: "Usage: <code>/watch name query</code>, e.g. <code>/watch vtb-china (ВТБ OR VTB) (Китай OR China)</code>",
		ru: "Использование: <code>/watch имя запрос</code>, например <code>/watch vtb-china (ВТБ OR VTB) (Китай OR China)</code>",
	},
	"bad_topic_name": {
		en: "Bad topic name: %s",
		ru: "Неподходящее имя темы: %s",
	},
	"bad_query": {
		en: "The query has an error:\n<pre>%s</pre>",
		ru: "Ошибка в запросе:\n<pre>%s</pre>",
	},
	"topic_added": {
		en: "Topic <b>%s</b> added: <code>%s</code>",
		ru: "Тема <b>%s</b> добавлена: <code>%s</code>",
	},
	"topic_updated": {
		en: "Topic <b>%s</b> updated: <code>%s</code>",
		ru: "Тема <b>%s</b> изменена: <code>%s</code>",
	},
	"unwatch_usage": {
		en: "Usage: <code>/unwatch name</code>. Topics: /watchlist",
		ru: "Использование: <code>/unwatch имя</code>. Темы: /watchlist",
	},
	"topic_removed": {
		en: "Topic <b>%s</b> removed; %d subscribers unsubscribed.",
		ru: "Тема <b>%s</b> удалена; подписчиков отписано: %d.",
	},
	"watchlist_header": {
		en: "<b>Topics</b> (%d):",
		ru: "<b>Темы</b> (%d):",
	},
	"subscribers": {
		en: "%d subscribers",
		ru: "подписчиков: %d",
	},
	"test_usage": {
		en: "Usage: <code>/test query</code>, e.g. <code>/test Sberbank China -VTB</code>",
		ru: "Использование: <code>/test запрос</code>, например <code>/test Сбербанк Китай -ВТБ</code>",
	},
	"test_result": {
		en: "<code>%s</code> matches <b>%d</b> of %d articles of the last 7 days.",
		ru: "<code>%s</code>: совпадений <b>%d</b> из %d статей за последние 7 дней.",
	},
	"test_latest": {
		en: "Latest %d:",
		ru: "Последние %d:",
	},

	// Admin: sources.
	"addsource_usage": {
		en: "Usage: <code>/addsource url [name] [fulltext=auto|on|off]</code>, e.g. <code>/addsource https://www.finextra.com/rss/headlines.aspx Finextra</code>\n" +
			"fulltext: <b>auto</b> fetches article pages when the feed carries only teasers, <b>on</b> always, <b>off</b> never (the page of a story that alerts is fetched for its summary unless off).",
		ru: "Использование: <code>/addsource url [имя] [fulltext=auto|on|off]</code>, например <code>/addsource https://www.finextra.com/rss/headlines.aspx Finextra</code>\n" +
			"fulltext: <b>auto</b> — загружать страницы статей, если лента даёт только анонсы, <b>on</b> — всегда, <b>off</b> — никогда (страница сюжета с оповещением загружается для пересказа, кроме off).",
	},
	"bad_url": {
		en: "Not a usable address: %s",
		ru: "Неподходящий адрес: %s",
	},
	"fetch_unavailable": {
		en: "Sources can't be checked in this process: there is no fetcher.",
		ru: "Проверить источник нельзя: загрузчик не настроен.",
	},
	"source_fetch_failed": {
		en: "Could not fetch %s: %s",
		ru: "Не удалось загрузить %s: %s",
	},
	"source_not_feed": {
		en: "%s is not an RSS, Atom or JSON feed (%s). Give the address of the feed itself, not of a web page.",
		ru: "%s — не лента RSS, Atom или JSON (%s). Укажите адрес самой ленты, а не веб-страницы.",
	},
	"source_added": {
		en: "Source #%d <b>%s</b> added: the feed has %d items now.",
		ru: "Источник #%d <b>%s</b> добавлен: сейчас в ленте %d материалов.",
	},
	"source_exists": {
		en: "Source #%d <b>%s</b> is already watched (the feed has %d items now).",
		ru: "Источник #%d <b>%s</b> уже отслеживается (сейчас в ленте %d материалов).",
	},
	"rmsource_usage": {
		en: "Usage: <code>/rmsource url</code> or <code>/rmsource id</code>. Sources: /sources",
		ru: "Использование: <code>/rmsource url</code> или <code>/rmsource id</code>. Источники: /sources",
	},
	"source_unknown": {
		en: "There is no source %s. See /sources.",
		ru: "Источника %s нет. Список: /sources",
	},
	"source_removed": {
		en: "Source #%d <b>%s</b> removed; its articles stay in the archive.",
		ru: "Источник #%d <b>%s</b> удалён; его статьи остаются в архиве.",
	},
	"no_sources": {
		en: "No sources yet. Add one with /addsource.",
		ru: "Источников пока нет. Добавьте командой /addsource.",
	},
	"sources_header": {
		en: "<b>Sources</b> (%d, failing %d):",
		ru: "<b>Источники</b> (%d, с ошибками %d):",
	},
	"src_ok": {
		en: "✅ OK",
		ru: "✅ работает",
	},
	"src_new": {
		en: "⏳ not fetched yet",
		ru: "⏳ ещё не загружался",
	},
	"src_failing": {
		en: "❌ failing (%d in a row)",
		ru: "❌ ошибки (%d подряд)",
	},
	"src_fulltext_auto": {
		en: "pages: auto",
		ru: "страницы: авто",
	},
	"src_fulltext_on": {
		en: "pages: always fetched (fulltext=on)",
		ru: "страницы: загружаются всегда (fulltext=on)",
	},
	"src_fulltext_off": {
		en: "pages: never fetched (fulltext=off)",
		ru: "страницы: не загружаются (fulltext=off)",
	},
	"src_teasers": {
		en: "— teasers only (median %d characters): pages fetched",
		ru: "— только анонсы (медиана %d знаков): страницы загружаются",
	},
	"src_full_items": {
		en: "— the feed carries full texts (median %d characters): pages only for alerts",
		ru: "— лента даёт полные тексты (медиана %d знаков): страницы только для оповещений",
	},
	"src_broken": {
		en: "⚠️ malformed feed, items recovered: %s",
		ru: "⚠️ лента с ошибками, материалы восстановлены: %s",
	},
	"src_details": {
		en: "last success: %s · items: %d",
		ru: "последний успех: %s · материалов: %d",
	},
	"src_error": {
		en: "last error (%s): %s",
		ru: "последняя ошибка (%s): %s",
	},
	"never": {
		en: "never",
		ru: "никогда",
	},

	// Admin: stats and users.
	"stats": {
		en: "<b>Stats</b> (today is UTC)\n" +
			"Sources: %d (failing %d)\nArticles: %d\nStories: %d\nTopics: %d\n" +
			"Users: %d approved, %d pending, %d banned\n" +
			"Alerts sent today: %d\nOutbox: %d messages\n" +
			"Queues: %d pages (%d urgent), %d to fold, %d to summarise, %d to fan out\n" +
			"LLM today: %d calls, %d extractive fallbacks, %d tokens (%d in, %d out)\n" +
			"Errors today: %d send errors, %d failing sources\nDatabase: %.1f MB",
		ru: "<b>Статистика</b> (сутки по UTC)\n" +
			"Источники: %d (с ошибками %d)\nСтатьи: %d\nСюжеты: %d\nТемы: %d\n" +
			"Пользователи: одобрено %d, ждут %d, заблокировано %d\n" +
			"Отправлено сегодня: %d\nИсходящие: %d сообщений\n" +
			"Очереди: страниц %d (срочных %d), к группировке %d, к пересказу %d, к рассылке %d\n" +
			"LLM сегодня: вызовов %d, выдержек вместо пересказа %d, токенов %d (%d на вход, %d на выход)\n" +
			"Ошибки сегодня: отправки %d, источников с ошибками %d\nБаза: %.1f МБ",
	},
	"stats_failing": {
		en: "Failing: %s",
		ru: "С ошибками: %s",
	},
	"no_users": {
		en: "No users yet.",
		ru: "Пользователей пока нет.",
	},
	"users_header": {
		en: "<b>Users</b> (%d):",
		ru: "<b>Пользователи</b> (%d):",
	},
	"status_pending": {
		en: "⏳ pending",
		ru: "⏳ ждёт",
	},
	"status_approved": {
		en: "✅ approved",
		ru: "✅ одобрен",
	},
	"status_banned": {
		en: "⛔ banned",
		ru: "⛔ заблокирован",
	},
	"status_inactive": {
		en: "blocked the bot",
		ru: "заблокировал бота",
	},
	"topics_count": {
		en: "%d topics",
		ru: "тем: %d",
	},

	// Durations.
	"just_now": {en: "just now", ru: "только что"},
	"ago_min":  {en: "%d min ago", ru: "%d мин назад"},
	"ago_hour": {en: "%d h ago", ru: "%d ч назад"},
	"ago_day":  {en: "%d days ago", ru: "%d дн назад"},
}

// tr returns the phrase key in lang, formatted with args. A missing key is a
// programming error caught by tests; at run time it shows the key.
func tr(lang, key string, args ...any) string {
	p, ok := phrases[key]
	if !ok {
		return key
	}
	s := p.en
	if lang == langRU {
		s = p.ru
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// ago says how long before now t was, in words.
func ago(lang string, now, t time.Time) string {
	if t.IsZero() {
		return tr(lang, "never")
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return tr(lang, "just_now")
	case d < time.Hour:
		return tr(lang, "ago_min", int(d/time.Minute))
	case d < 48*time.Hour:
		return tr(lang, "ago_hour", int(d/time.Hour))
	default:
		return tr(lang, "ago_day", int(d/(24*time.Hour)))
	}
}
