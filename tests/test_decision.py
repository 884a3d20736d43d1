"""The trained answer decision: its portable model format, the threshold choice, the labels, the folds,
and (slow, on the shared real index) feature extraction on real passages, the roster-role answer, refusal
of each near-miss kind, citations, and a fresh training run reproducing the shipped model."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from qa.answer.decision import Decision, Scorer, load_decision, shipped_decision
from qa.answer.features import BASE_FEATURES, FEATURES, role_agreement
from qa.evaluation.folds import is_original, issue_folds, item_issues
from qa.evaluation.items import EvalItem, load_items
from qa.evaluation.train import _fit_scorer, choose_threshold, choose_threshold_accuracy, choose_threshold_calibrated, label_row
from reproduction_support import AGREEMENT, COUNT_TOLERANCE, same_data, split, top_choice_agreement

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
MARKER = re.compile(r"\[(\d+)\]")


def _data(n=400, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 4)
    x[::9, 2] = np.nan
    y = ((x[:, 0] + 0.5 * np.nan_to_num(x[:, 2]) + 0.3 * rng.randn(n)) > 0.8).astype(int)
    return x, y


@pytest.mark.parametrize("method", ["gbm", "logistic"])
def test_exported_model_scores_as_scikit_learn(method):
    """The JSON model, evaluated with numpy, gives scikit-learn's own probabilities."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    names = ("a", "b", "c", "d")
    scorer = Scorer.from_dict(json.loads(json.dumps(_fit_scorer(method, x, y, names).to_dict())))
    if method == "gbm":
        ref = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.06, max_leaf_nodes=15, min_samples_leaf=20,
                                             l2_regularization=1.0, early_stopping=False, random_state=0).fit(x, y)
        expected = ref.predict_proba(x)[:, 1]
    else:
        z = np.nan_to_num(x)
        mean, scale = z.mean(0), z.std(0)
        expected = LogisticRegression(C=1.0, max_iter=5000).fit((z - mean) / scale, y).predict_proba((z - mean) / scale)[:, 1]
    assert np.allclose(scorer.proba(x), expected, atol=1e-6)


def test_fitting_is_deterministic():
    x, y = _data(seed=3)
    a = _fit_scorer("gbm", x, y, ("a", "b", "c", "d")).to_dict()
    b = _fit_scorer("gbm", x, y, ("a", "b", "c", "d")).to_dict()
    assert a == b


def test_threshold_is_the_lowest_reaching_the_target_precision():
    tops = [(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.5, 0), (0.4, 0)]
    assert choose_threshold(tops, 1.0) == (0.8, 1.0)
    t, p = choose_threshold(tops, 0.75)
    assert t == 0.6 and p == 0.75
    # unreachable: the most precise threshold
    assert choose_threshold([(0.9, 0), (0.5, 1)], 0.99)[0] == 0.5


def test_threshold_maximises_accuracy_on_answerable_and_unanswerable():
    # (probability of the best candidate, it is right), answerable?
    tops = [(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1), (0.3, 0), (0.2, 0)]
    answerable = [True, True, False, True, False, True]
    # answer >= 0.8: 2 right answers + 2 right refusals (0.7, 0.3) = 4/6; >= 0.6 also 4/6 (3 right answers, the
    # unanswerable 0.7 answered): the tie goes to the higher threshold
    assert choose_threshold_accuracy(tops, answerable) == (0.8, 4 / 6)
    # all unanswerable: refuse everything (threshold above every score)
    assert choose_threshold_accuracy([(0.9, 0), (0.4, 0)], [False, False]) == (1.0, 1.0)
    # a tie in accuracy goes to the higher threshold (refusing rather than answering wrong)
    t, acc = choose_threshold_accuracy([(0.9, 1), (0.5, 1), (0.4, 0)], [True, True, False])
    assert (t, acc) == (0.5, 1.0)


