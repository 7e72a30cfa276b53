"""Check content files while writing them: ``python -m knowledge.check FILE.yaml [...]``.

The same checks as ``minzheng kb lint``, for files not yet in ``knowledge/content/``; also reports
questions that collide with the shipped content.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from knowledge.lint import lint
from knowledge.loader import CONTENT_DIR, ContentError, content_files, load_paths


def main(argv: list[str]) -> int:
    targets = [Path(arg).resolve() for arg in argv]
    others = [p for p in content_files(CONTENT_DIR) if p.resolve() not in targets]
    try:
        content = load_paths([*others, *targets])
    except ContentError as exc:
        print(f"error: {exc}")
        return 1
    wanted = {str(p) for p in targets}
    findings = [
        f
        for f in lint(content, today=date.today())
        if not f.path or f.path in wanted or any(str(t) in f.message for t in wanted)
    ]
    for finding in findings:
        print(finding)
    entries = [e for e in content.entries if content.origin.get(e.id) in wanted]
    errors = sum(1 for f in findings if f.level == "error")
    print(f"{len(entries)} entries checked: {errors} errors, {len(findings) - errors} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
