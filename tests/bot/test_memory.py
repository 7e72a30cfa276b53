"""The composition root's collector policy: builds run with the collector paused, what they
built is frozen, and the collector's state is given back; the knowledge package sets none."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.memory import long_lived
from knowledge.loader import load_shipped
from knowledge.matcher import KnowledgeIndex
from knowledge.store import snapshot_from_content


@pytest.fixture
def collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_a_build_runs_paused_and_leaves_its_result_frozen(collector: None) -> None:
    seen: list[bool] = []

    def build() -> list[int]:
        seen.append(gc.isenabled())
        return [1, 2, 3]

    gc.enable()
    gc.unfreeze()
    result = long_lived(build)()
    assert seen == [False] and gc.isenabled()
    assert gc.get_freeze_count() > 0 and result == [1, 2, 3]


def test_a_failed_build_gives_the_collector_back(collector: None) -> None:
    def build() -> None:
        raise RuntimeError("bad content")

    gc.enable()
    with pytest.raises(RuntimeError):
        long_lived(build)()
    assert gc.isenabled()
    gc.disable()
    with pytest.raises(RuntimeError):
        long_lived(build)()
    assert not gc.isenabled()  # a caller that had it off keeps it off


def test_the_knowledge_index_leaves_the_collector_alone(collector: None) -> None:
    gc.enable()
    gc.unfreeze()
    KnowledgeIndex.build(snapshot_from_content(load_shipped()))
    assert gc.isenabled() and gc.get_freeze_count() == 0
