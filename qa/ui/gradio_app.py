"""The Gradio chat UI (Chinese by default), mounted by the API app at /ui.

It calls the same loaded service as the API (through the app's ServiceHolder) and stores 👍/👎 in
the same feedback store. [n] markers in answers are made clickable in the browser (ASSETS_JS); a
click selects that answer and source in the sources panel through a hidden textbox. While the index
loads, a timer polls the holder's load state and the page fills itself in when it is ready.
"""
from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr

from qa.api.feedback import FeedbackStorageFull, FeedbackStore, FeedbackUnavailable
from qa.api.schemas import control_character
from qa.api.state import NotReady, ServiceHolder
from qa.conversation import MAX_TURNS
from qa.ui.admin import AdminUI
from qa.ui.render import PANEL_HINT, answer_message, issue_label, loading_html, sources_html

log = logging.getLogger("qa.ui")

TITLE = "阳泉市政府公报问答"
ALL = "全部"
NO_COLLECTION = "（未归类）"  # files outside any collection (single documents at the corpus root)
EXAMPLES = [
    "共享单车用户需要满多少岁？",
    "阳政办发〔2022〕34号是什么文件？",
    "Who heads the geological disaster prevention group in 2022?",
    "阳泉市草地贪夜蛾防控领导小组的组长和副组长分别是谁？",
    "龙华口调水工程总投资是多少亿元？",
]
# The last example shows a refusal (the gazette gives no total); its button says so.
EXAMPLE_LABELS = [*EXAMPLES[:-1], f"{EXAMPLES[-1]}（示例：公报中没有答案）"]
WARNING = "提示"  # the toast's title (Gradio's own says "Warning")
LOAD_POLL_S = 1.0
_ASSETS = Path(__file__).parent / "assets"


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


