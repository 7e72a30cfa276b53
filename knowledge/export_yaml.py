"""``kb export --format yaml``: the database's content in the shipped format of
``knowledge/content``, so that reviewed content can return to the repository.

The database is only read. Entries, synonym groups, cue groups and out-of-scope matters keep the
order of the shipped files where they have one (new ones follow: entries and matters by id, cue
groups in the order they were added); with a folder, each entry goes to the
shipped file its id came from, a new one to the file holding most entries of its category. The
text reads like the shipped files: fields in ``EntryIn`` order, long texts as literal blocks,
short lists in flow style, the shipped files' header comments kept. Comments inside the lists
cannot survive the database.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from knowledge.loader import CONTENT_DIR, Content, content_files
from knowledge.models import KbCue, KbEntry, KbOutOfScope, KbQuestion, KbSynonym
from knowledge.schema import EntryIn, OutOfScopeIn, SynonymIn
from knowledge.store import export_published, stored_cues

SECTIONS = ("entries", "synonyms", "cues", "out_of_scope")
SYNONYMS_FILE = "synonyms.yaml"
CUES_FILE = "cues.yaml"
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
# The file that holds each section alone; entries go to the topic files.
_SECTION_FILES = {SYNONYMS_FILE: "synonyms", CUES_FILE: "cues", OUT_OF_SCOPE_FILE: "out_of_scope"}
# For an entry of a category no shipped file holds.
OTHER_FILE = "other.yaml"
TABLES = tuple(
    str(model.__tablename__) for model in (KbEntry, KbQuestion, KbSynonym, KbOutOfScope, KbCue)
)
# Lists of sentences stay block lists; other lists are short words, written [a, b].
_BLOCK_LISTS = frozenset({"questions", "steps"})
# Always a literal block, as in the shipped files; other texts only when they have lines.
_ALWAYS_LITERAL = frozenset({"answer"})


class ExportError(Exception):
    """The database holds something the shipped format cannot take back."""


async def missing_tables(engine: AsyncEngine) -> list[str]:
    """The knowledge-base tables the database lacks (all of them before `db upgrade`)."""

    def names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with engine.connect() as connection:
        present = await connection.run_sync(names)
    return [name for name in TABLES if name not in present]


async def read_database(session: AsyncSession) -> Content:
    """The published entries, the synonyms, the out-of-scope matters and the cue groups, as
    YAML has them."""
    content = Content()
    for data in await export_published(session):
        try:
            content.entries.append(
                EntryIn.model_validate({name: data.get(name) for name in EntryIn.model_fields})
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ExportError(f"entry {data['id']}: {where}: {error['msg']}") from None
    rows = await session.execute(select(KbSynonym).order_by(col(KbSynonym.id)))
    content.synonyms = [
        SynonymIn(canonical=row.canonical, variants=[row.variant]) for row in rows.scalars()
    ]
    rows_oos = await session.execute(select(KbOutOfScope).order_by(col(KbOutOfScope.id)))
    content.out_of_scope = [
        OutOfScopeIn(
            id=row.id,
            title=row.title,
            questions=row.questions,
            keywords=row.keywords,
            advice=row.advice,
        )
        for row in rows_oos.scalars()
    ]
    content.cues = await stored_cues(session)
    return content


def _by_shipped_order(ids: Iterable[str], shipped: Iterable[str]) -> dict[str, tuple[int, str]]:
    rank = {ident: index for index, ident in enumerate(shipped)}
    return {ident: (rank.get(ident, len(rank)), ident) for ident in ids}


def _group_synonyms(pairs: list[tuple[str, str]], shipped: list[SynonymIn]) -> list[SynonymIn]:
    """(variant, canonical) pairs grouped as the shipped file groups them. A canonical word may
    head several groups there (Chinese and English variants), so a variant goes back to its own
    shipped group; a new variant joins the first group of its word; new words follow."""
    home = {variant: i for i, group in enumerate(shipped) for variant in group.variants}
    first: dict[str, int] = {}
    for i, group in enumerate(shipped):
        first.setdefault(group.canonical, i)
    shipped_groups: dict[int, list[str]] = {}
    new_groups: dict[str, list[str]] = {}
    for variant, canonical in pairs:
        found = home.get(variant)
        if found is None or shipped[found].canonical != canonical:
            found = first.get(canonical)
        if found is None:
            new_groups.setdefault(canonical, []).append(variant)
        else:
            shipped_groups.setdefault(found, []).append(variant)
    arranged = []
    for index in sorted(shipped_groups):
        order = {variant: i for i, variant in enumerate(shipped[index].variants)}
        variants = sorted(shipped_groups[index], key=lambda v: order.get(v, len(order)))
        arranged.append(SynonymIn(canonical=shipped[index].canonical, variants=variants))
    arranged += [SynonymIn(canonical=c, variants=v) for c, v in new_groups.items()]
    return arranged


def arrange(content: Content, shipped: Content) -> Content:
    """The content in the shipped order; what the shipped files lack follows, by id."""
    entry_key = _by_shipped_order((e.id for e in content.entries), (e.id for e in shipped.entries))
    oos_key = _by_shipped_order(
        (m.id for m in content.out_of_scope), (m.id for m in shipped.out_of_scope)
    )
    pairs = [(v, group.canonical) for group in content.synonyms for v in group.variants]
    # New cue groups keep the order they were added in (a stable sort), after the shipped ones.
    cue_rank = {cue.need: index for index, cue in enumerate(shipped.cues)}
    return Content(
        entries=sorted(content.entries, key=lambda e: entry_key[e.id]),
        synonyms=_group_synonyms(pairs, shipped.synonyms),
        out_of_scope=sorted(content.out_of_scope, key=lambda m: oos_key[m.id]),
        cues=sorted(content.cues, key=lambda c: cue_rank.get(c.need, len(cue_rank))),
    )


class _Flow(list[Any]):
    """A list written on one line: ``[a, b]``."""


class _Literal(str):
    """A text written as a literal block (``|``)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, and double quotes where quotes are needed."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _represent_flow(dumper: _Dumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_literal(dumper: _Dumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(_Literal, _represent_literal)


