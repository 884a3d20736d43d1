"""HTML for the UI's sources panel and text for its chat messages (pure functions of AnswerResult dicts).

Every piece of corpus text is HTML-escaped here: the panel is rendered unsanitised.
"""
from __future__ import annotations

import html
from collections.abc import Callable

from qa.models import issue_name
from qa.ui.roster import roster_lines

NOT_FOUND = "未找到"
PANEL_HINT = "<div class='qa-empty'>提问后，这里显示回答所引用的公报原文。点击回答中的 [n] 可查看对应出处。</div>"
MAX_SECTION_PARAGRAPHS = 40


def loading_html(phase: str, seconds: float, error: str | None = None) -> str:
    """The page's status line while the index loads (empty once it is ready)."""
    if phase == "ready":
        return ""
    if phase == "failed":
        return ("<div class='qa-loading qa-load-failed' role='alert'><b>索引加载失败</b>，问答暂不可用，请联系管理员。"
                f"<div class='qa-muted'>{html.escape(error or '')}</div></div>")
    doing = ("正在从公报文件建立索引（首次启动，需要几分钟）" if phase == "building"
             else "正在载入索引和模型")
    return (f"<div class='qa-loading' role='status' data-phase='{phase}'>"
            f"<div class='qa-load-line'><b>{doing}…</b> 已用 {seconds:.0f} 秒</div>"
            "<div class='qa-load-bar' role='progressbar' aria-label='加载进度' aria-busy='true'><span></span></div>"
            "<div class='qa-muted'>加载完成后本页会自动更新，无需刷新。</div></div>")


def issue_label(issue: str) -> str:
    """'2022-03' -> '2022年第3期' (the gazette's own way of naming an issue); anything else as it is."""
    return issue_name(issue) or (issue or "")


def answer_message(result: dict) -> str:
    """The assistant's chat message: plain text with [n] markers (the browser makes them clickable)."""
    notice = f"\n\n（{result['notice']}）" if result.get("notice") else ""
    if not result.get("answered"):
        # A plain "not found" first, then the chain's own wording (it may say why, e.g. a year not in the gazette).
        text = (result.get("answer") or "").strip() or "公报中没有找到能回答这个问题的内容。"
        related = "\n\n右侧列出了相关段落，供参考。" if result.get("related") else ""
        return f"{NOT_FOUND}答案。\n{text}{related}{notice}"
    return roster_lines(result.get("answer") or "") + notice


