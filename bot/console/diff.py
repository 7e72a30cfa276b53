"""Side-by-side differences of two versions of an entry, field by field, character by
character (Chinese has no spaces to split words at)."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True)
class Piece:
    text: str
    # "same", "removed" (left only) or "added" (right only)
    kind: str


@dataclass(frozen=True)
class FieldDiff:
    name: str
    label: str
    left: tuple[Piece, ...]
    right: tuple[Piece, ...]
    changed: bool


def _pieces(a: str, b: str) -> tuple[tuple[Piece, ...], tuple[Piece, ...]]:
    left: list[Piece] = []
    right: list[Piece] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(Piece(a[i1:i2], "same"))
            right.append(Piece(b[j1:j2], "same"))
            continue
        if i2 > i1:
            left.append(Piece(a[i1:i2], "removed"))
        if j2 > j1:
            right.append(Piece(b[j1:j2], "added"))
    return tuple(left), tuple(right)


def field_diffs(
    fields: tuple[tuple[str, str, str], ...], a: dict[str, str], b: dict[str, str]
) -> list[FieldDiff]:
    """One row per field that either version has, changed ones marked."""
    out = []
    for name, label, _ in fields:
        left, right = a.get(name, ""), b.get(name, "")
        if not left and not right:
            continue
        pieces = _pieces(left, right)
        out.append(FieldDiff(name, label, pieces[0], pieces[1], left != right))
    return out
