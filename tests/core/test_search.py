"""Full-text search over Chinese text (core/search.py, ADR 0003): jieba words, AND matching,
title substrings, ranking, the caller's data scope inside the SQL, updates and removal, the
CLI. Runs on SQLite (FTS5) here and on PostgreSQL (tsvector + GIN) in the service pass."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from govcenter.core import search
from govcenter.core.models import AuditEntry, SearchDocument
from tests.helpers.org import build_org
from tests.workflow_app.models import Note


@pytest.fixture
def org(db):
    return build_org()


@pytest.fixture(autouse=True)
def registered():
    search.register("test.note", Note, document=lambda n: (n.title, n.body), label="便签")
    yield
    search._registry.pop("test.note", None)


def note(district, title, body=""):
    n = Note.objects.create(district=district, title=title, body=body)
    search.index(n)
    return n


def ids(hits):
    return [h.object_id for h in hits]


def test_two_character_words_match_and_every_word_must_be_present(org):
    a = note(org.dongcheng, "建国路占道停车治理", "朝阳区建国路早高峰拥堵，建议增设停车泊位管理")
    b = note(org.dongcheng, "东直门交通组织", "东城区东直门桥区早高峰拥堵")
    note(org.dongcheng, "其他事项", "与交通无关")
    assert set(ids(search.query(org.leader, "拥堵")[1])) == {a.pk, b.pk}
    assert ids(search.query(org.leader, "停车")[1]) == [a.pk]  # 两字词
    assert ids(search.query(org.leader, "建国路 拥堵")[1]) == [a.pk]
    assert search.query(org.leader, "建国路 东直门")[0] == 0  # AND, not OR
    assert search.query(org.leader, "")[0] == 0


def test_the_scope_is_applied_before_counting(org):
    mine = note(org.dongcheng, "东城拥堵点位", "交通拥堵")
    theirs = note(org.xicheng, "西城拥堵点位", "交通拥堵")
    total, hits = search.query(org.manager_dc, "拥堵")
    assert (total, ids(hits)) == (1, [mine.pk])
    total, hits = search.query(org.manager_xc, "拥堵")
    assert (total, ids(hits)) == (1, [theirs.pk])
    assert search.query(org.leader, "拥堵")[0] == 2
    assert search.query(org.plain_dc, "拥堵")[0] == 0  # no scope, nothing


def test_a_title_fragment_jieba_does_not_cut_still_matches(org):
    n = note(org.dongcheng, "京A12345 违停投诉", "")
    assert ids(search.query(org.leader, "A1234")[1]) == [n.pk]


def test_ranking_puts_the_denser_match_first(org):
    weak = note(org.dongcheng, "综合报告", "本报告涉及多个方面，其中一处提到信号灯。" + "其他内容。" * 40)
    strong = note(org.dongcheng, "信号灯配时优化", "信号灯 信号灯 信号灯配时")
    total, hits = search.query(org.leader, "信号灯")
    assert total == 2 and ids(hits) == [strong.pk, weak.pk]
    assert hits[0].rank > hits[1].rank


def test_reindexing_an_edited_object_replaces_its_words_and_remove_forgets_it(org):
    n = note(org.dongcheng, "学院路改造", "施工期间交通疏导")
    n.body = "完工后开放通行"
    n.save()
    search.index(n)
    assert search.query(org.leader, "疏导")[0] == 0
    assert ids(search.query(org.leader, "通行")[1]) == [n.pk]
    assert SearchDocument.objects.count() == 1
    search.remove(n)
    assert search.query(org.leader, "通行")[0] == 0


def test_unknown_kinds_and_odd_queries(org):
    note(org.dongcheng, "双引号\"测试\"", "含有 AND OR NOT * 等 FTS 语法字符")
    with pytest.raises(ValueError):
        search.query(org.leader, "x", kinds=["nope"])
    for text in ['"', "AND", "*", "NOT OR", "测试\"", "(", "^"]:
        search.query(org.leader, text)  # never a syntax error from the index


def test_cli_reindex_and_query(org, capsys):
    note(org.dongcheng, "西二旗地铁站接驳", "共享单车停放秩序")
    SearchDocument.objects.all().delete()
    call_command("search", "reindex", "--kind", "test.note")
    assert json.loads(capsys.readouterr().out) == {"test.note": 1}
    assert AuditEntry.objects.filter(action="search.reindex").exists()
    call_command("search", "query", "单车", "--user", org.leader.username)
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0]) == {"total": 1} and json.loads(lines[1])["title"] == "西二旗地铁站接驳"