def _squash_map(text: str) -> tuple[str, list[int]]:
    """text without whitespace, and for each kept char its index in `text`."""
    kept = [(i, ch) for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


def highlight(text: str, sentence: str) -> str:
    """Escaped `text` with `sentence` wrapped in <mark> (matched ignoring whitespace: PDF line breaks)."""
    sentence = (sentence or "").strip()
    if sentence:
        start = text.find(sentence)
        if start >= 0:
            end = start + len(sentence)
        else:
            flat, pos = _squash_map(text)
            flat_sentence, _ = _squash_map(sentence)
            k = flat.find(flat_sentence) if flat_sentence else -1
            start, end = (pos[k], pos[k + len(flat_sentence) - 1] + 1) if k >= 0 else (-1, -1)
        if start >= 0:
            return (html.escape(text[:start]) + "<mark>" + html.escape(text[start:end]) + "</mark>"
                    + html.escape(text[end:]))
    return html.escape(text)


def location(hit: dict) -> str:
    """Where a passage is in its file: 第3页第5–9行 for a PDF or scan (lines on the page), else 第40–46行."""
    if hit.get("page_start"):
        ps, pe = hit["page_start"], hit.get("page_end") or hit["page_start"]
        ls, le = hit.get("page_line_start"), hit.get("page_line_end")
        if pe == ps:
            return f"第{ps}页第{ls}–{le}行"
        return f"第{ps}页第{ls}行–第{pe}页第{le}行"
    return f"第{hit.get('line_start')}–{hit.get('line_end')}行"


def _meta(hit: dict) -> str:
    parts = []
    if hit.get("collection"):
        parts.append(f"<span class='qa-collection'>{html.escape(hit['collection'])}</span>")
    if hit.get("doc_number"):
        parts.append(f"<span class='qa-docno'>{html.escape(hit['doc_number'])}</span>")
    if hit.get("issue"):
        parts.append(f"<span class='qa-issue'>{html.escape(issue_label(hit.get('issue', '')))}</span>")
    if hit.get("category"):
        parts.append(html.escape(hit["category"]))
    parts.append(f"<span class='qa-loc'>{html.escape(hit.get('source_file', ''))} {location(hit)}</span>")
    return " · ".join(parts)


def _section_path(hit: dict) -> str:
    path = hit.get("section_path") or []
    if not path:
        return ""
    return "<div class='qa-path'>章节：" + " › ".join(html.escape(p) for p in path) + "</div>"


def section_paragraphs(doc: dict, hit: dict) -> list[dict]:
    """The paragraphs of the cited passage's section (all of the document when it has no section),
    at most MAX_SECTION_PARAGRAPHS around the cited lines."""
    path = list(hit.get("section_path") or [])
    paras = [p for p in doc.get("paragraphs", []) if list(p.get("section_path") or [])[:len(path)] == path]
    if not paras:
        paras = list(doc.get("paragraphs", []))
    if len(paras) > MAX_SECTION_PARAGRAPHS:
        first = next((i for i, p in enumerate(paras) if p["line_end"] >= hit.get("line_start", 0)), 0)
        lo = max(0, min(first - MAX_SECTION_PARAGRAPHS // 4, len(paras) - MAX_SECTION_PARAGRAPHS))
        paras = paras[lo:lo + MAX_SECTION_PARAGRAPHS]
    return paras


def _section_html(doc: dict | None, hit: dict, sentence: str) -> str:
    if not doc:
        return "<div class='qa-muted'>原文不可用。</div>"
    rows = []
    for p in section_paragraphs(doc, hit):
        cited = p["line_start"] <= hit.get("line_end", -1) and p["line_end"] >= hit.get("line_start", 0)
        text = roster_lines(p["text"])
        body = highlight(text, sentence) if cited else html.escape(text)
        cls = "qa-para qa-cited" if cited else "qa-para"
        where = f"第{p['page']}页第{p['page_line']}行起" if p.get("page") else f"第{p['line_start']}–{p['line_end']}行"
        rows.append(f"<p class='{cls}' title='{where}'>{body}</p>")
    title = f"{html.escape(doc.get('title', ''))}（{html.escape(doc.get('date', '') or '')}）"
    return f"<div class='qa-doc-title'>{title}</div>" + "".join(rows)


def _source_card(hit: dict, n: int | None, selected: bool, doc: dict | None, sentence: str) -> str:
    label = f"[{n}]" if n is not None else "·"
    anchor = f" id='qa-src-{n}'" if n is not None else ""
    cls = "qa-src qa-selected" if selected else "qa-src"
    return (
        f"<div class='{cls}'{anchor} data-n='{n if n is not None else ''}'>"
        f"<div class='qa-src-head'><span class='qa-src-n'>{label}</span> "
        f"<span class='qa-title'>{html.escape(hit.get('document_title', ''))}</span></div>"
        f"<div class='qa-meta'>{_meta(hit)}</div>{_section_path(hit)}"
        f"<blockquote class='qa-cite'>{highlight(roster_lines(hit.get('cite_text', '')), sentence)}</blockquote>"
        f"<details class='qa-section'><summary>展开整节原文</summary>"
        f"<div class='qa-section-body'>{_section_html(doc, hit, sentence)}</div></details></div>"
    )


def sources_html(result: dict | None, selected: int | None = None,
                 document: Callable[[str], dict | None] | None = None) -> str:
    """The sources panel for one answer: its citations, or the related passages when nothing was found."""
    if not result:
        return PANEL_HINT
    doc_of = document or (lambda _key: None)
    question = html.escape(result.get("question", ""))
    head = f"<div class='qa-q'>问题：{question}</div>"
    if result.get("answered") and result.get("citations"):
        cards = [_source_card(c, c["n"], c["n"] == selected, doc_of(c["doc_key"]), c.get("sentence", ""))
                 for c in result["citations"]]
        return f"<div class='qa-sources'>{head}<div class='qa-h'>出处</div>{''.join(cards)}</div>"
    related = result.get("related") or []
    if not related:
        body = "<div class='qa-muted'>没有相关段落。</div>"
    else:
        body = "".join(_source_card(h, None, False, doc_of(h["doc_key"]), "") for h in related)
    return (f"<div class='qa-sources qa-notfound'>{head}<div class='qa-h'>{NOT_FOUND}答案 · 相关段落</div>"
            f"{body}</div>")
