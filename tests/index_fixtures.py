"""Small stand-ins for the index tests: a toy gazette format with its chunker, and a deterministic
encoder (hashed character n-grams). The index code under test is the real one; these only replace
the parser and the embedding model, so index tests stay fast. Also run as a script by the kill -9
test (`python index_fixtures.py build-forever INDEX CORPUS_A CORPUS_B`)."""
from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.corpus.normalize import normalize_for_search
from qa.models import Chunk


class HashEncoder:
    """Bag of hashed character 1/2-grams, L2-normalised: deterministic, similar texts get similar vectors.
    Records every text it embeds, so tests can count re-embedding."""

    def __init__(self, dim: int = 64, model_name: str = "test/hash-ngrams", delay_s: float = 0.0) -> None:
        self._dim = dim
        self._model_name = model_name
        self.delay_s = delay_s
        self.passages_seen: list[str] = []
        self.passage_calls = 0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model_name(self) -> str:
        return self._model_name

    def _vec(self, text: str) -> np.ndarray:
        t = normalize_for_search(text)
        v = np.zeros(self._dim, np.float32)
        grams = list(t) + [t[i : i + 2] for i in range(len(t) - 1)]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
            v[h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n > 0 else v

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        self.passage_calls += 1
        self.passages_seen.extend(texts)
        if self.delay_s:
            print("embedding", flush=True)  # lets a test kill the process at this exact point
            time.sleep(self.delay_s)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self._dim), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])


# ---- toy gazette: "ISSUE 2022-03" then documents "@@ number | title | category" and one paragraph per line

_PERSON = re.compile(r"([\u4e00-\u9fff]{2,3})为")


def chunk_file(path: Path, corpus_dir: Path | None = None) -> list[Chunk]:
    corpus_dir = corpus_dir or path.parent
    rel = path.relative_to(corpus_dir).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    issue = lines[0].split()[1]
    year = int(issue[:4])
    chunks: list[Chunk] = []
    pos = 0
    head: tuple[str, str, str] = ("", "", "")
    for ln, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.startswith("@@"):
            pos += 1
            number, title, category = (s.strip() for s in line[2:].split("|"))
            head = (number, title, category)
            card = f"{title}\n{number}"
            chunks.append(_chunk(f"{issue}#{pos:02d}:card", card, f"文件：{title}", rel, ln, issue, year, pos, head, "card", ()))
            continue
        norm = normalize_for_search(line)
        persons: tuple[str, ...] = ()
        if "任命" in norm:
            persons = tuple(dict.fromkeys(_PERSON.findall(re.split(r"[:：]", norm, maxsplit=1)[-1])))
        elif "组长" in norm:
            persons = tuple(re.findall(r"组长[:：]([\u4e00-\u9fff]{2,3})", norm))
        cid = f"{issue}#{pos:02d}:{hashlib.sha1(norm.encode()).hexdigest()[:10]}"
        kind = "personnel" if persons else "text"
        chunks.append(_chunk(cid, line, f"{head[1]}\n{line}", rel, ln, issue, year, pos, head, kind, persons))
    return chunks


def _chunk(cid, text, embed, rel, ln, issue, year, pos, head, kind, persons) -> Chunk:
    return Chunk(
        chunk_id=cid, text=text, embed_text=embed, search_text=normalize_for_search(text), source_file=rel,
        line_start=ln, line_end=ln, issue=issue, year=year, doc_key=f"{issue}#{pos:02d}", doc_number=head[0],
        doc_title=head[1], category=head[2], chunk_type=kind, persons=persons,
    )


