"""Atomic writes: the file appears whole, with the mode a plain open() would give it."""

from __future__ import annotations

import os
import stat

from edge_ecg.atomic import write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_umask_mode_not_mkstemp_private_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.json", "{}")
        os.umask(0o027)
        write_text(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == 0o644
    assert _mode(tmp_path / "b.json") == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_an_overwritten_file_keeps_its_mode(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    os.chmod(target, 0o600)
    write_text(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
