"""The process's garbage-collector policy, decided here in the composition root and nowhere else.

Indexes (knowledge, directory) are millions of small, acyclic objects that live as long as the
process or until the next rebuild. Two rules keep the cycle collector from wasting time on them:
it is paused while one is built (it would walk the new objects again and again and find nothing
to free: a fifth of a build), and what is built is then frozen out of its sight (or each full
collection walks it again: pauses of tens of milliseconds under load).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def long_lived(build: Callable[P, T]) -> Callable[P, T]:
    """``build`` run with the collector paused, its result frozen out of the collector's sight.

    ``gc.freeze`` moves every object alive then, so a superseded index still referenced stays
    frozen until the process ends; rebuilds are rare (a publish), their cost is bounded."""

    @functools.wraps(build)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()

    return wrapped


def settle() -> None:
    """After start-up: collect what start-up left behind, then freeze what remains."""
    gc.collect()
    gc.freeze()
