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

  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; enhance(); });
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}
