"""Synonym pairs the corpus itself defines (互联网租赁自行车（俗称共享单车）, …（以下简称城市公厕）), read from a
data file (qa/answer/synonyms.tsv) that `python -m qa.answer.synonyms` mines from an index's passages.

A clerk asks with the short or colloquial name (骑共享单车要满几岁？) where the gazette writes the formal
one; the trained decision's features (qa/answer/features.py) count such a pair as the question's words
held. Only what the text defines is listed: nothing is written by hand, nothing read off failures.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

SYNONYMS_PATH = Path(__file__).with_name("synonyms.tsv")

# X（俗称Y） / X（以下简称“Y”） / X（简称Y） / X（又称Y）: the defined name Y, preceded by the run of text it names.
_DEFINITION = re.compile(r"([\u4e00-\u9fff]{2,40})[（(](?:以下)?(?:简称|俗称|又称|也称|统称)[“\"‘]?([\u4e00-\u9fff]{2,12})[”\"’]?[）)]")
_MAX_LONG = 12  # a defined name without its characters in order in the run before it: a run this short is the name


def _named(run: str, short: str) -> str:
    """The part of `run` that `short` names: the shortest ending holding short's characters in order
    (本市城市公共厕所 -> 城市公共厕所 for 城市公厕), else the whole run when it is short (互联网租赁自行车 for 共享单车)."""
    for start in range(len(run) - len(short), -1, -1):
        it = iter(run[start:])
        if all(ch in it for ch in short):
            return run[start:]
    return run if len(run) <= _MAX_LONG else ""


def mine(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(formal name, defined short name) pairs, sorted, each once."""
    pairs = set()
    for text in texts:
        for m in _DEFINITION.finditer(text):
            long = _named(m.group(1), m.group(2))
            if long and long != m.group(2):
                pairs.add((long, m.group(2)))
    return sorted(pairs)


@lru_cache(maxsize=4)
def load_pairs(path: Path | str = SYNONYMS_PATH) -> tuple[tuple[str, str], ...]:
    """The pairs of the data file (a missing file: none)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ()
    out = []
    for line in lines:
        if line and not line.startswith("#"):
            a, _, b = line.partition("\t")
            if a and b:
                out.append((a, b))
    return tuple(out)


def linked(question: str, text: str, pairs: Iterable[tuple[str, str]] | None = None) -> list[str]:
    """The names in `question` (flat) whose defined other name `text` (flat) holds while the question does not."""
    out = []
    for a, b in load_pairs() if pairs is None else pairs:
        for said, other in ((a, b), (b, a)):
            if said in question and other not in question and other in text:
                out.append(said)
    return out


def main(argv: list[str] | None = None) -> None:
    """Write the synonym file from the configured index's passages (QA_INDEX_DIR or --index DIR)."""
    import argparse  # noqa: PLC0415

    from qa.config import get_settings  # noqa: PLC0415
    from qa.index.chunkstore import open_store  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m qa.answer.synonyms", description=main.__doc__)
    parser.add_argument("--index", type=Path, default=None, help="index directory (default: the configured one)")
    parser.add_argument("--out", type=Path, default=SYNONYMS_PATH, help=f"output file (default: {SYNONYMS_PATH})")
    args = parser.parse_args(argv)
    store = open_store(get_settings(), index_dir=args.index)
    pairs = mine(c.text for c in store.iter_chunks())
    header = "# formal name<TAB>name the corpus defines for it (mined by `python -m qa.answer.synonyms`; do not edit)\n"
    args.out.write_text(header + "".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    print(f"{len(pairs)} pairs -> {args.out}")


if __name__ == "__main__":
    main()
