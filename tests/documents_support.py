"""Files and a small real index for the documents API, hot swap and browser upload tests (a pytest plugin:
`pytest_plugins = ["documents_support"]`).

The documents are made here, by the tests: notices of a made-up county (云溪县) as Markdown, Word and HTML,
in a layout of their own; nothing assumes the bundled gazette. The index is built with the real encoder.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qa.config import Settings

COLLECTION = "云溪县文件"

# Already in the corpus before any upload.
GAS_MD = """# 云溪县人民政府办公室关于加强城镇燃气安全管理的通知

云政办发〔2025〕3号

各乡镇人民政府，县直各单位：

## 一、排查范围

全县所有瓶装液化石油气供应站每月至少检查一次，检查结果报县应急管理局备案。

## 二、责任分工

县住房和城乡建设局负责燃气经营许可的监督检查。

云溪县人民政府办公室

2025年1月10日
"""

# Uploaded by the tests. Each holds one fact a question asks about.
WATER_MD = """# 云溪县人民政府关于实施农村饮水安全巩固工程的通知

云政发〔2025〕11号

各乡镇人民政府：

## 一、建设任务

2025年全县新建农村集中供水工程十八处，总投资三千二百万元，受益人口四万六千人。

## 二、资金管理

工程资金实行专户管理，由县财政局按进度拨付。

云溪县人民政府

2025年3月2日
"""
WATER_Q = "农村集中供水工程总投资多少万元？"
WATER_FACT = "三千二百万元"

FIRE_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>云溪县人民政府关于做好秋季森林防火工作的通知</title></head>
<body><div class="article">
<h1>云溪县人民政府关于做好秋季森林防火工作的通知</h1>
<p>云政发〔2025〕19号</p>
<p>各乡镇人民政府，县直各单位：</p>
<h2>一、防火期</h2>
<p>全县森林防火期自2025年10月1日起至2026年5月31日止，防火期内严禁野外用火。</p>
<h2>二、值班要求</h2>
<p>各乡镇实行二十四小时值班制度，发现火情立即报告县森林防火指挥部。</p>
<p>云溪县人民政府</p>
<p>2025年9月12日</p>
</div></body></html>
"""
FIRE_Q = "森林防火期从什么时候开始？"
FIRE_FACT = "10月1日"

HALL_TITLE = "云溪县政务服务中心关于调整周末办理时间的通知"
HALL_LINES = [
    "云政服发〔2025〕2号",
    "各入驻部门：",
    "一、办理时间",
    "县政务服务中心每周六上午九时至十二时办理不动产登记业务。",
    "二、咨询电话",
    "办理业务前可拨打服务热线咨询所需材料。",
    "云溪县政务服务中心",
    "2025年4月8日",
]
HALL_Q = "政务服务中心周六上午办理什么业务？"
HALL_FACT = "不动产登记"
GAS_Q = "谁负责燃气经营许可的监督检查？"  # answered from the corpus the index starts with
GAS_FACT = "住房和城乡建设局"
GAS_FILE = f"{COLLECTION}/燃气安全管理.md"


def write_docx(path: Path, title: str, lines: list[str]) -> Path:
    import docx  # python-docx

    doc = docx.Document()
    doc.add_heading(title, level=1)
    for line in lines:
        doc.add_paragraph(line)
    doc.save(str(path))
    return path


def write_corpus(corpus: Path) -> Path:
    (corpus / COLLECTION).mkdir(parents=True, exist_ok=True)
    (corpus / COLLECTION / "燃气安全管理.md").write_text(GAS_MD, encoding="utf-8")
    return corpus


def corpus_state(corpus: Path) -> dict[str, str]:
    """Every file under the corpus dir (removed/ included) by relative path -> sha256 of its bytes."""
    return {p.relative_to(corpus).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(corpus.rglob("*")) if p.is_file()}


def index_state(index: Path) -> tuple[str, list[str]]:
    """The manifest's bytes hash and the chunk ids of the index on disk."""
    from qa.index.store import IndexStore

    store = IndexStore.load(index)
    return store.generation, [c.chunk_id for c in store.chunks]


@pytest.fixture(scope="session")
def real_encoder():
    """The encoder a service queries with (settings' default model from the local cache, with the service's
    caches and micro-batcher), loaded once per session."""
    from qa.service import make_cached_encoder, make_encoder

    settings = Settings()
    return make_cached_encoder(settings, make_encoder(settings))


def build_small_index(root: Path, encoder, **settings) -> Settings:
    """A corpus of one made-up notice, indexed with the real encoder; seconds, not minutes."""
    from qa.service import build_index

    s = Settings(corpus_dir=write_corpus(root / "corpus"), index_dir=root / "index", **settings)
    build_index(s, encoder, show_progress=False)
    return s


def small_service(settings: Settings, encoder):
    from qa.index.search import HybridSearcher
    from qa.service import GazetteService

    searcher = HybridSearcher.open(settings, encoder)
    return GazetteService(settings, encoder, searcher)


def encrypted_pdf(path: Path) -> Path:
    """A PDF that opens only with a password (fpdf2's RC4 encryption), with a text layer behind it."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="user-secret")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Notice on forest fire prevention, issued by the county government.")
    pdf.output(str(path))
    return path


SCAN_LINES = ["云溪县人民政府办公室", "关于开展冬季供暖安全检查的通知", "云政办发〔2025〕31号",
              "一、检查时间", "冬季供暖安全检查自2025年11月3日起开展。", "二、检查内容", "重点检查供热锅炉房和换热站。",
              "云溪县人民政府办公室", "2025年10月20日"]
SCAN_Q = "冬季供暖安全检查重点检查什么？"
SCAN_FACT = "供热锅炉房"


def scanned_png(path: Path) -> Path:
    """A page image with no text layer (as a scanner gives), written with Debian's CJK font."""
    from PIL import Image, ImageDraw, ImageFont

    font_file = next((p for p in ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                                  "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc") if Path(p).is_file()), None)
    if font_file is None:
        pytest.skip("no CJK font: run `make browser` (installs fonts-wqy-microhei)")
    font = ImageFont.truetype(font_file, 30)
    image = Image.new("RGB", (1000, 80 + 56 * len(SCAN_LINES)), "white")
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(SCAN_LINES):
        draw.text((60, 40 + 56 * n), line, fill="black", font=font)
    image.save(path)
    return path
