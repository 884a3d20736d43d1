"""`make test` leaves the work tree as it found it: `save FILE` before the suite records `git status` (with
the content hash of every changed or untracked file), `compare FILE` after it names what the tests changed.
Files a developer had changed before the run are fine as long as the run does not change them again."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path


def tree_state(root: Path) -> dict[str, str] | None:
    """{path: "XY sha256"} for every changed, deleted or untracked (not ignored) file; None outside a git work tree."""
    proc = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd=root,
                          capture_output=True)
    if proc.returncode != 0:
        return None
    entries = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    state: dict[str, str] = {}
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename/copy is followed by its source path
            i += 1
        f = root / path
        digest = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "-"
        state[path] = f"{code} {digest}"
    return state


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [f"{p}: {before.get(p, 'clean')} -> {after.get(p, 'clean')}"
            for p in sorted(set(before) | set(after)) if before.get(p) != after.get(p)]


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("save", "compare"):
        print("usage: tree_check.py save|compare FILE", file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parent.parent
    state, record = tree_state(root), Path(argv[2])
    if state is None:
        print("tree_check: not a git work tree, nothing checked", file=sys.stderr)
        return 0
    if argv[1] == "save":
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(state, indent=1), encoding="utf-8")
        return 0
    if not record.is_file():
        print(f"tree_check: {record} was not saved before the tests, nothing checked", file=sys.stderr)
        return 0
    changed = differences(json.loads(record.read_text(encoding="utf-8")), state)
    if changed:
        print("the tests changed the work tree (write such files to ignored paths, e.g. tmp_path or "
              "tests/artifacts/):", *changed, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
