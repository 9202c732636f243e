"""Wording per service: one line-based layout, escaped for each markup; JSON for machines."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from alertbot.core.durations import format_duration
from alertbot.core.model import Notification, iso_utc

MAX_MEMBERS = 20  # members of a grouped notification listed; the rest are counted
MAX_TITLE = 250  # characters of a title shown; a template can make it any length
LINE_LIMIT = 4000  # an escaped message line longer than this is cut (Telegram allows 4096)
EMOJI = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵", "resolved": "✅"}
SLACK_EMOJI = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
    "resolved": ":white_check_mark:",
}
COLORS = {"critical": "#b00020", "error": "#d9480f", "warning": "#b08800", "info": "#1c64f2"}
COLORS["resolved"] = "#2e7d32"
_MD2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_SLACK_FORMAT = re.compile(r"([*_~`])")


def html_escape(text: str) -> str:
    """Telegram and email HTML: only &, < and > are special outside attributes."""
    return html.escape(text, quote=False)


def md2_escape(text: str) -> str:
    """Telegram MarkdownV2: every reserved character gets a backslash."""
    return _MD2_SPECIAL.sub(r"\\\1", text)


def md_escape(text: str) -> str:
    """CommonMark (Apprise markdown): backslash the characters that start markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def slack_escape(text: str) -> str:
    """Slack: &, < and > become entities; `* _ ~` and backticks get a zero-width space after.

    Slack mrkdwn has no escape for its formatting characters (a backslash shows as is), so a
    market name or a reason like `*BTC*` would turn bold and `~` pairs strike text through; the
    invisible U+200B breaks the pairing and keeps the visible text (and copy-paste) intact.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_FORMAT.sub("\\1\u200b", text)


@dataclass(frozen=True, slots=True)
class Markup:
    """How one service writes escaped text, bold, code and the severity badge."""

    escape: Callable[[str], str]
    bold: str = "{}"
    code: str = "{}"
    italic: str = "{}"
    emoji: dict[str, str] | None = None
    color: bool = False  # HTML email: a coloured badge
    word: str = "{}"  # how the severity word is framed, e.g. [WARNING] in plain text

    def badge(self, state: str) -> str:
        """The emphasised severity (or RESOLVED) that starts each notification."""
        word = self.bold.format(self.escape(self.word.format(state.upper())))
        if self.color:
            word = f'<b style="color:{COLORS.get(state, "#333")}">{html_escape(state.upper())}</b>'
        icon = (self.emoji or {}).get(state)
        return f"{icon} {word}" if icon else word


PLAIN = Markup(escape=lambda s: s, word="[{}]")
TELEGRAM_HTML = Markup(html_escape, "<b>{}</b>", "<code>{}</code>", "<i>{}</i>", EMOJI)
TELEGRAM_MD2 = Markup(md2_escape, "*{}*", "`{}`", "_{}_", EMOJI)
MARKDOWN = Markup(md_escape, "**{}**", "`{}`", "_{}_", EMOJI)
SLACK = Markup(slack_escape, "*{}*", "`{}`", "_{}_", SLACK_EMOJI)
EMAIL_HTML = Markup(html_escape, "<b>{}</b>", "<code>{}</code>", "<i>{}</i>", color=True)


def state_of(note: Notification) -> str:
    """`resolved`, or the severity of a firing notification."""
    return "resolved" if note.status == "resolved" else note.severity


def headline(note: Notification) -> str:
    """The rule's title; a group adds how many more alerts it carries."""
    more = len(note.alerts) - 1
    return f"{note.title} (+{more} more)" if more > 0 else note.title


def footer(note: Notification) -> str:
    """`rule · since T`, `rule · resolved T after 2m`, with a reminder or flapping mark."""
    if note.status == "resolved" and note.ends_at is not None:
        after = format_duration(max(0.0, note.ends_at - note.starts_at))
        text = f"{note.rule} · resolved {iso_utc(note.ends_at)} after {after}"
    else:
        text = f"{note.rule} · since {iso_utc(note.starts_at)}"
        if note.repeat:
            text += " · still firing"
        if note.flapping:
            text += " · flapping: held as firing until stable"
    return text


def label_text(labels: dict[str, str]) -> str:
    """`k=v, k=v` for plain text."""
    return ", ".join(f"{k}={v}" for k, v in labels.items())


