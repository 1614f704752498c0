"""Bad input never stops a read: each problem names file, line and reason; the rest goes in."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from indexer.readers import ReadStats, RecordProblem, base, read_paths

GOOD = {"title": "Gut", "text": "Ein ganz normaler Artikeltext."}


def read(paths: list[Path]) -> tuple[list[str], list[tuple[int | None, str]], ReadStats]:
    stats = ReadStats()
    titles = [article.title for article in read_paths(paths, stats=stats)]
    assert stats.records == stats.articles + stats.skipped == len(titles) + len(stats.problems)
    return titles, [(p.line, p.reason) for p in stats.problems], stats


def good_line(title: str) -> bytes:
    return (json.dumps({**GOOD, "title": title}, ensure_ascii=False) + "\n").encode()


def test_bad_jsonl_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        good_line("eins")  # 1
        + b'{"title": "abgeschnitten", "text": "Der Satz bricht mitt\n'  # 2 truncated JSON
        + b'{"title": "kaputt", "text": "\xff\xfe ung\xfcltig"}\n'  # 3 invalid UTF-8
        + b"[1, 2, 3]\n"  # 4 not an object
        + b'"nur ein String"\n'  # 5 not an object
        + b'{"title": "Nur ein Titel"}\n'  # 6 title only
        + b'{"title": "Leerer Text", "text": "   "}\n'  # 7 blank body
        + b"{}\n"  # 8 empty record
        + b"\n"  # 9 blank line: not a record
        + good_line("zehn")  # 10
        + b'{"title": "ohne Zeilenende", "text": "letzte Zeile"}'  # 11 no trailing newline
    )
    titles, problems, stats = read([path])
    assert titles == ["eins", "zehn", "ohne Zeilenende"]
    assert [line for line, _ in problems] == [2, 3, 4, 5, 6, 7, 8]
    reasons = dict(problems)
    assert reasons[2].startswith("invalid JSON: Unterminated string")
    assert reasons[3].startswith("invalid UTF-8")
    assert reasons[4] == "not a JSON object (list)"
    assert reasons[5] == "not a JSON object (str)"
    assert reasons[6] == reasons[7] == "no body text (title only)"
    assert reasons[8] == "empty record: no title, no body"
    assert all(p.path == str(path) for p in stats.problems)
    assert (stats.records, stats.articles, stats.skipped) == (10, 3, 7)


def test_binary_files_are_one_problem_each(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 8
    paths = []
    for name in ("data.jsonl", "data.csv", "data.txt", "data.html"):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(blob)
    ok = tmp_path / "ok.jsonl"
    ok.write_bytes(good_line("danach"))
    titles, problems, stats = read([*paths, ok])
    assert titles == ["danach"]
    assert problems == [(None, "binary file (NUL bytes), not text")] * 4
    assert stats.files == 5


def test_csv_broken_quoting_and_wrong_column_count(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        "id,title,text\n"  # 1
        "1,Eins,Text eins\n"  # 2
        '3,"Kaputter Titel,Text ohne schließendes Anführungszeichen\n'  # 3 broken quoting
        "4,Vier,Text vier\n"  # 4
        '5,"Fünf",Text fünf\n'  # 5
        "6,nur zwei Spalten\n"  # 6 wrong column count
        "7,Sieben,Text sieben,zu viel\n"  # 7 wrong column count
        "8,Acht,Text acht\n"  # 8
        '9,"Nie geschlossen,Text neun\n',  # 9 unterminated at end of file
        encoding="utf-8",
    )
    titles, problems, _ = read([path])
    assert titles == ["Eins", "Vier", "Fünf", "Acht"]
    assert [line for line, _ in problems] == [3, 6, 7, 9]
    reasons = dict(problems)
    assert reasons[3].startswith("broken CSV quoting")
    assert reasons[6] == "expected 3 columns, found 2"
    assert reasons[7] == "expected 3 columns, found 4"
    assert reasons[9].startswith("broken CSV quoting")


def test_csv_invalid_utf8_and_empty_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(
        b"title,text\n"
        b"Gut,Text\n"
        b"Schlecht,\xe4\xf6\xfc latin-1\n"  # 3 invalid UTF-8
        b"Nur Titel,\n"  # 4 title only
        b",\n"  # 5 empty row: ignored
        b"Auch gut,Mehr Text\n"
    )
    titles, problems, _ = read([path])
    assert titles == ["Gut", "Auch gut"]
    assert [line for line, _ in problems] == [3, 4]
    assert problems[0][1].startswith("invalid UTF-8") and problems[0][1].endswith("at line 3")
    assert problems[1][1] == "no body text (title only)"


def test_text_files_invalid_utf8_empty_and_title_only(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Seite\nRubrik\nTitel\nK\u00f6rper\n".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    title_only = tmp_path / "title.txt"
    title_only.write_text("Seite\n\nRubrik\n\nNur ein Titel\n", encoding="utf-8")
    titles, problems, _ = read([bad, empty, title_only])
    assert titles == []
    assert problems == [
        (4, "invalid UTF-8 (invalid start byte)"),
        (None, "empty file"),
        (None, "no body text (title only)"),
    ]


def test_missing_unsupported_and_corrupt_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    unsupported = tmp_path / "notes.docx"
    unsupported.write_bytes(b"PK")
    corrupt = tmp_path / "cut.jsonl.gz"
    payload = gzip.compress(b"".join(good_line(f"t{i}") for i in range(2000)))
    corrupt.write_bytes(payload[: len(payload) // 2])
    not_gzip = tmp_path / "fake.jsonl.gz"
    not_gzip.write_bytes(b"this is not gzip data\n")
    after = tmp_path / "z.jsonl"
    after.write_bytes(good_line("am Ende"))
    seen: list[RecordProblem] = []
    stats = ReadStats()
    titles = [
        a.title
        for a in read_paths(
            [missing, unsupported, corrupt, not_gzip, after], stats=stats, on_problem=seen.append
        )
    ]
    assert titles[-1] == "am Ende"
    assert 0 < len(titles) - 1 < 2000  # what came before the damage is kept
    assert [(p.path, p.line) for p in seen[:2]] == [(str(missing), None), (str(unsupported), None)]
    assert seen[0].reason == "file not found"
    assert seen[1].reason == "unsupported file type '.docx'"
    assert seen[2].path == str(corrupt) and seen[2].line == len(titles)
    assert seen[2].reason.startswith("cannot read file")
    assert seen[3].path == str(not_gzip) and seen[3].reason.startswith("cannot read file")
    assert stats.files == 5 and stats.skipped == 4


def test_json_array_that_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"title": "a", "text": "b"}, {"title": ', encoding="utf-8")
    titles, problems, _ = read([path])
    assert titles == []
    assert len(problems) == 1 and problems[0][0] is None
    assert problems[0][1].startswith("invalid JSON array")


def test_overlong_lines_are_skipped_without_being_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "MAX_LINE_BYTES", 100)
    path = tmp_path / "long.jsonl"
    huge = json.dumps({"title": "riesig", "text": "x" * 1000}).encode() + b"\n"
    path.write_bytes(good_line("vorher") + huge + good_line("nachher"))
    titles, problems, _ = read([path])
    assert titles == ["vorher", "nachher"]
    assert problems == [(2, "line too long")]
