"""Open and closed questions, as a mentor coach counts them, in English and Chinese.

An open question invites the client to think and talk ("What would you like…", "How will you
know…", "Tell me more…", 「你想怎麼做？」); a closed one is answered yes or no, or with one fact
("Is that right?", "Did you…", 「是不是…？」, 「…嗎？」). Each sentence of a text is looked at on its
own: it is a question when it ends with ? or ？, or when it is a request that works as one
("Tell me…", "Describe…", 「說說看…」) even without the mark. Chinese rules apply to a sentence
with Chinese characters, English ones to the rest.

English: the clause that carries the question decides (after fillers such as "So" or "And", a
greeting or name set off by a comma, "Hi Sarah,", and a clause that leads into another, "When you
say stuck, …"): a question word (what, how, why, where, when, who, which) makes it open, unless
it suggests the answer or checks a paraphrase ("Why don't you…", "How about…", "What about…",
"So what you're saying is…", "Which…, A or B?"), which is closed, like any other question ("Did
you…", "Is it…", "You mean tomorrow?"). Chinese: a final 嗎 or an A-not-A form (是不是, 有沒有,
要不要…) makes it closed; otherwise a question word (什麼, 怎麼, 如何, 為什麼, 哪, 誰, 多少, 幾)
or a final 呢 (「你覺得呢？」) makes it open, and any other question is closed (「你明天去？」).
Requests count as open questions: 說說, 談談, 多說, 告訴我, and 分享 or 描述 addressed to 你.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

Kind = Literal["open", "closed"]

# A sentence ends at . ! ? followed by a space or the end (not inside 3.5 or after Dr.), or at 。！？.
_ABBREVIATIONS = r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bProf)(?<!\bvs)(?<!\be\.g)(?<!\bi\.e)"
_SENTENCE_END = re.compile(rf"(?:{_ABBREVIATIONS}[.!?]+(?=\s|$)|[。！？]+)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]+")  # "what's" reads as "what", "s"
_CLAUSE = re.compile(r"[,;:—–]")  # "Hi Sarah, what would you like…": the question starts after the comma

_FILLERS = frozenset("so and but okay ok well then now um uh right alright yeah oh hi hello hey".split())
_SUBORDINATE = frozenset("when if since because as after before while although".split())
_OPEN_WORDS = frozenset("what how why where when who whom whose which".split())
# Questions that start like open ones but suggest an answer or check a paraphrase: closed.
_LEADING = ("why don t you", "why not", "how about", "what about", "what if you", "what you re saying",
            "what you are saying", "what i m hearing", "what i am hearing")
_OPEN_REQUESTS = ("tell me", "describe", "explain", "walk me through", "say more", "talk me through",
                  "help me understand", "share with me")

_ZH_OPEN = re.compile("什麼|什么|甚麼|怎麼|怎么|怎樣|怎样|如何|為什麼|为什么|為何|为何|哪(?!怕)|誰|谁|多少"
                      "|幾(?!乎)|几(?!乎)")
_ZH_A_NOT_A = re.compile(r"(\w)[不沒没]\1")  # 是不是, 有沒有, 要不要, 會不會…: a yes or no
_ZH_REQUEST = re.compile(r"^(?:請|请|那|再|可以)?(?:說說|说说|說一說|说一说|談談|谈谈|講講|讲讲|多說|多说"
                         r"|告訴我|告诉我)|^(?:請|请)?(?:分享|描述).*[你妳您]")
_ZH_CLOSED_END = re.compile(r"[嗎吗][\s？?。！!]*$")
_ZH_OPEN_END = re.compile(r"呢[\s？?]*$")  # 「你覺得呢？」 hands the question to the client


def sentences(text: str) -> list[str]:
    pieces, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        pieces.append(text[start:end.end()])
        start = end.end()
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def classify(sentence: str) -> Kind | None:
    """`open`, `closed`, or None when the sentence is not a question. A sentence that starts with
    an English word follows the English rules, Chinese words inside it or not."""
    asked = sentence.rstrip().endswith(("?", "？"))
    first = sentence.lstrip()[:1]
    if _CJK.search(sentence) and not first.isascii():
        return _classify_chinese(sentence.strip(), asked)
    return _classify_english(sentence, asked)


def _classify_english(sentence: str, asked: bool) -> Kind | None:
    clause = _deciding_clause(sentence)
    if any(clause == request or clause.startswith(request + " ") for request in _OPEN_REQUESTS):
        return "open"
    if not asked:
        return None
    if clause.startswith(_LEADING) or (clause.startswith("which") and " or " in sentence.lower()):
        return "closed"
    return "open" if clause.split(" ", 1)[0] in _OPEN_WORDS else "closed"


def _deciding_clause(sentence: str) -> str:
    """The clause that carries the question, lower case, after its fillers: the first one that is
    neither a greeting or a name ("Hi Sarah,", at most two words) nor a clause that leads into
    another ("When you say stuck, do you mean…")."""
    clauses = [" ".join(w.lower() for w in _WORD.findall(part)) for part in _CLAUSE.split(sentence)]
    clauses = [_without_fillers(c) for c in clauses if c]
    for index, clause in enumerate(clauses):
        last = index == len(clauses) - 1
        if not last and (len(clause.split()) <= 2 or clause.split(" ", 1)[0] in _SUBORDINATE):
            continue
        return clause
    return clauses[-1] if clauses else ""


def _without_fillers(clause: str) -> str:
    words = clause.split()
    while words and words[0] in _FILLERS:
        words.pop(0)
    return " ".join(words)


def _classify_chinese(sentence: str, asked: bool) -> Kind | None:
    if _ZH_REQUEST.search(sentence):
        return "open"
    closed_end = bool(_ZH_CLOSED_END.search(sentence))
    if not asked and not closed_end:
        return None
    if closed_end or _ZH_A_NOT_A.search(sentence):
        return "closed"
    if _ZH_OPEN.search(sentence) or _ZH_OPEN_END.search(sentence):
        return "open"
    return "closed"  # a statement asked: 「你明天去？」


def count(text: str) -> Counter[Kind]:
    """How many open and closed questions the text asks."""
    return Counter(kind for sentence in sentences(text) if (kind := classify(sentence)) is not None)