def test_calibrated_threshold_is_where_a_right_answer_is_as_likely_as_an_unanswerable_question():
    # right answers score high, unanswerable questions low, wrong best candidates in between: the calibrated
    # P(right | p) and P(unanswerable | p) cross between the two groups, and the accuracy there is reported
    rng = np.random.default_rng(0)
    tops, answerable = [], []
    for _ in range(300):
        kind = rng.integers(3)  # 0 right, 1 wrong, 2 unanswerable
        centre = {0: 0.8, 1: 0.5, 2: 0.2}[int(kind)]
        tops.append((float(np.clip(centre + rng.normal(0, 0.1), 0.01, 0.99)), int(kind == 0)))
        answerable.append(kind != 2)
    t, acc, cal = choose_threshold_calibrated(tops, answerable)
    assert 0.3 < t < 0.7 and cal["classes"] == ["right", "wrong", "unanswerable"]
    z = np.log(t / (1 - t))
    c, b = np.array(cal["coef"]), np.array(cal["intercept"])
    assert abs((b[0] + c[0] * z) - (b[2] + c[2] * z)) < 1e-3  # the two outcomes equally likely at the threshold
    right = sum((ok if a else 0) if p >= t else (not a) for (p, ok), a in zip(tops, answerable))
    assert acc == right / len(tops)
    assert choose_threshold_calibrated(tops, answerable) == (t, acc, cal)  # deterministic
    # one outcome missing: the accuracy rule, no calibration
    assert choose_threshold_calibrated([(0.9, 1), (0.2, 0)], [True, True])[2] is None


def test_shipped_model_reads_and_names_its_features():
    d = shipped_decision()
    assert d.main.features == FEATURES and d.pre.features == BASE_FEATURES
    assert 0.0 < d.threshold < 1.0
    assert d.meta["method"] in ("gbm", "logistic") and d.meta["threshold_rule"] in ("calibrated", "accuracy", "precision")
    assert Decision.from_dict(json.loads(json.dumps(d.to_dict()))).threshold == d.threshold


def test_a_model_file_of_another_format_is_refused(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"format": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="format"):
        load_decision(p)


def test_role_agreement_reads_the_role_a_row_assigns():
    q = "2022年地质灾害防治领导小组组长是谁？"
    assert role_agreement(q, "组长：韩加政（副市长）") == 1.0
    assert role_agreement(q, "副组长：王昊达（市政府副秘书长）") == -1.0
    assert role_agreement("Who heads the group?", "组长：韩加政（副市长）") == 1.0
    assert role_agreement("办公室设在哪？", "组长：韩加政（副市长）") == 0.0


def test_labels_mark_the_sentence_holding_the_evidence():
    from qa.answer.features import Row
    from qa.answer.sentences import Sentence

    item = EvalItem("x1", "q", "", ("16周岁",), "number", "zh", ("2022-03.txt",), "", ("年满16周岁",))
    passage = "共享单车用户应当年满16周岁。企业应当建立押金制度。"
    assert label_row(item, Row(0, Sentence("共享单车用户应当年满16周岁。")), passage) == 1
    assert label_row(item, Row(0, Sentence("企业应当建立押金制度。")), passage) == 0
    unans = EvalItem("x2", "q", "", (), "unanswerable", "zh", (), "", ())
    assert label_row(unans, Row(0, Sentence("共享单车用户应当年满16周岁。")), passage) == 0


def test_folds_hold_out_one_issue_each():
    items = load_items(QUESTIONS)
    folds = issue_folds(items)
    assert len(folds) == 5
    assert sum(len(f.test) for f in folds) == len(items)  # every item scored exactly once
    issues = sorted(f.issue for f in folds)
    for f in folds:
        assert all(f.issue not in item_issues(it, issues) for it in f.train)
    # deterministic: unanswerables without an issue land in the same fold every time
    assert [[i.id for i in f.test] for f in folds] == [[i.id for i in f.test] for f in issue_folds(items)]
    assert is_original("a001") and not is_original("c001")


# ----------------------------------------------------------------------------------- slow: real index


_SERVICES: dict[str, object] = {}


def _service(decision: str):
    """The service answering with `decision` on the shared index (one per decision for the module)."""
    from qa.config import Settings
    from qa.service import GazetteService

    reuse = os.environ.get("QA_TEST_INDEX_DIR")
    if not reuse:
        pytest.skip("needs a built index: QA_TEST_INDEX_DIR")
    if decision not in _SERVICES:
        base = _SERVICES.get("rules") or _SERVICES.get("trained")
        if base is not None:  # the same index and encoder, the other decision
            from qa.answer.extractive import ExtractiveParams

            _SERVICES[decision] = base.with_params(ExtractiveParams(decision=decision))
        else:
            _SERVICES[decision] = GazetteService.load(Settings(index_dir=Path(reuse), answer_decision=decision),
                                                      build_if_missing=False)
    return _SERVICES[decision]


