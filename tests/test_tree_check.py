"""tests/tree_check.py, which `make test` runs around the suite: it names what a run changed in the work tree
and leaves alone what a developer had changed before; ad-hoc outputs of the commands go to ignored paths."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_check import differences, tree_state  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_changes_made_by_the_run_are_named_and_earlier_ones_are_not(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("/ignored/\n")
    for name in ("a.txt", "b.png", "c.txt"):
        (tmp_path / name).write_text(name)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "init")
    (tmp_path / "a.txt").write_text("a developer's edit")  # before the run
    (tmp_path / "notes.md").write_text("a developer's new file")
    before = tree_state(tmp_path)
    assert set(before) == {"a.txt", "notes.md"}
    assert differences(before, tree_state(tmp_path)) == []  # a run that changes nothing passes

    (tmp_path / "b.png").write_text("a screenshot rewritten by a test")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "report.md").write_text("fine: ignored")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "latest.json").write_text("{}")
    (tmp_path / "c.txt").unlink()
    changed = differences(before, tree_state(tmp_path))
    assert [c.split(":")[0] for c in changed] == ["b.png", "c.txt", "out/latest.json"], changed

    (tmp_path / "a.txt").write_text("the run changed the developer's edit again")
    assert "a.txt" in [c.split(":")[0] for c in differences(before, tree_state(tmp_path))]


def test_outside_a_git_work_tree_nothing_is_checked(tmp_path: Path) -> None:
    assert tree_state(tmp_path) is None


def test_ad_hoc_outputs_are_ignored() -> None:
    if tree_state(ROOT) is None:
        pytest.skip("not a git work tree")
    paths = ["eval/reports/latest.json", "eval/reports/latest.md", "eval/reports/latest.png",
             "corpus/removed/2021-01.txt", "corpus/removed/本单位文件/通知.docx"]
    proc = subprocess.run(["git", "-c", "core.quotePath=false", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert sorted(proc.stdout.splitlines()) == sorted(paths), proc
    kept = subprocess.run(["git", "check-ignore", "--no-index", "eval/reports/current.md", "corpus/2022-03.txt"],
                          cwd=ROOT, capture_output=True, text=True)
    assert kept.stdout == "", kept.stdout  # named reports and the corpus stay tracked
