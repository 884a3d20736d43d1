"""The UI's document admin tab (文档管理): upload files into the index, list what it holds, remove a file.

Same path as POST/DELETE /v1/documents (GazetteService.add_files / remove_file, then a hot swap), so what staff
add here is answerable in the chat tab as soon as the upload finishes. Behind the UI login when a key is set.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import gradio as gr

from qa.api.state import NotReady, ServiceHolder

log = logging.getLogger("qa.ui")
HEADERS = ["文件", "集合", "文档数", "段落数"]


def _refusal(exc: Exception) -> str | None:
    """The user-facing reason for a refused change; None for an unexpected error."""
    from qa.corpus.intake import IntakeError  # noqa: PLC0415
    from qa.index.manage import CorpusChangeError, IndexBusyError  # noqa: PLC0415

    if isinstance(exc, IndexBusyError):
        return "另一项索引更新正在进行，请稍后再试。"
    if isinstance(exc, (CorpusChangeError, IntakeError)):
        return f"未添加：{exc}"
    return None


class AdminUI:
    def __init__(self, holder: ServiceHolder) -> None:
        self.holder = holder

    def files_table(self) -> list[list]:
        try:
            chunks = list(self.holder.get().searcher.store.iter_chunks())
        except NotReady:
            return []
        docs: dict[str, set[str]] = defaultdict(set)
        n_chunks: dict[str, int] = defaultdict(int)
        coll: dict[str, str] = {}
        for c in chunks:
            docs[c.source_file].add(c.doc_key)
            n_chunks[c.source_file] += 1
            coll[c.source_file] = getattr(c, "collection", "") or ""
        return [[f, coll[f], len(docs[f]), n_chunks[f]] for f in sorted(docs)]

    def upload(self, files, collection: str, replace: bool, progress=gr.Progress()):
        paths = [Path(f if isinstance(f, str) else f.name) for f in (files or [])]
        if not paths:
            return "请先选择文件。", gr.update()
        try:
            service = self.holder.get()
        except NotReady:
            return "索引正在加载，请稍候再试。", gr.update()
        try:
            plan, change = service.add_files(paths, (collection or "").strip() or None, bool(replace),
                                             lambda frac, msg: progress(frac, desc=msg))
        except Exception as exc:  # noqa: BLE001 - refusals are shown; anything else is logged
            message = _refusal(exc)
            if message is None:
                log.exception("upload failed in the UI")
                message = "出错了，未做任何更改。"
            return message, gr.update()
        progress(0.95, desc="切换到新索引…")
        self.holder.reload_if_changed()
        lines = [f"已添加 {len(change.added)} 个文件" + (f"（替换 {len(change.replaced)} 个）" if change.replaced else "") + "："]
        for item in plan:
            pages = f"，{item.pages} 页" + (f"（OCR {item.ocr_pages} 页）" if item.ocr_pages else "") if item.pages else ""
            missing = f"；未识别：{'、'.join(item.missing)}" if item.missing else ""
            lines.append(f"- `{item.name}`（{item.collection or '默认'}{pages}）《{item.label}》{missing}")
        return "\n".join(lines), self.files_table()

    def remove(self, name: str):
        name = (name or "").strip()
        if not name:
            return "请输入要删除的文件名（见上表）。", gr.update()
        try:
            service = self.holder.get()
            source = service.source_of(name)
            if source is None:
                return f"索引中没有 `{name}`。", gr.update()
            file, n_docs, is_file = source
            if not is_file and n_docs > 1:
                return f"`{name}` 是 `{file}` 中 {n_docs} 份文件之一，只能整个文件删除。", gr.update()
            service.remove_file(file)
        except NotReady:
            return "索引正在加载，请稍候再试。", gr.update()
        except Exception as exc:  # noqa: BLE001
            message = _refusal(exc)
            if message is None:
                log.exception("remove failed in the UI")
                message = "出错了，未做任何更改。"
            return message, gr.update()
        self.holder.reload_if_changed()
        return f"已删除 `{file}`（原文件移至 removed/ 保存）。", self.files_table()

    def build_tab(self):
        """The tab's components and events, inside the caller's gr.Blocks/gr.Tab context. Returns the files table
        (for the page's load event) and the upload and remove events (for the caller to chain on)."""
        gr.Markdown("上传公报或单位文件（PDF、Word .docx、网页 HTML、Markdown、文本、扫描件 PNG/JPEG），"
                    "上传完成后即可在“问答”中提问；扫描件需要文字识别，页数多时较慢。")
        with gr.Row():
            files = gr.File(label="选择文件", file_count="multiple", elem_id="qa-admin-files")
            with gr.Column():
                collection = gr.Textbox(label="集合（可选）", placeholder="如：本单位文件、山西省人民政府公报",
                                        max_lines=1, elem_id="qa-admin-collection")
                replace = gr.Checkbox(label="替换已有的同名文件", value=False, elem_id="qa-admin-replace")
                upload_btn = gr.Button("上传并建立索引", variant="primary", elem_id="qa-admin-upload")
        status = gr.Markdown("", elem_id="qa-admin-status")
        table = gr.Dataframe(headers=HEADERS, value=[], label="索引中的文件", interactive=False,
                             elem_id="qa-admin-table")
        with gr.Row():
            target = gr.Textbox(label="删除文件", placeholder="文件名，如 本单位文件/通知.docx", max_lines=1, scale=4,
                                elem_id="qa-admin-target")
            remove_btn = gr.Button("删除", variant="stop", scale=1, elem_id="qa-admin-remove")
            refresh = gr.Button("刷新列表", scale=1, elem_id="qa-admin-refresh")
        # One corpus change at a time from the UI (the build lock refuses a second one anyway).
        uploaded = upload_btn.click(self.upload, [files, collection, replace], [status, table],
                                    concurrency_limit=1, concurrency_id="qa-admin")
        removed = remove_btn.click(self.remove, [target], [status, table], concurrency_limit=1,
                                   concurrency_id="qa-admin")
        refresh.click(self.files_table, None, [table])
        return table, [uploaded, removed]
