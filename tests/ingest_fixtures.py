"""Files the ingest tests make: a text PDF (fpdf2 with Debian's CJK font), a scanned-style PDF (pages rendered
to images, no text layer), a Word file, a saved web page, Markdown, plain text and a PNG — documents of a
made-up government (青岚市), in layouts unlike the bundled gazette's."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def cjk_font() -> Path:
    """Debian's WenQuanYi font (`make browser` installs fonts-wqy-microhei)."""
    for p in FONT_CANDIDATES:
        if Path(p).is_file():
            return Path(p)
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}", "WenQuanYi Micro Hei"], capture_output=True, text=True).stdout
        if out and "wqy" in out.lower() and Path(out).is_file():
            return Path(out)
    pytest.skip("no CJK font: run `make browser` (installs fonts-wqy-microhei)")


# ---- the documents (text as lines; pages split with None) ----

GREENING = [  # gazette-style order: issuer, title, number; two pages
    "青岚市人民政府办公室",
    "关于加强城市绿化管理的通知",
    "青政办发〔2024〕7号",
    "各区人民政府，市直各单位：",
    "为改善城市生态环境，经市人民政府同意，现就加强城市绿化管理通知如下。",
    "一、总体要求",
    "到2026年，全市建成区绿化覆盖率达到45%，人均公园绿地面积达到14平方米。",
    "二、工作措施",
    "（一）严格绿线管理。城市绿线一经批准，任何单位不得擅自调整。",
    None,
    "（二）推进口袋公园建设。每年新建口袋公园不少于20个，由市住房和城乡建设局牵头。",
    "三、监督考核",
    "市园林绿化中心每季度通报各区绿化工作进展。",
    "青岚市人民政府办公室",
    "2024年3月15日",
    "（此件公开发布）",
]

AIR = [  # scanned: red-header style, number above the title
    "青岚市生态环境局文件",
    "青环发〔2024〕12号",
    "关于开展大气污染防治专项检查的通知",
    "各区生态环境分局：",
    "一、检查时间",
    "专项检查自2024年5月6日起至6月28日止。",
    "二、检查重点",
    "重点检查餐饮油烟净化设施和建筑工地扬尘防控。",
    "青岚市生态环境局",
    "2024年4月22日",
]

LIBRARY = {  # Word: red header, 章/条 numbering, a roster table, Chinese-numeral date
    "header": "青岚市文化和旅游局文件",
    "number": "青文旅发〔2024〕5号",
    "title": "关于印发青岚市公共图书馆开放服务规定的通知",
    "addressee": "各区文化和旅游局：",
    "body": [
        ("h", "第一章 总则"),
        ("p", "第一条 为规范公共图书馆开放服务，制定本规定。"),
        ("h", "第二章 开放时间"),
        ("p", "第二条 市图书馆每周开放时间不少于72小时，周一上午闭馆整理。"),
        ("p", "第三条 少年儿童阅览室在寒暑假期间延长开放至晚上八点。"),
        ("p", "为做好开放服务工作，成立图书馆开放服务工作领导小组，组成人员如下："),
        ("t", [["组长", "林晓舟", "市文化和旅游局局长"], ["副组长", "沈青禾", "市图书馆馆长"]]),
    ],
    "signature": "青岚市文化和旅游局",
    "date": "二〇二四年二月二十日",
}

WATER_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>关于做好城市节约用水工作的通知 - 青岚市人民政府门户网站</title></head>
<body>
<header><div class="logo">青岚市人民政府门户网站</div></header>
<nav><a href="/">首页</a> <a href="/zwgk">政务公开</a> <a href="/bsfw">办事服务</a> <a href="/hdjl">互动交流</a></nav>
<div class="main-content">
  <h1>关于做好城市节约用水工作的通知</h1>
  <p>青水务发〔2024〕9号</p>
  <p>各区水务局，市直各单位：</p>
  <p>1. 阶梯水价</p>
  <p>居民生活用水实行阶梯水价，第一阶梯年用水量为180立方米。</p>
  <p>2. 节水器具</p>
  <p>（1）新建住宅必须安装节水型器具。</p>
  <p>（2）公共机构节水器具普及率达到100%。</p>
  <p>青岚市水务局</p>
  <p>2024年6月3日</p>
</div>
<footer>版权所有：青岚市人民政府办公室 地址：青岚市政府路1号</footer>
</body></html>
"""

DATA_MD = """# 青岚市公共数据资源管理办法

青政规〔2024〕2号

## 第一章 总则

第一条 为加强公共数据资源管理，促进数据共享开放，制定本办法。

## 第二章 共享与开放

第二条 公共数据以共享为原则，不共享为例外。

第三条 公共数据开放目录每年更新一次，由市大数据中心发布。

青岚市人民政府

2024年1月10日
"""

MEMO_TXT = """今天下午三点在三楼会议室召开安全生产例会，请各科室负责人准时参加。
会议将通报第二季度消防检查情况。
"""

STAFF_PNG = ["青岚市人民政府", "关于任免工作人员的通知", "青政任〔2024〕3号", "经市人民政府研究决定，任命：",
             "周启明为青岚市水务局副局长；", "2024年7月1日"]


def pages(lines: list[str | None]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for ln in lines:
        if ln is None:
            out.append([])
        else:
            out[-1].append(ln)
    return out


def printed_lines(text: str) -> list[str]:
    """A gazette text file's lines as a PDF would print them: table markup rows (---|---) are not printed."""
    return [" " if re.fullmatch(r"[\s|:\-]*", ln) else ln for ln in text.split("\n")]


