() => {
  window.__qaUi = true;
  // Make the [n] markers of answers clickable. Answers are plain text (so the copy button copies
  // clean text); the markers become links here, in the browser. A click writes
  // "<message index>:<n>:<nonce>" into the hidden #qa-cite-ref textbox; Python then shows that
  // answer's source n in the sources panel.
  const MARK = /\[(\d{1,3})\]/g;
  const hasMark = (s) => { MARK.lastIndex = 0; return MARK.test(s); };

  function linkify(node) {
    const text = node.nodeValue;
    const frag = document.createDocumentFragment();
    let last = 0, m;
    MARK.lastIndex = 0;
    while ((m = MARK.exec(text))) {
      frag.append(text.slice(last, m.index));
      const a = document.createElement("a");
      a.className = "qa-cite-ref";
      a.href = "#qa-src-" + m[1];
      a.dataset.n = m[1];
      a.title = "查看出处 " + m[0];
      a.textContent = m[0];
      frag.append(a);
      last = m.index + m[0].length;
    }
    frag.append(text.slice(last));
    node.replaceWith(frag);
  }

  function enhance() {
    document.querySelectorAll("#qa-chat .bot-row .message-content").forEach((el) => {
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      const found = [];
      while (walker.nextNode()) {
        const n = walker.currentNode;
        if (!n.parentElement.closest("a.qa-cite-ref") && hasMark(n.nodeValue)) found.push(n);
      }
      found.forEach(linkify);
    });
  }

  function messageIndex(el) {
    const rows = Array.from(document.querySelectorAll("#qa-chat .message-row"));
    return rows.indexOf(el.closest(".message-row"));
  }

  // Capture phase: handled before the chat bubble's own click (which would select the answer's first source).
  document.addEventListener("click", (e) => {
    const a = e.target && e.target.closest ? e.target.closest("a.qa-cite-ref") : null;
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    const box = document.querySelector("#qa-cite-ref textarea, #qa-cite-ref input");
    if (!box) return;
    box.value = messageIndex(a) + ":" + a.dataset.n + ":" + Date.now();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }, true);

  // Gradio's own words (tooltips, the upload box, the footer) follow the browser's language; staff read
  // Chinese whatever their browser is set to. Whole strings only, never inside answers or sources.
  const ZH = {
    "Use via API": "通过 API 使用", "Drop File Here": "拖放文件到此处", "- or -": "- 或 -", "Click to Upload": "点击上传",
    "Copy message": "复制消息", "Copy": "复制", "Copied": "已复制", "Copied message": "已复制消息", "Like": "有帮助",
    "Dislike": "没帮助", "Clear": "清空", "More tabs": "更多标签页", "chatbot conversation": "对话",
    "Gradio footer navigation": "页脚导航", "Copy table data": "复制表格数据", "Fullscreen": "全屏",
    "Exit fullscreen": "退出全屏", "Open cell menu": "单元格菜单", "Table actions": "表格操作", "File upload": "上传文件",
    "Click to upload or drop files": "点击上传或拖放文件", "Warning": "提示", "Error": "错误", "Info": "提示",
    "Close": "关闭", "Textbox": "文本框", "Clear file": "移除文件", "Remove": "移除", "Upload": "上传",
  };
  const ZH_PREFIX = [["user's message: ", "问题："], ["bot's message: ", "回答："]];
  const ATTRS = ["title", "aria-label", "placeholder"];
  const CONTENT = "#qa-chat .message-content, #qa-sources, #qa-examples, .qa-header";

  function zh(value) {
    if (Object.prototype.hasOwnProperty.call(ZH, value)) return ZH[value];
    for (const [en, cn] of ZH_PREFIX) if (value.startsWith(en)) return cn + value.slice(en.length);
    return null;
  }

  function localize(root = document.body) {
    const els = Array.from(root.querySelectorAll("[title], [aria-label], [placeholder]"));
    if (root.matches("[title], [aria-label], [placeholder]")) els.push(root);
    els.forEach((el) => {
      for (const a of ATTRS) {
        const v = el.getAttribute(a);
        const t = v && zh(v);
        if (t) el.setAttribute(a, t);
      }
    });
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const found = [];
    while (walker.nextNode()) {
      const n = walker.currentNode;
      const t = n.nodeValue.trim();
      if (t && t.length < 40 && zh(t) && !n.parentElement.closest(CONTENT + ", style, script")) found.push(n);
    }
    found.forEach((n) => { n.nodeValue = n.nodeValue.replace(n.nodeValue.trim(), zh(n.nodeValue.trim())); });
  }

  let queued = false;
  new MutationObserver((records) => {
    // What just changed is localized at once, before it is painted (a toast must never show "Warning",
    // not even for a frame). Added nodes lie under their record's target, so this covers every change.
    const changed = new Set(records.map((r) => r.target.nodeType === Node.ELEMENT_NODE ? r.target : r.target.parentElement));
    changed.forEach((el) => { if (el && el.isConnected) localize(el); });
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; enhance(); });
  }).observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true,
               attributeFilter: ATTRS });
  localize();
}