@pytest.fixture(scope="module")
def service():
    """The service answering with the trained decision, on the shared index."""
    return _service("trained")


# Known failures of the opt-in trained decision (measured; strict: they fail the suite once they pass).
_TRAINED_KNOWN = {
    "english_roster": "the trained decision refuses the English roster question (best candidate below the "
                      "shipped threshold 0.217)",
}


# The hand-set rules (the default) answer three of the five near-miss kinds: the measured state of issue 12
# (they refuse 0.411 of the 647 new questions' unanswerable ones under leave-one-issue-out).
_RULES_KNOWN = "the hand-set rules answer this near miss with an unrelated sentence (issue 12)"


def test_the_setting_chooses_the_decision(monkeypatch):
    from qa.answer.extractive import ExtractiveParams
    from qa.config import Settings

    monkeypatch.delenv("QA_ANSWER_DECISION", raising=False)
    assert Settings().answer_decision == "rules"
    assert Settings(answer_decision="trained").answer_decision == "trained"
    with pytest.raises(ValueError):
        Settings(answer_decision="learned")
    with pytest.raises(ValueError):
        ExtractiveParams(decision="learned")


def test_synonym_pairs_are_read_off_the_texts_definitions():
    from qa.answer.synonyms import linked, load_pairs, mine

    # (sentences of the corpus: a colloquial name, a defined short name inside a longer run)
    text = ("互联网租赁自行车（俗称共享单车），是移动互联网和租赁自行车融合发展的新型服务模式。"
            "为了加强本市城市公共厕所（以下简称城市公厕）的建设和管理，制定本办法。")
    assert mine([text]) == [("互联网租赁自行车", "共享单车"), ("城市公共厕所", "城市公厕")]
    assert mine(["本办法自印发之日起施行。"]) == []
    assert ("互联网租赁自行车", "共享单车") in load_pairs()  # the shipped file, mined from the bundled corpus
    pairs = [("互联网租赁自行车", "共享单车")]
    assert linked("骑共享单车要满几岁", "互联网租赁自行车用户须年满16周岁", pairs) == ["共享单车"]
    assert linked("骑共享单车要满几岁", "共享单车企业", pairs) == []  # the question's own name: no link needed
    assert linked("互联网租赁自行车停放", "共享单车停放", pairs) == ["互联网租赁自行车"]


@pytest.mark.slow
def test_shipped_synonyms_are_what_the_command_mines_from_the_index(service, tmp_path):
    from qa.answer.synonyms import SYNONYMS_PATH, main

    out = tmp_path / "synonyms.tsv"
    main(["--index", str(service.settings.index_dir), "--out", str(out)])
    assert out.read_text(encoding="utf-8") == SYNONYMS_PATH.read_text(encoding="utf-8")


@pytest.mark.slow
def test_paraphrase_features_on_real_passages(service):
    """The question's similarity to the passage's title and heading, the share of its words they hold, and
    the corpus's synonym pair (共享单车 asked, 互联网租赁自行车 written)."""
    from qa.answer.extractive import ExtractiveParams, candidate_rows
    from qa.question import analyse

    info = analyse("骑共享单车要满几岁？")
    hits = service.search(info.text, top_k=5)
    rows = candidate_rows(info, hits, ExtractiveParams(), service._similarity)
    bike = [r for r in rows if "互联网租赁自行车" in hits[r.hit_index].chunk.doc_title]
    other = [r for r in rows if "互联网租赁自行车" not in hits[r.hit_index].chunk.doc_title]
    assert bike and all(r.features["synonym_context"] == 1.0 and r.features["title_coverage"] > 0 for r in bike)
    assert all(r.features["synonym_context"] == 0.0 for r in other)
    assert all(0.5 < r.features["title_semantic"] <= 1.0 and r.features["title_semantic_best_gap"] <= 0 for r in rows)
    assert any(r.features["synonym_sentence"] == 1.0 for r in bike)
    # without an encoder the cosines are missing (the trees route them as trained), the rest is read
    plain = candidate_rows(info, hits, ExtractiveParams())
    assert all(np.isnan(r.features["title_semantic"]) and "title_coverage" in r.features for r in plain)