def make_text_pdf(path: Path, lines: list[str | None], encrypt: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("cjk", fname=str(cjk_font()))
    pdf.set_font("cjk", size=13)
    pdf.set_auto_page_break(True, margin=15)  # long text flows onto more pages; None in `lines` forces one
    for page in pages(lines):
        pdf.add_page()
        for ln in page:
            pdf.multi_cell(0, 9, ln.replace("\t", "    ") or " ", new_x="LMARGIN", new_y="NEXT")
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password=encrypt)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, lines: list[str | None], scale: float = 2.0) -> Path:
    """Pages rendered to images and saved as an image-only PDF: no text layer, like a scanner's output."""
    import pypdfium2 as pdfium

    text_pdf = make_text_pdf(path.with_suffix(".textlayer.pdf"), lines)
    pdf = pdfium.PdfDocument(str(text_pdf))
    images = [pdf[i].render(scale=scale).to_pil().convert("RGB") for i in range(len(pdf))]
    pdf.close()
    text_pdf.unlink()
    images[0].save(path, "PDF", resolution=72 * scale, save_all=True, append_images=images[1:])
    return path


def make_png(path: Path, lines: list[str]) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(cjk_font()), 28)
    img = Image.new("RGB", (760, 70 + 52 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for n, ln in enumerate(lines):
        draw.text((40, 35 + 52 * n), ln, fill="black", font=font)
    img.save(path, format="PNG")
    return path


def make_docx(path: Path, spec: dict = LIBRARY) -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph(spec["header"])
    d.add_paragraph(spec["number"])
    d.add_paragraph(spec["title"], style="Title")
    d.add_paragraph(spec["addressee"])
    for kind, content in spec["body"]:
        if kind == "h":
            d.add_heading(content, level=1)
        elif kind == "p":
            d.add_paragraph(content)
        else:
            table = d.add_table(rows=0, cols=len(content[0]))
            for row in content:
                cells = table.add_row().cells
                for c, text in zip(cells, row):
                    c.text = text
    d.add_paragraph(spec["signature"])
    d.add_paragraph(spec["date"])
    d.save(str(path))
    return path


def make_all(folder: Path, ocr: bool = True) -> dict[str, Path]:
    """Every kind of file, by a short name."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "pdf": make_text_pdf(folder / "绿化通知.pdf", GREENING),
        "docx": make_docx(folder / "图书馆规定.docx"),
        "html": folder / "节水通知.html",
        "md": folder / "数据管理办法.md",
        "txt": folder / "会议通知.txt",
    }
    files["html"].write_text(WATER_HTML, encoding="utf-8")
    files["md"].write_text(DATA_MD, encoding="utf-8")
    files["txt"].write_text(MEMO_TXT, encoding="utf-8")
    if ocr:
        files["scan"] = make_scanned_pdf(folder / "大气检查扫描件.pdf", AIR)
        files["png"] = make_png(folder / "任免通知.png", STAFF_PNG)
    return files

QINGLAN_GAZETTE = [  # another city's gazette, its own cover and TOC layout, as a PDF
    "青岚市人民政府公报",
    "2024年第2期（总第38期）",
    "青岚市人民政府办公室编印",
    "2024年4月30日出版",
    "目　录",
    "【市政府文件】",
    "青岚市人民政府关于公布2024年重点建设项目的通知（青政发〔2024〕4号）……（2）",
    "青岚市人民政府关于调整最低工资标准的通知（青政发〔2024〕6号）……（3）",
    "【市政府办公室文件】",
    "青岚市人民政府办公室关于成立森林防灭火指挥部的通知（青政办发〔2024〕11号）……（4）",
    None,
    "青岚市人民政府",
    "关于公布2024年重点建设项目的通知",
    "青政发〔2024〕4号",
    "各区人民政府，市直各单位：",
    "2024年全市安排重点建设项目120个，总投资860亿元。",
    "青岚市人民政府",
    "2024年2月1日",
    "（此件公开发布）",
    "青岚市人民政府",
    "关于调整最低工资标准的通知",
    "青政发〔2024〕6号",
    "各区人民政府，市直各单位：",
    "自2024年5月1日起，全市月最低工资标准调整为2100元，小时最低工资标准调整为21元。",
    "青岚市人民政府",
    "2024年3月8日",
    "（此件公开发布）",
    None,
    "青岚市人民政府办公室",
    "关于成立森林防灭火指挥部的通知",
    "青政办发〔2024〕11号",
    "各区人民政府，市直各单位：",
    "为加强森林防灭火工作，决定成立青岚市森林防灭火指挥部，组成人员如下：",
    "总指挥：韩立新　市长",
    "副总指挥：许明远　副市长",
    "青岚市人民政府办公室",
    "2024年3月20日",
    "（此件公开发布）",
]
