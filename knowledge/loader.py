"""Read knowledge-base YAML files into validated models, naming file, line and field on error.

A content file is a mapping with any of the keys ``entries``, ``synonyms``, ``cues`` and
``out_of_scope``,
each a list. A file with any error yields nothing: the caller imports all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.schema import CueIn, EntryIn, OutOfScopeIn, SynonymIn

CONTENT_DIR = Path(__file__).resolve().parent / "content"
_SECTIONS: dict[str, type[BaseModel]] = {
    "entries": EntryIn,
    "synonyms": SynonymIn,
    "cues": CueIn,
    "out_of_scope": OutOfScopeIn,
}


class _Loader(yaml.SafeLoader):
    """Safe YAML, but dates stay text: pydantic checks them and can say where a bad one is."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ContentError(Exception):
    """One problem in one file, located for the person who has to fix it."""

    def __init__(self, path: Path | str, line: int | None, where: str, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.where = where
        self.message = message
        place = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{place}: {where}: {message}" if where else f"{place}: {message}")


@dataclass
class Content:
    entries: list[EntryIn] = field(default_factory=list)
    synonyms: list[SynonymIn] = field(default_factory=list)
    out_of_scope: list[OutOfScopeIn] = field(default_factory=list)
    cues: list[CueIn] = field(default_factory=list)
    # Which file each entry id came from, for lint messages.
    origin: dict[str, str] = field(default_factory=dict)

    def extend(self, other: Content) -> None:
        self.entries.extend(other.entries)
        self.synonyms.extend(other.synonyms)
        self.out_of_scope.extend(other.out_of_scope)
        self.cues.extend(other.cues)
        self.origin.update(other.origin)


def _node_at(node: yaml.Node | None, loc: Sequence[int | str]) -> yaml.Node | None:
    """The YAML node a pydantic error location points to, as deep as it exists."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                # An unknown or missing key: point at the key itself, or the mapping.
                key = next((k for k, _ in node.value if k.value == part), None)
                return key or node
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _describe_loc(section: str, index: int, loc: Sequence[int | str], item: Any) -> str:
    ident = item.get("id") if isinstance(item, dict) else None
    head = f"{section}[{index}]" + (f" (id {ident})" if ident else "")
    rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    return head + rest


def load_text(text: str, path: Path | str = "<text>") -> Content:
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ContentError(path, line, "", f"not valid YAML: {exc.problem or exc}") from None
    if data is None:
        return Content()
    if not isinstance(data, dict):
        raise ContentError(path, 1, "", "the file must be a mapping with entries/synonyms/...")
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        node = _node_at(root, [unknown[0]])
        raise ContentError(
            path, _line(node), str(unknown[0]), f"unknown section; use {', '.join(_SECTIONS)}"
        )
    content = Content()
    for section, model in _SECTIONS.items():
        items = data.get(section) or []
        if not isinstance(items, list):
            raise ContentError(path, _line(_node_at(root, [section])), section, "must be a list")
        for index, item in enumerate(items):
            try:
                parsed = model.model_validate(item)
            except ValidationError as exc:
                error = exc.errors()[0]
                loc = [section, index, *error["loc"]]
                where = _describe_loc(section, index, error["loc"], item)
                raise ContentError(path, _line(_node_at(root, loc)), where, error["msg"]) from None
            getattr(content, section).append(parsed)
            if isinstance(parsed, EntryIn):
                content.origin[parsed.id] = str(path)
    return content


def load_file(path: Path | str) -> Content:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(path, None, "", f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ContentError(path, None, "", exc.strerror or str(exc)) from None
    return load_text(text, path)


def content_files(path: Path | str = CONTENT_DIR) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
    return [path]


def load_paths(paths: Iterable[Path | str]) -> Content:
    """Load every file; the first error stops everything (nothing half-loaded)."""
    content = Content()
    for path in paths:
        for file in content_files(path):
            content.extend(load_file(file))
    return content


def load_shipped() -> Content:
    return load_paths([CONTENT_DIR])