def note_lines(
    note: Notification, markup: Markup, custom: tuple[str, str] | None = None
) -> list[str]:
    """One notification as lines; no markup spans two lines, so messages can split anywhere."""
    title = (custom[0] if custom else headline(note))[:MAX_TITLE]
    head = f"{markup.badge(state_of(note))} {markup.bold.format(markup.escape(title))}"
    if custom:
        return [head, *custom[1].splitlines()]
    lines = [head]
    if note.alerts:
        lines += member_lines(note, markup)
    else:
        lines += escaped_lines(note.message, markup.escape, LINE_LIMIT)
    if note.labels:
        pairs = (markup.code.format(markup.escape(f"{k}={v}")) for k, v in note.labels.items())
        lines.append(" ".join(pairs))
    lines.append(markup.italic.format(markup.escape(footer(note))))
    return lines


def member_lines(note: Notification, markup: Markup) -> list[str]:
    """A grouped notification: one short line per member, then a count of the rest."""
    out = [markup.escape(f"{len(note.alerts)} alerts:")]
    for member in note.alerts[:MAX_MEMBERS]:
        mark = "✓ " if member.status == "resolved" else "• "
        out.append(markup.escape(mark + member.title))
    if len(note.alerts) > MAX_MEMBERS:
        out.append(markup.escape(f"… and {len(note.alerts) - MAX_MEMBERS} more"))
    return out


def batch_title(batch: Sequence[Notification]) -> str:
    """A subject line: the notification's own, or counts for a batch."""
    if len(batch) == 1:
        note = batch[0]
        return f"[{state_of(note).upper()}] {headline(note)}"
    firing = sum(1 for n in batch if n.status != "resolved")
    return f"{len(batch)} notifications: {firing} firing, {len(batch) - firing} resolved"


def batch_lines(
    batch: Sequence[Notification],
    markup: Markup,
    custom: Callable[[Notification], tuple[str, str] | None] = lambda _: None,
) -> list[str]:
    """Every notification of a batch, a blank line between them, a count on top when several."""
    lines: list[str] = []
    if len(batch) > 1:
        lines += [markup.bold.format(markup.escape(batch_title(batch))), ""]
    for i, note in enumerate(batch):
        if i:
            lines.append("")
        lines += note_lines(note, markup, custom(note))
    return lines


def plain_text(batch: Sequence[Notification], custom: Any = lambda _: None) -> str:
    """Console, Apprise text and other plain destinations."""
    return "\n".join(batch_lines(batch, PLAIN, custom))


def email_html(batch: Sequence[Notification], custom: Any = lambda _: None) -> str:
    """An HTML email body (Apprise derives the plain-text part from it)."""
    lines = batch_lines(batch, EMAIL_HTML, custom)
    return '<div style="font-family:sans-serif">' + "<br>\n".join(lines) + "</div>"


def alert_json(note: Notification, custom: tuple[str, str] | None = None) -> dict[str, Any]:
    """One alert of the webhook (and jsonl) document, times as ISO-8601 UTC."""
    return {
        "rule": note.rule,
        "status": note.status,
        "severity": note.severity,
        "labels": dict(note.labels),
        "title": custom[0] if custom else note.title,
        "message": custom[1] if custom else note.message,
        "repeat": note.repeat,
        "flapping": note.flapping,
        "values": dict(note.values),
        "starts_at": iso_utc(note.starts_at),
        "ends_at": iso_utc(note.ends_at) if note.ends_at is not None else None,
        "fingerprint": note.fingerprint,
        "event": note.event,
        "members": [
            {
                "status": m.status,
                "labels": dict(m.labels),
                "title": m.title,
                "message": m.message,
                "starts_at": iso_utc(m.starts_at),
                "ends_at": iso_utc(m.ends_at) if m.ends_at is not None else None,
                "fingerprint": m.fingerprint,
            }
            for m in note.alerts
        ],
    }


def pack(lines: Sequence[str], limit: int) -> list[str]:
    """Join lines into as few messages of at most `limit` characters as possible, in order.

    Lines longer than `limit` are cut (callers keep markup on one line and lines short).
    """
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for raw in lines:
        for line in _cut(raw, limit):
            extra = len(line) + (1 if current else 0)
            if current and size + extra > limit:
                messages.append("\n".join(current).strip("\n"))
                current, size = [], 0
                extra = len(line)
            current.append(line)
            size += extra
    if current:
        messages.append("\n".join(current).strip("\n"))
    return [m for m in messages if m.strip()]


def _cut(line: str, limit: int) -> list[str]:
    return [line[i : i + limit] for i in range(0, len(line), limit)] or [""]


def escaped_lines(text: str, escape: Callable[[str], str], limit: int) -> list[str]:
    """Escape text line by line, first cutting long raw lines so each escaped piece fits `limit`."""
    piece = max(1, limit // 6)  # worst case: one character becomes five (& -> &amp;) + a bit
    out: list[str] = []
    for line in text.splitlines() or [""]:
        fits = escape(line)
        out += [fits] if len(fits) <= limit else [escape(p) for p in _cut(line, piece)]
    return out
