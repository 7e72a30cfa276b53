"""Directory figures: nearest search over many locations, and HSDS validity of the export.

    .venv/bin/python benchmarks/directory.py [--locations 10000] [--queries 2000]

Targets (directory issue): nearest over 10,000 synthetic locations p99 <= 5 ms; HSDS export of
the sample set 100 % valid. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.database import engine_context, session_factory  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from directory.hsds import find_schema_dir, schema_errors  # noqa: E402
from directory.places import CATEGORIES, TOWNS  # noqa: E402
from directory.sample import sample_services  # noqa: E402
from directory.search import DirectoryIndex, Facility, Opening  # noqa: E402
from directory.store import export_services, import_services  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")


def synthetic(n: int, seed: int = 3) -> DirectoryIndex:
    rng = random.Random(seed)
    weekday = Opening(
        frozenset({"MO", "TU", "WE", "TH", "FR"}),
        datetime(2000, 1, 1, 9).time(),
        datetime(2000, 1, 1, 17).time(),
        None,
        None,
        True,
    )
    facilities = []
    for i in range(n):
        town = rng.choice(TOWNS)
        facilities.append(
            Facility(
                service_id=f"synthetic-{i}",
                name=f"合成服务点{i}",
                category=rng.choice(CATEGORIES).code,
                town=town.name,
                address=None,
                latitude=town.latitude + rng.uniform(-0.03, 0.03),
                longitude=town.longitude + rng.uniform(-0.03, 0.03),
                phone=None,
                description=None,
                note=None,
                openings=(weekday,),
                closures=(),
                searchable=f"合成服务点{i}",
            )
        )
    return DirectoryIndex(facilities)


async def exported_sample() -> list[dict[str, Any]]:
    """The sample set as `minzheng directory export` prints it: imported, then exported."""
    with tempfile.TemporaryDirectory() as folder:
        async with engine_context(f"sqlite+aiosqlite:///{folder}/bench.db") as engine:
            await upgrade(engine)
            async with session_factory(engine)() as session, session.begin():
                await import_services(session, sample_services())
            async with session_factory(engine)() as session:
                return await export_services(session)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2_000)
    args = parser.parse_args()

    index = synthetic(args.locations)
    rng = random.Random(4)
    now = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)
    for label, options in [
        ("nearest 5, any category", {}),
        ("nearest 5 of one category", {"category": "meal_point"}),
        ("nearest 5 within 2 km, open now", {"radius_m": 2000.0, "open_now": True}),
    ]:
        times = []
        for _ in range(args.queries):
            point = (rng.uniform(30.93, 31.14), rng.uniform(121.09, 121.34))
            started = time.perf_counter()
            index.search(now=now, near=point, limit=5, **options)  # type: ignore[arg-type]
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(
            f"{label} over {args.locations} locations: p50 {statistics.median(times):.3f} ms, "
            f"p99 {times[int(len(times) * 0.99)]:.3f} ms (target p99 5 ms)"
        )

    schema_dir = find_schema_dir()
    if schema_dir is None:
        print("HSDS schemas not found beside the checkout: validity not measured")
        return
    services = asyncio.run(exported_sample())
    invalid = [s["name"] for s in services if schema_errors(s, "service", schema_dir)]
    share = 1 - len(invalid) / len(services)
    print(
        f"HSDS export of the sample set: {len(services)} services, {share:.0%} valid"
        + (f" (invalid: {invalid[:5]})" if invalid else "")
    )


if __name__ == "__main__":
    main()
