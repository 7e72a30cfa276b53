"""Telegram's HTML parse mode, as strictly as Telegram applies it.

``parse`` turns a message written for ``parse_mode=HTML`` into what Telegram stores: the plain
text and its entities (offsets and lengths in UTF-16 code units, as the Bot API counts). What
Telegram refuses is refused here with its own words, so a reply that would break at Telegram breaks
in the tests: an unsupported or unclosed tag, a close tag that does not match, a ``<`` that starts
no tag. A bare ``&`` or an unknown named entity is refused too, which is stricter than Telegram
(it keeps some of them as text) and so safe for tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s>]+)"
_TAG = re.compile(rf"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*{_VALUE})*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")


class HtmlError(ValueError):
    """Telegram's 400: ``Bad Request: can't parse entities: …``."""


@dataclass
class _Open:
    tag: str
    start: int  # UTF-16 offset in the plain text
    attrs: dict[str, str]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse(source: str) -> tuple[str, list[dict[str, Any]]]:
    plain: list[str] = []
    length = 0  # UTF-16 length of the plain text so far
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        offset = len(source[:i].encode())
        if char == "<":
            match = _TAG.match(source, i)
            if match is None:
                raise HtmlError(
                    f"Can't parse entities: can't find end of the tag starting at byte offset "
                    f"{offset}"
                )
            closing, name, raw_attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in TAGS:
                kind = "end" if closing else "start"
                raise HtmlError(
                    f'Can\'t parse entities: unsupported {kind} tag "{name}" at byte offset '
                    f"{offset}"
                )
            if closing:
                if not stack or stack[-1].tag != name:
                    expected = stack[-1].tag if stack else "nothing"
                    raise HtmlError(
                        f"Can't parse entities: can't find start tag for end tag \"{name}\" "
                        f'at byte offset {offset}; expected end tag "{expected}"'
                    )
                opened = stack.pop()
                entity: dict[str, Any] = {
                    "type": TAGS[name],
                    "offset": opened.start,
                    "length": length - opened.start,
                }
                if name == "a":
                    entity["url"] = opened.attrs.get("href", "")
                if entity["length"] > 0:
                    entities.append(entity)
            else:
                attrs = {
                    m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
                    for m in _ATTR.finditer(raw_attrs)
                }
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise HtmlError(
                        f'Can\'t parse entities: tag "span" must have class "tg-spoiler" at byte '
                        f"offset {offset}"
                    )
                stack.append(_Open(name, length, attrs))
            i = match.end()
            continue
        if char == ">":
            raise HtmlError(f"Can't parse entities: unexpected > at byte offset {offset}")
        if char == "&":
            match = _ENTITY.match(source, i)
            if match is None:
                raise HtmlError(
                    f"Can't parse entities: bare & at byte offset {offset}; write &amp;"
                )
            body = match.group(1)
            if body.startswith("#x"):
                text = chr(int(body[2:], 16))
            elif body.startswith("#"):
                text = chr(int(body[1:]))
            elif body in NAMED:
                text = NAMED[body]
            else:
                raise HtmlError(
                    f'Can\'t parse entities: unsupported entity "&{body};" at byte offset {offset}'
                )
            plain.append(text)
            length += _utf16(text)
            i = match.end()
            continue
        plain.append(char)
        length += _utf16(char)
        i += 1
    if stack:
        tag = stack[-1].tag
        raise HtmlError(
            f"Can't parse entities: can't find end tag corresponding to start tag \"{tag}\""
        )
    return "".join(plain), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def utf16_length(text: str) -> int:
    return _utf16(text)