@pytest.mark.slow
def test_questions_the_chain_refuses_before_scoring_are_marked(service):
    """`qa train` reads the threshold only where it decides: a question naming an issue or a year no retrieved
    passage covers is refused by the chain whatever its score."""
    from qa.answer.chain import refused_before_scoring
    from qa.question import analyse

    for q, refused in (("2019年第3期公报发布了哪些文件？", True), ("2030年阳泉市共享单车投放量是多少？", True),
                       ("骑共享单车要满几岁？", False)):
        info = analyse(q)
        reason = refused_before_scoring(info, service.search(q, top_k=5))
        assert (reason is not None) == refused, (q, reason)


@pytest.mark.slow
def test_features_on_real_passages(service):
    from qa.answer.extractive import ExtractiveParams, candidate_rows
    from qa.question import analyse

    info = analyse("共享单车用户需要满多少岁？")
    hits = service.search(info.text, top_k=5)
    rows = candidate_rows(info, hits, ExtractiveParams())
    assert rows and all(set(BASE_FEATURES) <= set(r.features) for r in rows)
    age = next(r for r in rows if "16周岁" in r.sentence.text.replace(" ", ""))
    assert age.features["number_asked"] == 1.0 and age.features["number_present"] == 1.0
    assert age.features["fails_value"] == 0.0
    assert age.features["selective"] > 0
    no_age = [r for r in rows if not re.search(r"\d", r.sentence.text)]
    assert no_age and all(r.features["fails_value"] == 1.0 for r in no_age)


@pytest.mark.slow
@pytest.mark.parametrize("decision,q", [
    ("rules", "2022年地质灾害防治领导小组组长是谁？"),
    ("rules", "Who heads the geological disaster prevention group in 2022?"),
    ("trained", "2022年地质灾害防治领导小组组长是谁？"),
    pytest.param("trained", "Who heads the geological disaster prevention group in 2022?",
                 marks=pytest.mark.xfail(strict=True, reason=_TRAINED_KNOWN["english_roster"])),
])
def test_roster_answer_names_the_holder_of_the_asked_role(decision, q):
    for q in (q,):
        r = _service(decision).ask(q)
        assert r.answered, q
        assert "韩加政" in r.answer and "组长" in r.answer, r.answer
        assert r.answer.index("韩加政") < 30, r.answer  # led by the holder, not by a 副组长 row
        assert "冯仁科" not in r.answer, r.answer  # nor the person in the row's next column (issue 12 §4)


NEAR_MISSES = {
    "attribute not stated": "阳泉市人民医院的床位有多少张？",
    "topic of another year": "阳泉市2019年新建了多少所医院？",
    "person or post not named": "阳泉市2022年公务员考试报名费是多少？",
    "city fact not held": "阳泉市的公交车票价是多少钱？",
    "english": "What is the mayor of Yangquan's email address?",
}


@pytest.mark.slow
@pytest.mark.parametrize("decision,kind", [
    *[pytest.param("rules", k, marks=pytest.mark.xfail(strict=True, reason=_RULES_KNOWN))
      if k in ("attribute not stated", "person or post not named", "english") else ("rules", k) for k in NEAR_MISSES],
    *[("trained", k) for k in NEAR_MISSES],
])
def test_near_misses_are_refused_with_related_passages(decision, kind):
    r = _service(decision).ask(NEAR_MISSES[kind])
    assert not r.answered, (kind, r.answer)
    assert not r.citations and r.related


@pytest.mark.slow
def test_every_marker_refers_to_a_listed_citation(service):
    for item in load_items(QUESTIONS, every=12):
        r = service.ask(item.question)
        listed = {c.n for c in r.citations}
        used = {int(n) for n in MARKER.findall(r.answer)}
        assert used <= listed, (item.id, r.answer)
        if r.answered:
            assert listed <= used and listed, (item.id, r.answer)


