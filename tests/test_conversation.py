"""Follow-up questions (qa.conversation): the rewriter on turns shaped like the service's answers, the
request validation of /v1/ask's `history`, and — slow — each kind of follow-up answered from real passages
through the service, /v1/ask and /v1/chat/completions (the real index: tests/api_support.py)."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.api.schemas import history_entries, request_models
from qa.config import Settings
from qa.conversation import CitedDocument, Turn, cited_document, make_turn, needs_context, resolve, resolve_history

pytest_plugins = ["api_support"]

# Real documents of the bundled corpus (2022-03 and 2020-02 issues), as the service cites them.
BIKE_TITLE = "阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见"
BIKE = CitedDocument(BIKE_TITLE, "阳政办发〔2022〕34号", 2022)
GEO_2022 = CitedDocument("阳泉市人民政府办公室关于印发阳泉市2022年度地质灾害防治方案的通知", "阳政办发〔2022〕42号", 2022)
BIKE_TURN = Turn("共享单车用户需要满多少岁？", "互联网租赁自行车用户须年满 16 周岁，并实名注册和使用。[1]", BIKE)
LEADER_TURN = Turn("2022年地质灾害防治领导小组组长是谁？", "年度地质灾害防治领导小组：组长：韩加政（副市长）[1]", GEO_2022,
                   ("韩加政",))


# ---------------------------------------------------------------- fast: the rewriter

@pytest.mark.parametrize("history,question,expected,kind", [
    ([BIKE_TURN], "这个文件的文号是什么？", f"《{BIKE_TITLE}》的文号是什么？", "document"),
    ([BIKE_TURN], "该通知是什么时候发布的？", f"《{BIKE_TITLE}》是什么时候发布的？", "document"),
    ([BIKE_TURN], "文号呢？", f"《{BIKE_TITLE}》的文号是什么？", "document"),
    ([BIKE_TURN], "它的发文日期是什么？", f"《{BIKE_TITLE}》的发文日期是什么？", "document"),
    ([LEADER_TURN], "副组长呢？", "2022年地质灾害防治领导小组副组长是谁？", "role"),
    ([LEADER_TURN], "那成员呢？", "2022年地质灾害防治领导小组成员是谁？", "role"),
    ([LEADER_TURN], "副组长是谁？", "2022年地质灾害防治领导小组副组长是谁？", "role"),
    ([LEADER_TURN], "2020年的副组长呢？", "2020年地质灾害防治领导小组副组长是谁？", "role"),
    ([LEADER_TURN], "他后来调任什么职务？", "韩加政后来调任什么职务？", "person"),
    ([LEADER_TURN], "其后来任什么职务？", "韩加政后来任什么职务？", "person"),
    ([LEADER_TURN], "2021年的呢？", "2021年地质灾害防治领导小组组长是谁？", "year"),
    ([LEADER_TURN], "那2020年度呢？", "2020年地质灾害防治领导小组组长是谁？", "year"),
    ([BIKE_TURN], "2021年的呢？", "2021年共享单车用户需要满多少岁？", "year"),
    # The year follow-up repeats the question with a year, not a document-title follow-up in between.
    ([LEADER_TURN, Turn(f"《{GEO_2022.title}》的文号是什么？", "阳政办发〔2022〕42号…", GEO_2022)], "2020年的呢？",
     "2020年地质灾害防治领导小组组长是谁？", "year"),
    # English
    ([BIKE_TURN], "What is its document number?", f"What is the document number of 《{BIKE_TITLE}》?", "document"),
    ([BIKE_TURN], "When was that document issued?", "When was 阳政办发〔2022〕34号 issued?", "document"),
    ([BIKE_TURN], "What is the document number?", f"What is the document number of 《{BIKE_TITLE}》?", "document"),
    ([LEADER_TURN], "What about 2020?", "2020年地质灾害防治领导小组组长是谁？", "year"),
    ([Turn("Who heads the geological disaster prevention group in 2022?", "", GEO_2022, ("韩加政",))], "And 2020?",
     "Who heads the geological disaster prevention group in 2020?", "year"),
    ([LEADER_TURN], "What was he appointed to later?", "What was 韩加政 appointed to later?", "person"),
])
def test_follow_up_is_rewritten(history, question, expected, kind):
    r = resolve(question, history)
    assert (r.question, r.kind, r.rewritten, r.asked) == (expected, kind, True, question)
    assert needs_context(question)


@pytest.mark.parametrize("question", [
    "共享单车用户需要满多少岁？",
    "阳政办发〔2022〕34号是什么文件？",
    "《阳泉市人民政府办公室关于规范互联网租赁自行车发展的实施意见》的文号是什么？",
    "其他城市的共享单车呢？",  # 其他 is no pronoun; the slot is no year, role or attribute
    "其中成员单位有哪些？",
    "他们的职责是什么？",  # 他们: a group, not the person just named
    "Who heads the geological disaster prevention group in 2022?",
    "What is the document number of the bike sharing rules?",
    # A pronoun after the question's own first clause points inside the question, not back.
    "2022年地质灾害防治领导小组组长是谁？他还有什么职务？",
    "共享单车须年满16周岁，这个规定出自哪个文件？",
    "Which bureau published all its policy documents online?",  # its: the bureau's
    "How much was planned for 2020, and how much of it was spent?",
    "When was Wu Xue appointed, and what post did she hold before?",
])
def test_standalone_question_passes_unchanged(question):
    for history in ([], [BIKE_TURN], [LEADER_TURN]):
        r = resolve(question, history)
        assert (r.question, r.kind, r.rewritten) == (question, "", False)


def test_no_history_no_rewrite_and_missing_context_no_rewrite():
    assert not resolve("这个文件的文号是什么？", []).rewritten
    # A turn that cited nothing (not found) gives no document to point at; no person to stand for 他.
    empty = Turn("2019年的督办任务有多少件？")
    assert not resolve("这个文件的文号是什么？", [empty]).rewritten
    assert not resolve("他后来调任什么职务？", [BIKE_TURN]).rewritten
    assert not resolve("副组长呢？", [BIKE_TURN]).rewritten  # no role or group to swap


def test_latest_turn_with_the_slot_wins_and_reach_is_bounded():
    other = Turn("发现草地贪夜蛾虫情后多长时间内要报告？", "…", CitedDocument("关于印发防控草地贪夜蛾八项措施的通知", "阳政办发〔2020〕34号", 2020))
    assert "八项措施" in resolve("这个文件的文号是什么？", [BIKE_TURN, other]).question
    assert BIKE_TITLE in resolve("这个文件的文号是什么？", [other, BIKE_TURN]).question
    # Four turns later the bike document is out of reach (MAX_TURNS): no guess from long ago.
    filler = Turn("你好", "", None)
    assert not resolve("这个文件的文号是什么？", [BIKE_TURN, filler, filler, filler]).rewritten


def test_make_turn_orders_names_by_mention_and_reads_either_citation_vocabulary():
    index_names = {"韩加政", "冯仁科", "刘鹏", "梁爱卿"}

    def names_in(text):
        flat = text.replace(" ", "")
        return sorted(n for n in index_names if n in flat)  # the service's routes() gives them sorted

    t = make_turn("组长是谁？", "成 员：梁爱卿 市政府副秘书长刘 鹏 市委宣传部副部长", [
        {"document_title": GEO_2022.title, "document_number": GEO_2022.doc_number, "issue": "2022-03"}], names_in=names_in)
    assert t.persons == ("梁爱卿", "刘鹏") and t.document == GEO_2022
    assert cited_document([{"doc_title": "T", "doc_number": "阳政发〔2021〕3号"}]) == CitedDocument("T", "阳政发〔2021〕3号", 2021)
    assert cited_document([{"score": 1.0}, {"document_title": "T"}]) == CitedDocument("T", "", 0)
    assert cited_document([]) is None
    # An unanswered turn points at nothing.
    assert make_turn("q", "公报中未找到…", [{"document_title": "T"}], answered=False).document is None


def test_resolve_history_makes_each_earlier_question_standalone():
    turns = resolve_history([LEADER_TURN, Turn("副组长呢？", "副组长：杜平华（市规划和自然资源局局长）", GEO_2022, ("杜平华",)),
                             Turn("2020年的呢？")])
    assert [t.question for t in turns] == ["2022年地质灾害防治领导小组组长是谁？", "2022年地质灾害防治领导小组副组长是谁？",
                                          "2020年地质灾害防治领导小组副组长是谁？"]


# ---------------------------------------------------------------- fast: /v1/ask's history is validated

def test_history_request_validation():
    Ask = request_models(2000).AskRequest
    ok = Ask.model_validate({"question": "副组长呢？", "history": [
        "2022年地质灾害防治领导小组组长是谁？",
        {"question": "共享单车用户需要满多少岁？", "answer": "…", "citations": [
            {"document_title": BIKE_TITLE, "doc_number": "阳政办发〔2022〕34号", "issue": "2022-03", "score": 0.9}]}]})
    entries = history_entries(ok.history)
    assert entries[0] == {"question": "2022年地质灾害防治领导小组组长是谁？", "answer": "", "answered": True, "citations": None}
    assert entries[1]["citations"] == [{"document_title": BIKE_TITLE, "doc_number": "阳政办发〔2022〕34号", "issue": "2022-03"}]
    assert history_entries(None) == []


@pytest.fixture(scope="module")
def cold_client(tmp_path_factory):
    cold = tmp_path_factory.mktemp("cold")
    from qa.service import GazetteService

    app = create_app(GazetteService, Settings(index_dir=cold / "index", data_dir=cold / "data"), ui=False)
    return TestClient(app, raise_server_exceptions=True)  # never started: validation must not need the model


@pytest.mark.parametrize("history,needle", [
    ("共享单车", "history"),
    ([42], "history"),
    (["   "], "history"),
    ([{"answer": "x"}], "question"),
    ([{"question": "q", "surprise": 1}], "surprise"),
    ([{"question": "q\u202e"}], "question"),
    (["q"] * 21, "history"),
    (["\ud800"], "history"),
    ([{"question": "q", "answer": "\ud800"}], "answer"),
    ([{"question": "q", "citations": "x"}], "citations"),
])
def test_bad_history_is_a_clear_422(cold_client, history, needle):
    # json.dumps escapes a lone surrogate as JSON allows (\ud800); the client's own encoder would refuse it.
    r = cold_client.post("/v1/ask", content=json.dumps({"question": "副组长呢？", "history": history}),
                         headers={"content-type": "application/json"})
    assert r.status_code == 422 and needle in r.json()["detail"], r.text


def test_openapi_documents_history_and_rewritten_question(cold_client):
    spec = cold_client.get("/openapi.json").json()["components"]["schemas"]
    assert "history" in spec["AskRequest"]["properties"]
    assert spec["AnswerOut"]["properties"]["rewritten_question"]["description"]
    assert "rewritten_question" in spec["ChatResponse"]["properties"]


# ---------------------------------------------------------------- slow: real passages, real service

def _converse(service, questions):
    turns, results = [], []
    for q in questions:
        result = service.ask(q, history=turns)
        results.append(result.to_dict())
        turns.append(service.turn_of(result))
    return results


@pytest.mark.slow
def test_document_follow_up_answers_the_number_of_the_document_just_answered(gazette_service):
    first, follow = _converse(gazette_service, ["共享单车用户需要满多少岁？", "这个文件的文号是什么？"])
    assert "16" in first["answer"] and first["rewritten_question"] is None
    assert follow["question"] == "这个文件的文号是什么？"
    assert follow["rewritten_question"] == f"《{BIKE_TITLE}》的文号是什么？"
    assert follow["answered"] and "阳政办发〔2022〕34号" in follow["answer"]
    assert follow["citations"][0]["doc_number"] == "阳政办发〔2022〕34号"


@pytest.mark.slow
def test_role_then_year_follow_up_on_a_real_roster(gazette_service):
    leader, deputy, earlier = _converse(gazette_service, ["2022年地质灾害防治领导小组组长是谁？", "副组长呢？", "2020年的呢？"])
    assert "韩加政" in leader["answer"]
    assert deputy["rewritten_question"] == "2022年地质灾害防治领导小组副组长是谁？"
    # 2022-03's row 副组长：杜平华 市规划和自然资源局局长 贺占忠 市水利局副局长: 贺占忠 stands in the row's second
    # column, which no role label heads; the answer names the labelled holder only (issue 12 §4)
    assert "杜平华" in deputy["answer"] and "贺占忠" not in deputy["answer"], deputy["answer"]
    assert earlier["rewritten_question"] == "2020年地质灾害防治领导小组副组长是谁？"
    assert earlier["citations"][0]["issue"] == "2020-02" and "杜平华" in earlier["answer"]


@pytest.mark.slow
def test_year_follow_up_asks_the_same_of_another_year(gazette_service):
    _, other_year = _converse(gazette_service, ["2022年地质灾害防治领导小组组长是谁？", "2020年的呢？"])
    assert other_year["rewritten_question"] == "2020年地质灾害防治领导小组组长是谁？"
    assert "王明厚" in other_year["answer"] and "韩加政" not in other_year["answer"]  # 2020-02: 组长：王明厚 副市长


@pytest.mark.slow
def test_person_follow_up_finds_the_later_appointment(gazette_service):
    # 2020-02's roster lists 叶文鑫 (市财政局副县级领导干部); 2021-04 appoints him 阳泉市财政局副局长 (阳政任字〔2021〕35号).
    member, later = _converse(gazette_service, ["2020年地质灾害防治领导小组成员中市财政局的是谁？", "他后来调任什么职务？"])
    assert "叶文鑫" in member["answer"]
    assert later["rewritten_question"] == "叶文鑫后来调任什么职务？"
    assert "财政局副局长" in later["answer"]
    assert later["citations"][0]["doc_number"] == "阳政任字〔2021〕35号"


@pytest.mark.slow
def test_ask_with_history_of_bare_questions(api_client):
    r = api_client.post("/v1/ask", json={"question": "这个文件的文号是什么？", "history": ["共享单车用户需要满多少岁？"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rewritten_question"] == f"《{BIKE_TITLE}》的文号是什么？" and body["question"] == "这个文件的文号是什么？"
    assert "阳政办发〔2022〕34号" in body["answer"]
    # History with the earlier answer and citations as /v1/ask returned them; a standalone question is untouched.
    first = api_client.post("/v1/ask", json={"question": "2022年地质灾害防治领导小组组长是谁？"}).json()
    assert first["rewritten_question"] is None
    r = api_client.post("/v1/ask", json={"question": "副组长呢？", "history": [
        {k: first[k] for k in ("question", "answer", "citations", "answered")}]})
    assert r.json()["rewritten_question"] == "2022年地质灾害防治领导小组副组长是谁？" and "杜平华" in r.json()["answer"]
    same = api_client.post("/v1/ask", json={"question": "共享单车用户需要满多少岁？", "history": ["副组长呢？"]}).json()
    assert same["rewritten_question"] is None and "16" in same["answer"]


@pytest.mark.slow
def test_chat_completions_resolves_the_last_message_from_earlier_messages(api_client):
    messages = [{"role": "system", "content": "你是公报助手"},
                {"role": "user", "content": "2022年地质灾害防治领导小组组长是谁？"},
                {"role": "assistant", "content": "组长：韩加政（副市长）[1]"},
                {"role": "user", "content": "2020年的呢？"}]
    r = api_client.post("/v1/chat/completions", json={"messages": messages})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rewritten_question"] == "2020年地质灾害防治领导小组组长是谁？"
    assert "王明厚" in body["choices"][0]["message"]["content"]
    # Without earlier messages nothing is rewritten, and the document follow-up alone finds nothing.
    alone = api_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "这个文件的文号是什么？"}]}).json()
    assert alone["rewritten_question"] is None and not alone["answered"]
    # The assistant message carries no citations: the server answers the earlier question again to find its document.
    doc = api_client.post("/v1/chat/completions", json={"messages": [
        {"role": "user", "content": "共享单车用户需要满多少岁？"}, {"role": "assistant", "content": "年满16周岁。"},
        {"role": "user", "content": "这个文件的文号是什么？"}], "stream": False}).json()
    assert doc["rewritten_question"] == f"《{BIKE_TITLE}》的文号是什么？"
    assert "阳政办发〔2022〕34号" in doc["choices"][0]["message"]["content"]


@pytest.mark.slow
def test_ui_chat_shows_the_understood_question(gazette_service, gazette_settings, tmp_path):
    from qa.api.feedback import FeedbackStore
    from qa.api.state import ServiceHolder
    from qa.ui.gradio_app import ALL, GazetteUI

    ui = GazetteUI(ServiceHolder(gazette_settings, service=gazette_service), FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite'}"))
    chat, turns = [], []
    for question in ("共享单车用户需要满多少岁？", "这个文件的文号是什么？"):
        *_, (_, chat, turns, _, _) = ui.respond(question, chat, turns, ALL, ALL, ALL, ALL)
    first, follow = chat[1]["content"], chat[3]["content"]
    assert "理解为" not in first and "16" in first
    assert follow.startswith(f"（理解为：《{BIKE_TITLE}》的文号是什么？）") and "阳政办发〔2022〕34号" in follow
    assert turns[1]["question"] == "这个文件的文号是什么？" and turns[1]["rewritten_question"]
    # 👍 on the follow-up stores it with the question it was answered as.
    assert ui._store(1, turns, 1, "") == "已记录反馈，谢谢！"
    assert ui.feedback.list(1, 0)[0].question == f"这个文件的文号是什么？（理解为：《{BIKE_TITLE}》的文号是什么？）"


def test_odd_citations_from_a_client_are_read_safely():
    assert cited_document([{"document_title": 5, "doc_number": ["x"]}, {"doc_title": " T ", "year": "abc"}]) == \
        CitedDocument("T", "", 0)
    assert cited_document([{"doc_title": "T", "year": True, "issue": "2021-04"}]).year == 2021
    assert cited_document([{"doc_title": "T", "year": 2020}]).year == 2020


def test_chat_messages_become_history_entries():
    from qa.api.openai_compat import ChatRequest, _history

    req = ChatRequest.model_validate({"messages": [
        {"role": "system", "content": "你是公报助手"},
        {"role": "user", "content": "共享单车用户需要满多少岁？"},
        {"role": "assistant", "content": "年满16周岁。[1]", "citations": [{"document_title": BIKE_TITLE}, "junk"]},
        {"role": "user", "content": "   "},  # no question: its reply is no answer to the one before
        {"role": "assistant", "content": "请输入问题。"},
        {"role": "user", "content": [{"type": "text", "text": "2022年地质灾害防治领导小组组长是谁？"}]},
        {"role": "user", "content": "这个文件的文号是什么？"}]})
    assert _history(req) == [
        {"question": "共享单车用户需要满多少岁？", "answer": "年满16周岁。[1]", "answered": True,
         "citations": [{"document_title": BIKE_TITLE}]},
        {"question": "2022年地质灾害防治领导小组组长是谁？", "answer": "", "answered": True, "citations": None}]


def test_no_question_of_the_eval_set_is_taken_for_a_follow_up():
    """eval/questions.jsonl holds standalone questions only (some with pronouns inside: 是谁？他原来…; its, his):
    even after a turn with a document, a person, a group and a year none is rewritten."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"
    questions = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) > 500
    assert [q for q in questions if needs_context(q)] == []