class GazetteUI:
    def __init__(self, holder: ServiceHolder, feedback: FeedbackStore, max_question_chars: int = 2000,
                 default_top_k: int = 5) -> None:
        self.holder = holder
        self.feedback = feedback
        self.max_question_chars = max_question_chars
        self.default_top_k = default_top_k
        self._document = lru_cache(maxsize=256)(self._load_document)
        self.admin = AdminUI(holder)

    # ---- service access ----
    def _load_document(self, doc_key: str) -> dict | None:
        try:
            return self.holder.get().document(doc_key)
        except NotReady:
            return None

    def _sources(self, result: dict | None, selected: int | None = None) -> str:
        return sources_html(result, selected, self._document)

    @staticmethod
    def _filters(year: str | None, issue: str | None, category: str | None, collection: str | None = None) -> dict | None:
        f: dict[str, Any] = {}
        if collection and collection != ALL:
            f["collection"] = "" if collection == NO_COLLECTION else collection
        if year and year != ALL:
            f["year"] = int(year)
        if issue and issue != ALL:
            f["issue"] = issue.split(" ")[0]
        if category and category != ALL:
            f["category"] = category
        return f or None

    def load_status(self):
        """The filters, the status line and the files table when the page loads, then every LOAD_POLL_S while
        the index loads: the page fills itself in when loading ends (the timer stops then)."""
        state = self.holder.load_state()
        if state.phase != "ready":
            return (gr.update(), gr.update(), gr.update(), gr.update(), loading_html(state.phase, state.seconds, state.error),
                    gr.update(), gr.Timer(active=state.phase != "failed"))
        return (*self.filter_choices(), self.admin.files_table(), gr.Timer(active=False))

    def filter_choices(self):
        """Dropdown choices from the loaded index, and the status line."""
        try:
            issues = self.holder.get().issues()
            collections = [c["name"] or NO_COLLECTION for c in self.holder.get().collections()]
        except NotReady:
            state = self.holder.load_state()
            return gr.update(), gr.update(), gr.update(), gr.update(), loading_html(state.phase, state.seconds, state.error)
        keys = sorted({i["issue"] for i in issues})
        years = sorted({k[:4] for k in keys})
        cats = sorted({d["category"] for i in issues for d in i["documents"] if d.get("category")})
        return (gr.update(choices=[ALL, *years], value=ALL),
                gr.update(choices=[ALL, *[f"{k} {issue_label(k)}" for k in keys]], value=ALL),
                gr.update(choices=[ALL, *cats], value=ALL),
                gr.update(choices=[ALL, *collections], value=ALL), "")

    # ---- events ----
    def respond(self, question: str, history: list, turns: list, year, issue, category, collection=None):
        question = (question or "").strip()
        if not question:
            gr.Warning("请输入问题。", title=WARNING)
            yield gr.update(), history, turns, gr.update(), gr.update()
            return
        if len(question) > self.max_question_chars:
            gr.Warning(f"问题太长（{len(question)} 字），上限 {self.max_question_chars} 字。", title=WARNING)
            yield gr.update(), history, turns, gr.update(), gr.update()
            return
        if control_character(question):
            gr.Warning(f"问题含有控制字符（{control_character(question)}），请删除后再试。", title=WARNING)
            yield gr.update(), history, turns, gr.update(), gr.update()
            return
        history = [*history, {"role": "user", "content": question}]
        yield "", [*history, {"role": "assistant", "content": "正在查找…"}], turns, gr.update(), gr.update()
        try:
            service = self.holder.get()
            # Earlier answers of this chat resolve a follow-up (这个文件的文号是什么？ 副组长呢？).
            context = [service.turn_of(t) for t in turns[-MAX_TURNS:]]
            result = service.ask(question, top_k=self.default_top_k, filters=self._filters(year, issue, category, collection),
                                 history=context)
            data = result.to_dict()
        except NotReady:
            data = None
            message = "索引正在加载，请稍候再试。"
        except Exception:  # noqa: BLE001 - the UI shows a message, the log keeps the trace
            log.exception("ask failed in the UI")
            data = None
            message = "出错了，请稍后再试。"
        if data is None:
            yield "", [*history, {"role": "assistant", "content": message}], turns, gr.update(), gr.update()
            return
        turns = [*turns, data]
        history = [*history, {"role": "assistant", "content": understood(data) + answer_message(data)}]
        first = data["citations"][0]["n"] if data.get("citations") else None
        yield "", history, turns, self._sources(data, first), len(turns) - 1

    def select_message(self, turns: list, evt: gr.SelectData):
        turn = self._turn_of(evt.index, turns)
        if turn is None:
            return gr.update(), gr.update()
        data = turns[turn]
        first = data["citations"][0]["n"] if data.get("citations") else None
        return self._sources(data, first), turn

    def select_citation(self, ref: str, turns: list):
        """ref = "<message index>:<n>:<nonce>", written by the page's script on a [n] click."""
        try:
            msg_index, n = (int(x) for x in ref.split(":")[:2])
        except (ValueError, AttributeError):
            return gr.update(), gr.update()
        turn = self._turn_of(msg_index, turns)
        if turn is None:
            return gr.update(), gr.update()
        return self._sources(turns[turn], n), turn

    @staticmethod
    def _turn_of(index: Any, turns: list) -> int | None:
        # Every turn is two messages: the question, then the answer.
        i = index[0] if isinstance(index, (list, tuple)) else index
        if not isinstance(i, int):
            return None
        turn = i // 2
        return turn if 0 <= turn < len(turns) else None

    def _store(self, turn: int | None, turns: list, rating: int, comment: str) -> str:
        if turn is None or not (0 <= turn < len(turns)):
            return "请先选择一个回答。"
        if control_character(comment or ""):
            return f"评论含有控制字符（{control_character(comment)}），未记录，请删除后再试。"
        data = turns[turn]
        try:
            # A follow-up is stored with the question it was answered as: "副组长呢？" alone tells a reviewer nothing.
            self.feedback.add(data["question"] + understood(data).strip(), data.get("answer_id", ""), rating,
                              (comment or "").strip(), data.get("answer", ""), source="ui")
        except FeedbackStorageFull:
            return "反馈未保存：服务器存储空间已满，请联系管理员。"
        except FeedbackUnavailable:
            return "反馈未保存：反馈数据库暂时不可用，请稍后再试。"
        return "已记录反馈，谢谢！" + ("（含评论）" if (comment or "").strip() else "")

    def like(self, turns: list, comment: str, evt: gr.LikeData):
        if evt.liked is None or evt.liked == "":  # un-liking: nothing to store
            return gr.update(), gr.update()
        rating = 1 if evt.liked is True or evt.liked == "Like" else -1
        return self._store(self._turn_of(evt.index, turns), turns, rating, comment), ""

    def rate_selected(self, rating: int):
        def handler(turn, turns, comment):
            return self._store(turn, turns, rating, comment), ""
        return handler

    # ---- layout ----
    def build(self) -> gr.Blocks:
        with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
            turns = gr.State([])
            selected = gr.State(None)
            gr.HTML(f"<div class='qa-header'><h1>{TITLE}</h1>"
                    "<p>根据阳泉市人民政府公报回答问题，每个回答都注明出处（期号、文号、章节、原文）。"
                    "也可以用英文提问（English questions work too）。</p></div>")
            status = gr.HTML("", elem_id="qa-status")
            load_timer = gr.Timer(LOAD_POLL_S, active=False)
            with gr.Tabs(elem_id="qa-tabs"):
                with gr.Tab("问答", id="chat", elem_id="qa-tab-chat"):
                    with gr.Row(equal_height=False):
                        with gr.Column(scale=5, min_width=380):
                            chatbot = gr.Chatbot(label="对话", elem_id="qa-chat", height=560, render_markdown=False,
                                                 buttons=["copy"], feedback_options=("Like", "Dislike"),
                                                 latex_delimiters=[], placeholder="可以问公报里的事实、数字、期限、任免、文号……")
                            with gr.Row():
                                question = gr.Textbox(placeholder="请输入问题…", show_label=False, lines=1, max_lines=4,
                                                      scale=5, elem_id="qa-question", autofocus=True, submit_btn=False)
                                ask_btn = gr.Button("提问", variant="primary", scale=1, elem_id="qa-ask", min_width=80)
                            with gr.Accordion("筛选（文件集 / 年份 / 期号 / 类别）", open=False, elem_id="qa-filters"):
                                collection = gr.Dropdown([ALL], value=ALL, label="文件集", elem_id="qa-collection")
                                with gr.Row():
                                    year = gr.Dropdown([ALL], value=ALL, label="年份", elem_id="qa-year")
                                    issue = gr.Dropdown([ALL], value=ALL, label="期号", elem_id="qa-issue")
                                    category = gr.Dropdown([ALL], value=ALL, label="类别", elem_id="qa-category")
                            gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question], label="示例问题",
                                        example_labels=EXAMPLE_LABELS, elem_id="qa-examples")
                            clear = gr.Button("清空对话", size="sm", variant="secondary")
                        with gr.Column(scale=4, min_width=320):
                            sources = gr.HTML(PANEL_HINT, label="出处", elem_id="qa-sources")
                            with gr.Group():
                                comment = gr.Textbox(placeholder="对所选回答的意见（可选）", show_label=False, lines=1,
                                                     elem_id="qa-comment")
                                with gr.Row():
                                    up = gr.Button("👍 有帮助", size="sm", elem_id="qa-up")
                                    down = gr.Button("👎 没帮助", size="sm", elem_id="qa-down")
                            feedback_status = gr.Markdown("", elem_id="qa-feedback-status")
                with gr.Tab("文档管理", id="admin", elem_id="qa-tab-admin"):
                    admin_table, corpus_changed = self.admin.build_tab()
            # Written by the page script when a [n] marker is clicked; hidden but present in the DOM.
            cite_ref = gr.Textbox(visible="hidden", elem_id="qa-cite-ref")

            outputs = [question, chatbot, turns, sources, selected]
            inputs = [question, chatbot, turns, year, issue, category, collection]
            question.submit(self.respond, inputs, outputs, concurrency_limit=4)
            ask_btn.click(self.respond, inputs, outputs, concurrency_limit=4)
            chatbot.select(self.select_message, [turns], [sources, selected])
            cite_ref.change(self.select_citation, [cite_ref, turns], [sources, selected]).then(
                None, None, None, js="() => { const el = document.querySelector('#qa-sources .qa-selected');"
                                     " if (el) el.scrollIntoView({behavior: 'smooth', block: 'nearest'}); }")
            chatbot.like(self.like, [turns, comment], [feedback_status, comment])
            up.click(self.rate_selected(1), [selected, turns, comment], [feedback_status, comment])
            down.click(self.rate_selected(-1), [selected, turns, comment], [feedback_status, comment])
            clear.click(lambda: ([], [], PANEL_HINT, None, ""), None, [chatbot, turns, sources, selected, feedback_status])
            # The chatbot's own 🗑 must reset the turns too, or message indexes would point at old answers.
            chatbot.clear(lambda: ([], PANEL_HINT, None, ""), None, [turns, sources, selected, feedback_status])
            loaded = [year, issue, category, collection, status, admin_table, load_timer]
            demo.load(self.load_status, None, loaded)
            load_timer.tick(self.load_status, None, loaded)
            for event in corpus_changed:  # new collections, issues and categories show in the chat's filters
                event.then(self.filter_choices, None, [year, issue, category, collection, status])
        demo.queue(default_concurrency_limit=4)
        return demo