@pytest.mark.slow
def test_fresh_training_reproduces_the_shipped_model(service):
    """`qa train` on the same data gives the shipped model: the same data digest, the same threshold and, on
    every training row, probabilities within 1e-6 (fitting is single-threaded with fixed seeds). On a CPU whose
    encoder rounding moves a few candidates (tests/reproduction_support.py) the data is close, and the fresh
    model's inner accuracy and each question's top pre-selected candidate stay close. To keep the
    suite's time, only the trees' size the shipped model chose is refitted (its inner cross-validation and
    final fit, as `qa train` runs them); its inner accuracy must be the recorded one. The choice between the
    sizes is the same comparison of those recorded accuracies (test_tree_size_is_the_more_accurate_inner_fit)."""
    from qa.answer.extractive import ExtractiveParams
    from qa.evaluation import train as tr

    shipped = shipped_decision()
    items = load_items(QUESTIONS)
    extra = ROOT / "eval" / "training_questions.jsonl"
    if extra.exists():
        items += load_items(extra)
    tr.single_thread()
    data = tr.extract(service, items, progress=False)
    fresh = tr.fit(data, shipped.meta["method"], service._similarity, ExtractiveParams(),
                   shipped.meta.get("target_precision") or tr.TARGET_PRECISION, rule=shipped.meta["threshold_rule"],
                   configs=[shipped.meta["gbm_config"]])
    chosen = shipped.meta["gbm_config"]
    rows = [r.features for q in data for r in q.rows]
    if same_data(fresh.meta["trained_on"], shipped.meta["trained_on"]):
        assert fresh.meta["inner_accuracy"] == {chosen: shipped.meta["inner_accuracy"][chosen]}
        assert abs(fresh.threshold - shipped.threshold) <= 1e-6
        assert np.allclose(fresh.pre_scores(rows), shipped.pre_scores(rows), atol=1e-6)
    else:  # another CPU kind's encoder rounding (tests/reproduction_support.py)
        assert abs(fresh.meta["inner_accuracy"][chosen] - shipped.meta["inner_accuracy"][chosen]) <= COUNT_TOLERANCE
        sizes = [len(q.rows) for q in data]
        agreement = top_choice_agreement(split(fresh.pre_scores(rows), sizes), split(shipped.pre_scores(rows), sizes))
        assert agreement >= AGREEMENT, (agreement, fresh.threshold, shipped.threshold)


def test_answer_leads_with_the_holder_of_the_asked_role():
    from qa.answer.extractive import role_holder

    row = "年度地质灾害防治领导小组：组长：韩加政（副市长）；"
    assert role_holder("组长", row) == "韩加政"
    assert role_holder("副组长", row) == ""
    assert role_holder("组长", "年度地质灾害防治领导小组：副组长：杜平华（市规划和自然资源局局长）") == ""
    assert role_holder("主任", "办公室主任由市民政局二级调研员耿胜兼任") == "耿胜"
    # the role right before 由 within one clause: 局长 here is nobody's post filled, 副主任 is 任仔苏's
    office = "办公室设在市农业农村局，办公室主任由安海润兼任，副主任由任仔苏兼任。"
    assert role_holder("局长", office) == ""
    assert role_holder("主任", office) == "安海润"
    assert role_holder("副主任", office) == "任仔苏"


def test_refusal_names_what_was_asked():
    from qa.answer.extractive import missing
    from qa.question import analyse

    assert "阳泉市人民医院的床位" in missing(analyse("阳泉市人民医院的床位有多少张？"))
    assert missing(analyse("What is the mayor of Yangquan's email address?")) == ""


def test_tree_size_is_the_more_accurate_inner_fit():
    """The shipped model's trees' size is the one of higher recorded inner accuracy (ties: the first listed,
    the more regularised), every size of GBM_CONFIGS having been tried: what `fit` chooses."""
    from qa.evaluation import train as tr

    meta = shipped_decision().meta
    if meta["method"] != "gbm":
        pytest.skip("the shipped decision is not trees")
    inner = meta["inner_accuracy"]
    assert list(inner) == list(tr.GBM_CONFIGS)
    assert meta["gbm_config"] == max(tr.GBM_CONFIGS, key=lambda c: (inner[c], -list(tr.GBM_CONFIGS).index(c)))
