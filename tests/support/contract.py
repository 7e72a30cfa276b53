"""The fields of the ``ask`` object of DESIGN.md, exactly."""

CONTRACT_KEYS = frozenset(
    {"question", "fallback", "entry_id", "title", "answer", "score", "suggestions", "elapsed_ms"}
)