def _item(model: BaseModel) -> dict[str, Any]:
    """A model's fields in declaration order, without the empty ones, each in its style."""
    data: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None or value == []:
            continue
        if isinstance(value, list):
            data[name] = list(value) if name in _BLOCK_LISTS else _Flow(value)
        elif isinstance(value, str) and (name in _ALWAYS_LITERAL or "\n" in value):
            # The final line break makes the block `|` rather than `|-`; loading strips it.
            data[name] = _Literal(value + "\n")
        else:
            data[name] = value
    return data


def _dump(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
    )


def dump(content: Content, *, keep_empty: Iterable[str] = SECTIONS, header: str = "") -> str:
    """One YAML document with the content's sections; an empty one only if in ``keep_empty``."""
    sections: dict[str, list[BaseModel]] = {
        "entries": list(content.entries),
        "synonyms": list(content.synonyms),
        "cues": list(content.cues),
        "out_of_scope": list(content.out_of_scope),
    }
    keep = set(keep_empty)
    parts = []
    for section, items in sections.items():
        if not items:
            if section in keep:
                parts.append(f"{section}: []\n")
            continue
        head = f"{section}:\n"
        # Entries, cue groups and out-of-scope matters are long: a blank line between two.
        gap = "" if section == "synonyms" else "\n"
        bodies = [_dump({section: [_item(item)]})[len(head) :] for item in items]
        parts.append(head + gap.join(bodies))
    return header + "\n".join(parts)


def _header(path: Path) -> str:
    """The comment lines a shipped file starts with."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = []
    for line in lines:
        if not line.startswith("#"):
            break
        kept.append(line)
    return "".join(kept)


def split(content: Content, shipped: Content) -> dict[str, Content]:
    """Which file of the shipped folder each part goes to (every shipped file, maybe empty)."""
    files: dict[str, Content] = {path.name: Content() for path in content_files(CONTENT_DIR)}
    files.setdefault(SYNONYMS_FILE, Content()).synonyms = list(content.synonyms)
    files.setdefault(CUES_FILE, Content()).cues = list(content.cues)
    files.setdefault(OUT_OF_SCOPE_FILE, Content()).out_of_scope = list(content.out_of_scope)
    homes = Counter((e.category, Path(shipped.origin[e.id]).name) for e in shipped.entries)
    by_category: dict[str, str] = {}
    # Most entries first; on a tie, the first file by name.
    for (category, name), _ in sorted(homes.items(), key=lambda kv: (-kv[1], kv[0][1])):
        by_category.setdefault(category, name)
    for entry in content.entries:
        origin = shipped.origin.get(entry.id)
        name = Path(origin).name if origin else by_category.get(entry.category, OTHER_FILE)
        files.setdefault(name, Content()).entries.append(entry)
    return files


def render_files(content: Content, shipped: Content) -> dict[str, str]:
    """File name → text, for a folder laid out like ``knowledge/content``."""
    texts = {}
    for name, part in split(content, shipped).items():
        shipped_file = CONTENT_DIR / name
        header = _header(shipped_file) if shipped_file.is_file() else ""
        keep = _SECTION_FILES.get(name, "entries")
        texts[name] = dump(part, keep_empty=[keep], header=header)
    return texts


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new one."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_folder(folder: Path, texts: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        write_atomically(folder / name, text)
