from __future__ import annotations

from datetime import date

import pytest

from knowledge.loader import load_shipped
from knowledge.matcher import KnowledgeIndex
from knowledge.store import snapshot_from_content

TODAY = date(2026, 11, 28)


@pytest.fixture(scope="session")
def shipped_index() -> KnowledgeIndex:
    """The shipped content's index, built once for the whole run."""
    return KnowledgeIndex.build(snapshot_from_content(load_shipped()))
