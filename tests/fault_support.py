"""Helpers for the fault tests: a small tmpfs (a disk that really fills up) and filling it."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where`, unmounted afterwards; the test is skipped where mounting is not
    allowed (it needs root or CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {proc.stderr.strip() or proc.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int = 0, name: str = "ballast") -> Path:
    """Fill the disk up to `leave` free bytes (bounded: 64 MiB at most)."""
    import os

    ballast = disk / name
    with open(ballast, "ab", buffering=0) as fh:  # unbuffered: nothing left to fail at close
        for _ in range(16384):
            st = os.statvfs(disk)
            free = st.f_bavail * st.f_frsize - leave
            if free <= 0:
                break
            try:
                fh.write(b"\0" * min(4096, free))
            except OSError:
                break
    return ballast
