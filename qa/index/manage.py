"""Changes to the corpus and its index as one operation: lock, then corpus, then index; undone on failure.

The CLI (`qa index add/remove`) and the API call these, never the corpus directory directly. Order matters:
the build lock is taken before any corpus file moves, so a command that loses the race changes nothing, and a
failed index step puts the corpus files back as they were (the index itself is swapped atomically by the builder,
so it is either the old or the new one).
"""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.index.atomic import IndexBusyError, build_lock
from qa.index.builder import BuildReport
from qa.ingest.ocr import OcrEngine

if TYPE_CHECKING:
    from qa.corpus.intake import Incoming

log = logging.getLogger(__name__)

__all__ = ["CorpusChange", "CorpusChangeError", "IndexBusyError", "add_files", "add_issue_files", "ingest_files",
           "remove_files"]

REMOVED_DIR = "removed"  # corpus/removed/: files taken out of the index, kept (nothing is deleted)
# Corpus names are paths relative to the corpus dir: 2022-03.txt at the root (the bundled gazette),
# <collection>/<file> for everything else (qa.corpus.intake chooses them).

# Brings the index in line with the corpus dir (incremental); qa.service.build_index in production.
UpdateIndex = Callable[[], BuildReport]


class CorpusChangeError(ValueError):
    """The requested change is refused before anything was touched (bad file, unknown name, would replace)."""


@dataclass
class CorpusChange:
    added: list[str] = field(default_factory=list)  # corpus file names written
    replaced: list[str] = field(default_factory=list)  # of those, names that replaced an existing file
    removed: list[str] = field(default_factory=list)  # corpus file names moved to removed/
    report: BuildReport | None = None


class _Undo:
    """Corpus file moves done so far, and how to take each back (newest first)."""

    def __init__(self, corpus_dir: Path) -> None:
        self.backup = corpus_dir / f".undo-{uuid.uuid4().hex[:12]}"
        self.steps: list[Callable[[], None]] = []

    def put(self, src: Path, target: Path) -> None:
        """Copy src to target via a temp file; an existing target is kept aside until commit."""
        if target.exists():
            self.backup.mkdir(exist_ok=True)
            saved = self.backup / f"{uuid.uuid4().hex[:8]}-{target.name}"  # names may repeat across collections
            os.replace(target, saved)
            self.steps.append(lambda: os.replace(saved, target))
        if not target.parent.exists():  # a new collection folder: taken away again on undo
            made = _missing_parents(target.parent)
            target.parent.mkdir(parents=True)
            self.steps.append(lambda: [d.rmdir() for d in made if d.exists() and not any(d.iterdir())])
        tmp = target.with_name(f".{target.name}.part-{uuid.uuid4().hex[:8]}")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
        self.steps.append(lambda: target.unlink(missing_ok=True))

    def move(self, src: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, target)
        self.steps.append(lambda: os.replace(target, src))

    def rollback(self) -> None:
        for step in reversed(self.steps):
            try:
                step()
            except OSError as exc:  # keep undoing the rest; the backup dir keeps what could not go back
                log.error("could not undo a corpus change: %s (kept in %s)", exc, self.backup)
        self._drop_backup()

    def commit(self) -> None:
        self._drop_backup()

    def _drop_backup(self) -> None:
        if self.backup.exists() and not any(self.backup.iterdir()):
            self.backup.rmdir()
        elif self.backup.exists():
            shutil.rmtree(self.backup)


def _missing_parents(folder: Path) -> list[Path]:
    """The folders mkdir(parents=True) would create, deepest first."""
    out = []
    while not folder.exists():
        out.append(folder)
        folder = folder.parent
    return out


def _apply(index_dir: Path, corpus_dir: Path, change: CorpusChange, moves: Callable[[_Undo], None],
           update_index: UpdateIndex) -> CorpusChange:
    with build_lock(index_dir):
        undo = _Undo(corpus_dir)
        try:
            moves(undo)
            change.report = update_index()
        except BaseException:
            undo.rollback()
            raise
        undo.commit()
    return change


def add_files(index_dir: Path, corpus_dir: Path, files: Sequence[tuple[Path, str]], update_index: UpdateIndex,
              *, replace: bool = False, supersedes: Sequence[str] = ()) -> CorpusChange:
    """Copy each (source file, corpus name) into the corpus and bring the index up to date, as one change.

    A name may carry a collection folder (本单位文件/通知.docx); folders are made as needed. A name that exists
    with other content is refused unless `replace`; the same content is a no-op copy. `supersedes`: corpus
    names the new files replace under another name (2022-03.txt when 2022-03.pdf comes in): refused unless
    `replace`, else moved to removed/ in the same change."""
    corpus_dir = Path(corpus_dir)
    change = CorpusChange()
    with build_lock(index_dir):
        for src, name in files:
            _check_name(name)
            target = corpus_dir / name
            if target.exists() and target.resolve() != Path(src).resolve():
                if target.read_bytes() == Path(src).read_bytes():
                    continue
                if not replace:
                    raise CorpusChangeError(f"{name} is already in the corpus with other content; "
                                            "pass --replace (API: replace=true) to replace it")
                change.replaced.append(name)
            if target.resolve() != Path(src).resolve():
                change.added.append(name)
        retire = [n for n in dict.fromkeys(supersedes) if (corpus_dir / n).is_file()]
        if retire and not replace:
            raise CorpusChangeError(f"the corpus already holds this issue as {', '.join(retire)}; "
                                    "pass --replace (API: replace=true) to replace it")
        change.removed = list(retire)
        change.replaced.extend(retire)

        def moves(undo: _Undo) -> None:
            for src, name in files:
                if name in change.added:
                    undo.put(Path(src), corpus_dir / name)
            for name in retire:
                undo.move(corpus_dir / name, _removed_target(corpus_dir, name))

        return _apply(index_dir, corpus_dir, change, moves, update_index)


