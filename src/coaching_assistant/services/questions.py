"""Open and closed questions, as a mentor coach counts them, in English and Chinese.

An open question invites the client to think and talk ("What would you like…", "How will you
know…", "Tell me more…", 「你想怎麼做？」); a closed one is answered yes or no, or with one fact
("Is that right?", "Did you…", 「是不是…？」, 「…嗎？」). Each sentence of a text is looked at on its
own: it is a question when it ends with ? or ？, or when it is a request that works as one
("Tell me…", "Describe…", 「說說看…」) even without the mark. Chinese rules apply to a sentence
with Chinese characters, English ones to the rest.

English: a clause that starts with a question word (what, how, why, where, when, who, which),
after fillers ("So", "And", "Okay") and after a greeting or a name set off by a comma ("Hi Sarah,
what…"), makes it open; any other question is closed ("Did you…", "Is it…", "You mean
tomorrow?"). Chinese: a final 嗎/吗 makes it closed (「你有什麼想法嗎？」 asks for a yes or no);
otherwise a question word (什麼, 怎麼, 如何, 為什麼, 哪, 誰, 多少…) makes it open, and any other
question is closed (是不是…, 有沒有…, 「你明天去？」).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

Kind = Literal["open", "closed"]

_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z']+")
_CLAUSE = re.compile(r"[,;:—–]")  # "Hi Sarah, what would you like…": the question starts after the comma

_FILLERS = frozenset("so and but okay ok well then now um uh right alright yeah oh hi hello hey".split())
_OPEN_WORDS = frozenset("what how why where when who whom whose which".split())
_OPEN_REQUESTS = ("tell me", "describe", "explain", "walk me through", "say more", "talk me through",
                  "help me understand", "share with me")

_ZH_OPEN = ("什麼", "什么", "甚麼", "怎麼", "怎么", "怎樣", "怎样", "如何", "為什麼", "为什么", "為何", "为何",
            "哪", "誰", "谁", "多少", "幾", "几")
_ZH_REQUESTS = ("說說", "说说", "談談", "谈谈", "分享", "描述", "請告訴我", "请告诉我")
_ZH_CLOSED_END = re.compile(r"[嗎吗][\s？?。！!]*$")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def classify(sentence: str) -> Kind | None:
    """`open`, `closed`, or None when the sentence is not a question."""
    asked = sentence.rstrip().endswith(("?", "？"))
    if _CJK.search(sentence):
        return _classify_chinese(sentence, asked)
    return _classify_english(sentence, asked)


def _classify_english(sentence: str, asked: bool) -> Kind | None:
    starts = [_clause_start(clause) for clause in _CLAUSE.split(sentence)]
    if any(start == request or start.startswith(request + " ") for start in starts for request in _OPEN_REQUESTS):
        return "open"
    if not asked:
        return None
    if any(start.split(" ", 1)[0] in _OPEN_WORDS for start in starts if start):
        return "open"
    return "closed"  # an auxiliary first ("Did you…"), or a statement asked ("You mean tomorrow?")


def _clause_start(clause: str) -> str:
    """The first words of a clause after its fillers, lower case: "So, what…" → "what …"."""
    words = [w.lower() for w in _WORD.findall(clause)]
    while words and words[0] in _FILLERS:
        words.pop(0)
    return " ".join(words[:4])


def _classify_chinese(sentence: str, asked: bool) -> Kind | None:
    if sentence.lstrip().startswith(_ZH_REQUESTS):
        return "open"
    if not asked and not _ZH_CLOSED_END.search(sentence):
        return None
    if _ZH_CLOSED_END.search(sentence):
        return "closed"
    if any(word in sentence for word in _ZH_OPEN):
        return "open"
    return "closed"  # A-not-A (是不是…), or a statement asked


def count(text: str) -> Counter[Kind]:
    """How many open and closed questions the text asks."""
    return Counter(kind for sentence in sentences(text) if (kind := classify(sentence)) is not None)