ISSUES: dict[str, str] = {
    "2022-03.txt": """ISSUE 2022-03
@@ 阳政办发〔2022〕34号 | 阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见 | 市政府办公室文件
互联网租赁自行车投放总量实行动态调控，运营企业应当在城区设置电子围栏。
各县（区）人民政府要加强对共享单车停放秩序的管理，严禁占用盲道。
运营企业应当在每年3月31日前向市交通运输局报送车辆投放计划。
@@ 阳政办发〔2022〕35号 | 阳泉市人民政府办公室关于印发阳泉市冬季清洁取暖实施方案的通知 | 市政府办公室文件
到2022年底，全市清洁取暖覆盖率达到百分之九十以上。
孟县、平定县要加快推进煤改气和煤改电工程，确保群众温暖过冬。
@@ 阳政任字〔2022〕5号 | 阳泉市人民政府关于程建军等同志任免职务的通知 | 人事任免
经市人民政府常务会议决定，任命：程建军为阳泉市商务局副局长；李晓红为阳泉市教育局局长。
@@ 阳政办发〔2022〕34号 | 阳泉市人民政府办公室关于加强粮食安全生产工作的通知 | 市政府办公室文件
各县区要落实粮食播种面积，稳定粮食产量，严守耕地红线。
""",
    "2021-01.txt": """ISSUE 2021-01
@@ 阳政发〔2021〕3号 | 阳泉市人民政府关于印发阳泉市优化营商环境若干措施的通知 | 政府文件
企业开办时间压缩至一个工作日以内，全面推行电子营业执照。
工程建设项目审批时限压缩至八十个工作日以内。
@@ 阳政任字〔2021〕2号 | 阳泉市人民政府关于武浩等同志任免职务的通知 | 人事任免
经市人民政府常务会议决定，任命：武 浩为阳泉市财政局副局长；程建军为阳泉市发展和改革委员会副主任。
@@ 阳政办函〔2021〕12号 | 阳泉市人民政府办公室关于成立阳泉市森林防火指挥部的通知 | 市政府办公室文件
组长：王伟明（副市长）
森林防火期为每年11月1日至次年5月31日，期间严禁野外用火。
""",
    "2023-06.txt": """ISSUE 2023-06
@@ 阳政办发〔2023〕80号 | 阳泉市人民政府办公室关于印发阳泉市空气质量持续改善行动计划的通知 | 市政府办公室文件
到2025年，全市细颗粒物（PM2.5）平均浓度控制在每立方米三十八微克以下。
重污染天气应急减排清单每年更新一次。
@@ 阳政办发〔2023〕81号 | 阳泉市人民政府办公室关于加快发展养老服务的实施意见 | 市政府办公室文件
每个社区至少建设一处日间照料中心，为老年人提供助餐服务。
""",
}


def write_corpus(corpus_dir: Path, issues: dict[str, str] | None = None) -> Path:
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (issues or ISSUES).items():
        (corpus_dir / name).write_text(text, encoding="utf-8")
    return corpus_dir


def chunker_for(corpus_dir: Path):
    return lambda path: chunk_file(path, corpus_dir)


def _build_forever(index_dir: Path, corpora: list[Path]) -> None:
    """Rebuild the index over and over, alternating corpora, until killed."""
    from qa.index import IndexBuilder
    from qa.index.lexical import JiebaTokenizer

    tokenizer = JiebaTokenizer()  # loaded once, so a build is mostly writing files and swapping dirs
    i = 0
    while True:
        corpus = corpora[i % len(corpora)]
        IndexBuilder(
            index_dir, HashEncoder(), normalizer_version="t", chunk_file=chunker_for(corpus), tokenizer=tokenizer
        ).build(corpus)
        print("built", i, flush=True)
        i += 1


def _build_slow(index_dir: Path, corpus: Path) -> None:
    from qa.index import IndexBuilder

    print("starting", flush=True)
    IndexBuilder(index_dir, HashEncoder(delay_s=60), normalizer_version="t", chunk_file=chunker_for(corpus)).build(corpus)


class GatedEncoder(HashEncoder):
    """Holds its first embedding call until a gate file exists (at most 60 s): the build lock is held, the corpus
    already changed, for exactly as long as a race test needs."""

    def __init__(self, gate: Path) -> None:
        super().__init__()
        self.gate = gate

    def encode_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        print("embedding", flush=True)
        deadline = time.monotonic() + 60
        while not self.gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return super().encode_passages(texts, show_progress)


def _add_gated(index_dir: Path, corpus: Path, src: Path, gate: Path) -> None:
    """`qa index add` of one file through qa.index.manage, its index step held at the gate."""
    from qa.index import IndexBuilder
    from qa.index.manage import add_issue_files

    print("starting", flush=True)
    change = add_issue_files(index_dir, corpus, [(src, src.name)], lambda: IndexBuilder(
        index_dir, GatedEncoder(gate), normalizer_version="t1", chunk_file=chunker_for(corpus)).update(corpus))
    print("added", ",".join(change.added), flush=True)


if __name__ == "__main__":
    cmd, index, *rest = sys.argv[1:]
    if cmd == "build-forever":
        _build_forever(Path(index), [Path(p) for p in rest])
    elif cmd == "build-slow":
        _build_slow(Path(index), Path(rest[0]))
    elif cmd == "add-gated":
        _add_gated(Path(index), Path(rest[0]), Path(rest[1]), Path(rest[2]))