add_issue_files = add_files  # the name it had when it took gazette issues only


def ingest_files(index_dir: Path, corpus_dir: Path, paths: Sequence[Path], update_index: UpdateIndex, *,
                 collection: str | None = None, replace: bool = False, default_collection: str = "本单位文件",
                 cache_dir: Path | None = None, progress: Callable[[float, str], None] | None = None,
                 ) -> tuple[list["Incoming"], CorpusChange]:
    """Files and folders of any supported kind into the corpus and the index, as one change (what `qa index add`
    and an upload do): each file is read (OCR for scans) and parsed and given its corpus name
    (qa.corpus.intake.plan_additions), then copied (add_files). A file that cannot be read or named refuses the
    whole change with CorpusChangeError (its cause the IntakeError) before anything is touched. Returns the plan
    and the change. `progress(fraction, message)` hears of each file read, of each page OCR reads (seconds a
    page), and of the index step (the UI's upload shows them)."""
    from qa.corpus.intake import IntakeError, expand, plan_additions  # noqa: PLC0415 - parsing stack only when adding

    def plan_of(files: list[Path], ocr: OcrEngine | None = None) -> list["Incoming"]:
        return plan_additions(files, Path(corpus_dir), collection, default_collection=default_collection,
                              cache_dir=cache_dir, ocr=ocr)

    with build_lock(index_dir):
        try:
            files = expand(list(paths))
            if not progress or not files:
                plan = plan_of(list(paths))
            else:
                plan, ocr = [], _ReportingOcr()
                for i, path in enumerate(files):  # one at a time, so that progress hears of each
                    step, base, span = f"读取 {path.name}（{i + 1}/{len(files)}）", 0.8 * i / len(files), 0.8 / len(files)
                    progress(base, step)
                    ocr.pages = 0
                    ocr.on_page = lambda n, base=base, span=span, step=step: progress(
                        base + span * (1 - 0.8 ** n), f"{step}：文字识别第 {n} 页")
                    plan.extend(plan_of([path], ocr))
                names = [item.name for item in plan]
                if dups := sorted({n for n in names if names.count(n) > 1}):
                    raise IntakeError(f"several files would take the same corpus name: {', '.join(dups)}")
        except IntakeError as exc:
            raise CorpusChangeError(str(exc)) from exc
        if progress:
            progress(0.8, "写入索引…")
        change = add_files(index_dir, corpus_dir, [(item.src, item.name) for item in plan], update_index,
                           replace=replace, supersedes=[n for item in plan for n in item.supersedes])
    return plan, change


def _check_name(name: str) -> None:
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts or parts[0] == REMOVED_DIR \
            or any(p.startswith(".") for p in parts):
        raise CorpusChangeError(f"{name!r} is not a corpus name (a path inside the corpus dir, not in {REMOVED_DIR}/)")


def _removed_target(corpus_dir: Path, name: str) -> Path:
    target = corpus_dir / REMOVED_DIR / name
    if target.exists():  # removed before, re-added since: keep both copies
        target = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}")
    return target


def remove_files(index_dir: Path, corpus_dir: Path, names: Sequence[str], update_index: UpdateIndex) -> CorpusChange:
    """Move corpus files (names relative to the corpus dir) to corpus/removed/<name> and take their chunks out
    of the index."""
    corpus_dir = Path(corpus_dir)
    change = CorpusChange()
    with build_lock(index_dir):
        paths = []
        for name in names:
            _check_name(name)
            path = corpus_dir / name
            if not path.is_file():
                raise CorpusChangeError(f"no {name} in {corpus_dir}")
            paths.append(path)
        change.removed = [p.relative_to(corpus_dir).as_posix() for p in paths]

        def moves(undo: _Undo) -> None:
            for path, name in zip(paths, change.removed):
                undo.move(path, _removed_target(corpus_dir, name))

        return _apply(index_dir, corpus_dir, change, moves, update_index)


class _ReportingOcr(OcrEngine):
    """The OCR engine, telling `on_page(n)` before it reads the n-th page (or image) of the current file."""

    def __init__(self) -> None:
        super().__init__()
        self.on_page: Callable[[int], None] | None = None
        self.pages = 0

    def lines(self, image) -> list[str]:
        self.pages += 1
        if self.on_page:
            self.on_page(self.pages)
        return super().lines(image)