def understood(data: dict) -> str:
    """The standalone question a follow-up was answered as, shown above the answer so staff can check it."""
    rewritten = data.get("rewritten_question")
    return f"（理解为：{rewritten}）\n\n" if rewritten else ""


def ui_auth(api_key: str | None):
    """Gradio login when the server has an API key: any user name, the key as password."""
    if not api_key:
        return None
    return lambda _user, password: secrets.compare_digest((password or "").encode(), api_key.encode())


def mount_ui(app, holder: ServiceHolder, feedback: FeedbackStore, settings, path: str = "/ui"):
    ui = GazetteUI(holder, feedback, settings.max_question_chars, settings.top_k)
    theme = gr.themes.Soft(
        # Local fonts only: the default theme would fetch Google Fonts, and these machines are offline.
        font=["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"],
        font_mono=["ui-monospace", "monospace"],
    )
    return gr.mount_gradio_app(
        app, ui.build(), path=path, auth=ui_auth(settings.api_key),
        auth_message="请输入访问密钥（用户名任意，密码为 API key）" if settings.api_key else None,
        footer_links=["api"], ssr_mode=False, theme=theme, css=_asset("ui.css"), js=_asset("ui.js"),
        show_error=False, mcp_server=False, max_file_size=settings.max_upload_bytes,
    )


def stop_ui_streams(app) -> None:
    """Tell the mounted Gradio apps the server is stopping: their heartbeat streams end instead of keeping
    the shutdown waiting (Gradio sets this event itself only when it runs its own server)."""
    for route in getattr(app, "routes", []):
        event = getattr(getattr(route, "app", None), "stop_event", None)
        if event is not None:
            event.set()
