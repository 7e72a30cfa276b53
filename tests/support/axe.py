"""axe-core accessibility checks for the browser tests (marker ``browser``).

axe-core's script comes from the ``axe-playwright-python`` package, which ships it inside
itself (``axe.min.js``): nothing is fetched from anywhere. Only the script is used, not the
package's (untyped) Python API, so any async Playwright page can be checked.

    await assert_accessible(page, "after an answer with its buttons")

checks the whole page at WCAG 2.1 levels A and AA and fails with one entry per violation: the
rule, its impact, what it asks for, and each node it was found on. axe sees only what is in
the DOM when it runs: check a page again after anything that adds to it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from importlib.resources import files
from typing import Any

import pytest
from playwright.async_api import Page

# axe-core's tags for the WCAG 2.0 and 2.1 success criteria at levels A and AA.
WCAG21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

# Runs axe on the page, or on the part of it that ``within`` selects, with only ``tags``.
_RUN = """async ([within, tags]) => {
    const results = await axe.run(within === null ? document : within, {
        runOnly: {type: "tag", values: tags},
        resultTypes: ["violations", "incomplete"],
    });
    return {violations: results.violations, incomplete: results.incomplete};
}"""


@functools.cache
def axe_script() -> str:
    """axe-core's own script, as shipped in the ``axe-playwright-python`` package."""
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


async def axe_results(
    page: Page, *, within: str | None = None, tags: Sequence[str] = WCAG21_AA
) -> dict[str, list[dict[str, Any]]]:
    """axe-core's findings on ``page`` (or in the elements the CSS selector ``within`` matches)
    for the rules tagged with any of ``tags``, as axe reports them: ``violations``, and
    ``incomplete``, what axe could not decide and leaves to a person to review."""
    if not await page.evaluate("typeof window.axe?.run === 'function'"):
        # Evaluated through the browser's DevTools protocol: the page's Content-Security-Policy
        # does not apply to it, and nothing is fetched.
        await page.evaluate(axe_script())
    results: dict[str, list[dict[str, Any]]] = await page.evaluate(_RUN, [within, list(tags)])
    return results


def describe(violations: Iterable[dict[str, Any]]) -> str:
    """One line per violation (rule id, impact, what it asks for, axe's page about it), then
    each node it found: its CSS selector, its HTML and what axe says is wrong with it."""
    lines: list[str] = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact') or 'no impact'}): "
            f"{violation['help']} <{violation.get('helpUrl', '')}>"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            html = " ".join(node.get("html", "").split())
            lines.append(f"    {target}: {html[:160]}")
            summary = node.get("failureSummary")
            if summary:
                lines.extend(f"      {line.strip()}" for line in summary.splitlines())
    return "\n".join(lines)


async def assert_accessible(
    page: Page,
    context: str = "",
    *,
    within: str | None = None,
    tags: Sequence[str] = WCAG21_AA,
    strict: bool = False,
) -> None:
    """Fail the test unless axe-core finds no violation of WCAG 2.1 A and AA on ``page``.

    ``context`` says in the failure which state of the page was checked ("fresh", "after an
    answer"); ``within`` limits the check to what a CSS selector matches; ``tags`` picks other
    axe-core rule tags (e.g. adding "wcag22aa"). ``strict`` fails on what axe leaves for a
    person to review too: for a page meant to leave axe nothing in doubt."""
    results = await axe_results(page, within=within, tags=tags)
    found = {"violation(s)": results["violations"]}
    if strict:
        found["result(s) left to review"] = results["incomplete"]
    problems = [
        f"{len(items)} {kind} on {sum(len(item['nodes']) for item in items)} node(s):\n"
        + describe(items)
        for kind, items in found.items()
        if items
    ]
    if problems:
        where = page.url + (f" ({context})" if context else "")
        pytest.fail(
            f"axe-core, checking {', '.join(tags)} at {where}, found " + "\nand ".join(problems),
            pytrace=False,
        )
