"""Hot swap with the real model and a real `qa serve` process: questions asked while an add runs are answered
(on the old index), and once it ends the new document is found, without a restart. Both for an upload through
the API and for `qa index add` run beside the server. The documents are made by the tests (documents_support)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from documents_support import COLLECTION, GAS_FACT, GAS_FILE, GAS_Q, build_small_index
from documents_support import real_encoder  # noqa: F401 - the session's encoder fixture

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RESERVOIR_FACT = "县水利局副局长周明远"
RESERVOIR_Q = "青石岭水库的防汛责任人是谁？"
TOWNS = ["东关镇", "西岭乡", "南河镇", "北坡乡", "石门镇", "柳林乡", "清泉镇", "白云乡"]


def long_notice(title: str, fact: str, n: int = 120) -> str:
    """A notice long enough that embedding it takes a while (so questions overlap the add), with one fact."""
    lines = [f"# {title}", "", "云政办发〔2025〕27号", "", "各乡镇人民政府，县直各单位：", ""]
    for i in range(1, n + 1):
        lines += [f"第{i}条 {TOWNS[i % len(TOWNS)]}第{i}号塘坝汛期每日巡查不少于{i % 5 + 2}次，"
                  f"巡查记录保存{i % 3 + 1}年，由所在村第{i % 7 + 1}网格员负责。", ""]
        if i == n // 2:
            lines += [f"第{i}条之一 青石岭水库防汛责任人为{fact}，汛期实行二十四小时值守。", ""]
    return "\n".join(lines + ["云溪县人民政府办公室", "", "2025年5月20日", ""])


@dataclass
class Asked:
    t0: float
    t1: float
    status: int
    answered: bool
    files: list[str]


def ask_until(url: str, question: str, done: threading.Event | subprocess.Popen, limit_s: float = 300) -> list[Asked]:
    """Ask `question` again and again until `done` (an event set, or a process exited); bounded in time and count."""
    out: list[Asked] = []
    finished = (lambda: done.is_set()) if isinstance(done, threading.Event) else (lambda: done.poll() is not None)
    deadline = time.monotonic() + limit_s
    with httpx.Client(base_url=url, timeout=120) as c:
        while not finished() and time.monotonic() < deadline and len(out) < 2000:
            t0 = time.monotonic()
            r = c.post("/v1/ask", json={"question": question})
            body = r.json() if r.status_code == 200 else {}
            out.append(Asked(t0, time.monotonic(), r.status_code, bool(body.get("answered")),
                             [x["source_file"] for x in body.get("citations", [])]))
            time.sleep(0.05)
    return out


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"qa serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"qa serve not ready in {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_encoder):
    from api_support import free_port, stop_process  # a plugin of other modules: imported once it is registered

    root = tmp_path_factory.mktemp("hot-swap")
    settings = build_small_index(root, real_encoder)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_CORPUS_DIR": str(settings.corpus_dir),
           "QA_INDEX_DIR": str(settings.index_dir), "QA_RELOAD_INTERVAL_S": "0.5", "QA_API_KEY": ""}
    log = root / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log)
        yield url, settings, env, root
    finally:
        stop_process(proc)


def _during(asked: list[Asked], start: float, end: float) -> list[Asked]:
    return [a for a in asked if a.t0 >= start and a.t1 <= end]


def _check_old_index_answers(during: list[Asked]) -> None:
    assert during, "no question was asked and answered while the add ran"
    for a in during:
        assert a.status == 200 and a.answered and a.files and a.files[0] == GAS_FILE, a


def test_questions_during_an_upload_are_answered_then_the_new_document_is_found(server) -> None:
    url, settings, _, root = server
    notice = long_notice("云溪县人民政府办公室关于做好2025年塘坝水库安全度汛工作的通知", RESERVOIR_FACT)
    done = threading.Event()
    result: dict = {}

    def upload() -> None:
        try:
            result["t0"] = time.monotonic()
            result["response"] = httpx.post(f"{url}/v1/documents", timeout=600, data={"collection": COLLECTION},
                                            files=[("files", ("安全度汛.md", notice.encode(), "text/markdown"))])
            result["t1"] = time.monotonic()
        finally:
            done.set()

    before = httpx.post(f"{url}/v1/search", json={"question": RESERVOIR_Q}, timeout=60).json()["hits"]
    assert all(h["source_file"] != f"{COLLECTION}/安全度汛.md" for h in before)
    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    asked = ask_until(url, GAS_Q, done)
    thread.join(600)
    r = result["response"]
    assert r.status_code == 201, r.text
    _check_old_index_answers(_during(asked, result["t0"], result["t1"]))
    # The upload returns once the server holds the new index: found at once.
    answer = httpx.post(f"{url}/v1/ask", json={"question": RESERVOIR_Q}, timeout=120).json()
    assert answer["answered"] and RESERVOIR_FACT in answer["answer"], answer["answer"]
    assert answer["citations"][0]["source_file"] == f"{COLLECTION}/安全度汛.md"
    print(f"\nupload: {result['t1'] - result['t0']:.1f} s, {len(_during(asked, result['t0'], result['t1']))} "
          f"questions answered during it; load {os.getloadavg()[0]:.1f}")


def test_qa_index_add_beside_the_running_server_is_picked_up(server) -> None:
    url, settings, env, root = server
    src = root / "incoming" / "巡河制度.md"
    src.parent.mkdir(exist_ok=True)
    fact = "每月巡河不少于两次"
    src.write_text(long_notice("云溪县河长制办公室关于落实乡级河长巡河制度的通知", RESERVOIR_FACT, 40).replace(
        "青石岭水库防汛责任人为县水利局副局长周明远", f"乡级河长{fact}，村级河长每周巡河一次"), encoding="utf-8")
    log = root / "index-add.log"
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", "add", str(src), "--collection", COLLECTION],
                                env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=root)
    try:
        asked = ask_until(url, GAS_Q, proc)
        assert proc.wait(600) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    t1 = time.monotonic()
    _check_old_index_answers(_during(asked, t0, t1))
    assert (Path(settings.corpus_dir) / COLLECTION / "巡河制度.md").is_file()
    # The server sees the new index within a few polls (QA_RELOAD_INTERVAL_S=0.5 here).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.post(f"{url}/v1/ask", json={"question": "乡级河长多久巡河一次？"}, timeout=120).json()
        if any(c["source_file"] == f"{COLLECTION}/巡河制度.md" for c in answer["citations"]):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the server never served the index `qa index add` made: {answer}")
    assert fact in answer["answer"], answer["answer"]
    print(f"\nqa index add: {t1 - t0:.1f} s, picked up {time.monotonic() - t1:.1f} s after it ended; "
          f"load {os.getloadavg()[0]:.1f}")
    # And the gazette's old documents are still answered.
    assert GAS_FACT in httpx.post(f"{url}/v1/ask", json={"question": GAS_Q}, timeout=120).json()["answer"]
