"""A transcript checked against ICF's rules for credential performance evaluations
(GET /api/v1/sessions/{id}/icf-check).

What ICF asks of a submitted recording and transcript (docs: coaching-domain.md), and what we can
check from the transcript: the recording is 20 to 60 minutes long; two people speak, the coach and
the client; every statement is labelled coach or client; there is a timestamp at every change of
speaker; only first names are used. The first four are rules: each passes or fails, with a reason
and the segments at fault. Surnames cannot be known for sure, so words that look like one (a
capitalised word right after a capitalised name, a word after Mr/Ms/Mrs/Dr, a Chinese surname
before 先生/小姐/老師…) are warnings for the coach to review; they do not fail the check.
Verbatim wording, the client's consent and the file format (our DOCX download) are the coach's
to confirm.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from coaching_assistant.models import CoachingSession
from coaching_assistant.services import transcripts

MIN_SECONDS, MAX_SECONDS = 20 * 60, 60 * 60

_TITLE_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+([A-Z][a-z]+(?:-[A-Z][a-z]+)?)")
# Two capitalised words in a row; the second in a lookahead, so "Hi Sarah Chen" finds "Sarah Chen"
# after "Hi Sarah".
_NAME_PAIR = re.compile(r"\b([A-Z][a-z]+)(?=\s+([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b)")
# Capitalised words that start sentences or are capitalised anyway, not first names.
_NOT_NAMES = frozenset(
    "I A An The This That These Those What How Why When Where Who Which So And But Or If Then Now Well Yes No Okay "
    "Ok Hi Hello Hey Thanks Thank Great Good Let Lets My Our Your Their His Her We You They It Is Are Do Does Did "
    "Can Could Would Should Will Maybe Sure Right Coach Client Monday Tuesday Wednesday Thursday Friday Saturday "
    "Sunday January February March April May June July August September October November December English "
    "Chinese Mandarin Tell Ask Call Meet See Welcome Dear Happy Congratulations Please Just Also".split())
# A common Chinese surname right before a form of address: 王先生, 陳小姐, 林老師.
_CHINESE_SURNAMES = ("王李張张劉刘陳陈楊杨黃黄趙赵吳吴周徐孫孙馬马朱胡郭何林羅罗高鄭郑梁謝谢宋唐許许韓韩馮冯鄧邓曹彭"
                     "曾蕭萧田董潘袁蔡蔣蒋余杜葉叶程蘇苏魏呂吕丁任沈姚盧卢姜崔鍾钟譚谭陸陆汪范金石廖賈贾夏韋韦傅方"
                     "白鄒邹孟熊秦邱江尹薛閻阎段雷侯龍龙史陶黎賀贺顧顾毛郝龔龚邵萬万錢钱嚴严覃武戴莫孔湯汤簡简游柯詹賴赖")
# (向 and 于 are left out: 「向老師請教」 is "ask the teacher", not a surname.)
_CHINESE_TITLE = re.compile(f"([{_CHINESE_SURNAMES}])(先生|小姐|女士|太太|老師|老师|醫生|医生|博士|教授|經理|经理)")


@dataclass
class Rule:
    rule: str
    passed: bool
    reason: str | None = None  # in English; `problem` and `details` let a client say it in its language
    segment_ids: list[uuid.UUID] = field(default_factory=list)
    severity: str = "required"  # or "warning": shown for review, never fails the check
    names: list[str] = field(default_factory=list)  # the likely surnames found (first_names_only)
    problem: str | None = None  # too_short, too_long, one_voice, extra_voices, unlabelled, missing_role, …
    details: dict[str, Any] = field(default_factory=dict)


def check(session: CoachingSession) -> dict[str, Any]:
    """{"passed", "rules": [...]}: passed when every required rule passes."""
    segments = transcripts.completed_segments(session)
    rules = [_length(session.duration_seconds), _two_speakers(session, segments),
             _labelled(session, segments), _timestamps(segments), _first_names_only(session, segments)]
    return {"passed": all(r.passed for r in rules if r.severity == "required"), "rules": [asdict(r) for r in rules]}


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _length(duration: float | None) -> Rule:
    seconds = float(duration or 0.0)
    length = {"length": _clock(seconds)}
    if seconds < MIN_SECONDS:
        return Rule("length", False, f"The recording is {_clock(seconds)} long; ICF refuses recordings shorter "
                                     "than 20 minutes.", problem="too_short", details=length)
    if seconds > MAX_SECONDS:
        return Rule("length", False, f"The recording is {_clock(seconds)} long; ICF does not score recordings "
                                     "longer than 60 minutes.", problem="too_long", details=length)
    return Rule("length", True)


def _two_speakers(session: CoachingSession, segments: list[Any]) -> Rule:
    """Exactly two voices. With more, the segments of all but the two who speak most are named,
    unless the user has said whose they are (a role set for the speaker or the segment): the
    speaker separation can split one person in two, and a role is how the user joins them."""
    talk: dict[int, float] = {}
    for s in segments:
        talk[s.speaker_id] = talk.get(s.speaker_id, 0.0) + (s.end_seconds - s.start_seconds)
    if len(talk) == 2:
        return Rule("two_speakers", True)
    if len(talk) < 2:
        return Rule("two_speakers", False, "Only one voice was found; ICF asks for a session between a coach and "
                                           "one client. If two people speak, transcribe it again with 2 speakers.",
                    problem="one_voice")
    main = sorted(talk, key=lambda speaker: -talk[speaker])[:2]
    stored = session.speaker_roles or {}

    def settled(segment: Any) -> bool:
        speaker = stored.get(str(segment.speaker_id)) or {}
        return bool(segment.role) or (speaker.get("source") == "user" and speaker.get("role") in ("coach", "client"))

    extra = [s.id for s in segments if s.speaker_id not in main and not settled(s)]
    if not extra:
        return Rule("two_speakers", True)
    return Rule("two_speakers", False, f"{len(talk)} voices were found; ICF asks for a session between a coach "
                                       "and one client. If these segments are the coach's or the client's, set "
                                       "their role; if two people speak, you can also transcribe it again with 2 "
                                       "speakers.", extra, problem="extra_voices", details={"voices": len(talk)})


def _labelled(session: CoachingSession, segments: list[Any]) -> Rule:
    """Every segment is the coach's or the client's (overrides count), and both are there."""
    unknown = [s.id for s in segments if transcripts.effective_role(session, s) not in ("coach", "client")]
    if unknown:
        return Rule("roles_labelled", False, f"{len(unknown)} segments are neither coach nor client; set their "
                                             "speaker's role, or each segment's.", unknown, problem="unlabelled",
                    details={"count": len(unknown)})
    present = {transcripts.effective_role(session, s) for s in segments}
    if present != {"coach", "client"}:
        missing = ({"coach", "client"} - present).pop()
        return Rule("roles_labelled", False, f"No segment is labelled {missing}; a credential transcript shows "
                                             "both the coach's and the client's words.", problem="missing_role",
                    details={"role": missing})
    return Rule("roles_labelled", True)


def _timestamps(segments: list[Any]) -> Rule:
    """Each turn can carry the time it starts: every segment has a start no later than its end,
    and times never go back (the DOCX download writes one at every change of speaker)."""
    bad: list[uuid.UUID] = []
    latest = 0.0
    for s in segments:
        if s.start_seconds is None or s.end_seconds is None or s.start_seconds > s.end_seconds \
                or s.start_seconds < latest:
            bad.append(s.id)
            continue
        latest = s.start_seconds
    if bad:
        return Rule("timestamps", False, "These segments have no time, or a time earlier than the segment "
                                         "before; fix them so each change of speaker has its time.", bad,
                    problem="bad_times")
    return Rule("timestamps", True)


def likely_surnames(text: str) -> list[str]:
    """Names in the text that look like a first name with a surname, or a surname with a title."""
    found = [title.group(0) for title in _TITLE_NAME.finditer(text)]
    found += [f"{pair.group(1)} {pair.group(2)}" for pair in _NAME_PAIR.finditer(text)
              if pair.group(1) not in _NOT_NAMES and pair.group(2) not in _NOT_NAMES]
    found += [title.group(0) for title in _CHINESE_TITLE.finditer(text)]
    return list(dict.fromkeys(found))


def _first_names_only(session: CoachingSession, segments: list[Any]) -> Rule:
    """Likely surnames in what was said, and in what a document shows besides: the title and the
    speakers' names (a name the user gave, or one an imported file had)."""
    names: dict[str, None] = {}
    at: list[uuid.UUID] = []
    for s in segments:
        found = likely_surnames(s.content)
        if found:
            at.append(s.id)
            names.update(dict.fromkeys(found))
    shown = [session.title or ""] + [str(entry.get(key) or "") for entry in (session.speaker_roles or {}).values()
                                     for key in ("label", "name")]
    for text in shown:
        names.update(dict.fromkeys(likely_surnames(text)))
    if not names:
        return Rule("first_names_only", True, severity="warning")
    return Rule("first_names_only", False, "ICF asks that only first names are used. These may name someone by "
                                           "their surname: review them (in the segments, the title or a speaker's "
                                           "name), and edit them if so.", at, severity="warning",
                names=list(names), problem="surnames")
