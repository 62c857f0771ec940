"""How engine actions look on each medium.

Text channels (chat, SMS, email, WeChat) show a ``Say`` as a short message: the flow's
``written`` wording when it has one, else its spoken ``text``; web addresses in it are offered as
links; a menu the bot waits at becomes quick replies (one button per option, labelled with the
option's first phrase, else its intent in words), where the medium has buttons. Voice speaks:
``spoken`` drops links and emoji, which a speech synthesiser would read out letter by letter.
Pure functions: no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from voicebot.actions import Say
from voicebot.events import DtmfPressed
from voicebot.flows import schema as s

URL = re.compile(r"https?://[^\s<>\"')]+[^\s<>\"').,!?;:]")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F000-\U0001F2FF\uFE0F]")


@dataclass(frozen=True)
class OutMessage:
    """One message a text channel shows: words, the quick replies offered with it, its links."""

    text: str
    quick_replies: tuple[str, ...] = ()
    links: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"text": self.text, "quick_replies": list(self.quick_replies), "links": list(self.links)}


def written(action: Say) -> str:
    """What a text channel shows for ``action``."""
    return action.written or action.text


def spoken(text: str) -> str:
    """``text`` for speech: no links, no emoji, single spaces."""
    return " ".join(EMOJI.sub("", URL.sub("", text)).split())


def text_messages(says: list[Say], menu: s.MenuNode | None) -> list[OutMessage]:
    """The messages for one bot turn; the last carries the quick replies of ``menu`` (the node
    the bot now waits at, when it is a menu)."""
    texts = [written(a) for a in says if written(a)]
    replies = quick_replies(menu) if menu is not None else ()
    if not texts and replies:
        texts = [""]
    out = [OutMessage(t, links=tuple(URL.findall(t))) for t in texts]
    if out and replies:
        out[-1] = OutMessage(out[-1].text, replies, out[-1].links)
    return out


def plain_text(messages: list[OutMessage], separator: str) -> str:
    """One turn's messages as one plain text (SMS, WeChat): the texts joined by ``separator``,
    then the last menu's quick replies as a 'Reply with' line."""
    lines = [m.text for m in messages if m.text]
    choices = next((m.quick_replies for m in reversed(messages) if m.quick_replies), ())
    if choices:
        lines.append("Reply with: " + " / ".join(choices))
    return separator.join(lines)


def option_label(option: s.MenuOption) -> str:
    """A menu option's button label: its first phrase, else its intent in words, else its key."""
    label = option.phrases[0] if option.phrases else (option.intent or "").replace("_", " ") or (option.key or "")
    return label[:1].upper() + label[1:]


def quick_replies(menu: s.MenuNode) -> tuple[str, ...]:
    labels: list[str] = []
    for option in menu.options:
        label = option_label(option)
        if label and label.lower() not in (x.lower() for x in labels):
            labels.append(label)
    return tuple(labels)


def choice_event(menu: s.MenuNode | None, text: str) -> DtmfPressed | None:
    """A tapped quick reply (``text`` equals a label) of an option with a key: that key, exactly,
    so a button never depends on understanding. None otherwise (the words are understood)."""
    if menu is None:
        return None
    wanted = " ".join(text.split()).lower()
    for option in menu.options:
        if option.key and option_label(option).lower() == wanted:
            return DtmfPressed(option.key)
    return None
