from __future__ import annotations

import json
from pathlib import Path

from directory.hsds import find_schema_dir, schema_errors
from tests.bot.test_cli_kb import run

ROW_KEYS = {
    "service_id",
    "name",
    "category",
    "town",
    "address",
    "latitude",
    "longitude",
    "phone",
    "hours",
    "open_now",
}


def test_search_prints_rows(database_url: str, tmp_path: Path) -> None:
    result = run(
        "directory",
        "search",
        "--town",
        "9亭",
        "--category",
        "老年食堂",
        "--near",
        "31.13,121.30",
        "--limit",
        "2",
        "--now",
        "2026-11-30T11:00",
        "--json",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    assert set(rows[0]) == ROW_KEYS | {"distance_m"}
    assert all(r["town"] == "九亭镇" and r["category"] == "meal_point" for r in rows)
    assert rows[0]["distance_m"] <= rows[1]["distance_m"]
    assert rows[0]["open_now"] is True
    closed = run(
        "directory",
        "search",
        "--category",
        "community_service_centre",
        "--open-now",
        "--now",
        "2026-10-01T10:00",
        "--json",
        database_url=database_url,
        cwd=tmp_path,
    )
    assert json.loads(closed.stdout) == []


def test_search_rejects_bad_input_clearly(database_url: str, tmp_path: Path) -> None:
    near = run("directory", "search", "--near", "abc", database_url=database_url, cwd=tmp_path)
    assert near.returncode == 2 and "--near takes LAT,LON" in near.stderr
    town = run("directory", "search", "--town", "北京", database_url=database_url, cwd=tmp_path)
    assert town.returncode == 2 and "unknown town" in town.stderr


def test_export_validates_and_import_round_trips(database_url: str, tmp_path: Path) -> None:
    exported = run(
        "directory", "export", "--format", "hsds", database_url=database_url, cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    services = json.loads(exported.stdout)
    schema_dir = find_schema_dir()
    assert schema_dir is not None
    assert all(schema_errors(s, "service", schema_dir) == [] for s in services)
    path = tmp_path / "export.json"
    path.write_text(exported.stdout, encoding="utf-8")
    again = run("directory", "import", str(path), "--json", database_url=database_url, cwd=tmp_path)
    assert json.loads(again.stdout) == {"created": 0, "updated": 0, "unchanged": len(services)}


def test_a_bad_csv_is_reported_and_nothing_imported(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(
        "name,category,town,address,latitude,longitude,phone,hours\n"
        "甲,老年食堂,泗泾,某路1号,31.12,121.26,,MO-FR 10:30-12:30\n"
        "乙,老年食堂,泗泾,某路2号,131.12,121.26,,MO-FR 10:30-12:30\n",
        encoding="utf-8",
    )
    result = run("directory", "import", str(path), database_url=database_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "row 3, latitude" in result.stderr and "nothing imported" in result.stderr
    found = run(
        "directory", "search", "--text", "甲", "--json", database_url=database_url, cwd=tmp_path
    )
    assert all(r["name"] != "甲" for r in json.loads(found.stdout))
