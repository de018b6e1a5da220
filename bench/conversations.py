#!/usr/bin/env python3
"""A generated set of coaching conversations for measuring roles and speaker counts
(bench/roles_accuracy.py): espeak-ng voices, digital silence between turns, each turn's speaker,
role and times known.

    .venv/bin/python bench/conversations.py [DIR]     # writes NAME.wav and NAME.json for each

Needs Debian's espeak-ng and sox. Nothing is committed: the set is made again where it is
measured (about 20 s), into DIR (default `.cache/conversations`). Besides the styles a coach
meets (male and female voices, two men, two women, a mentoring session where the coach talks
most and the client asks, a client who asks most questions, a client who opens, team sessions
of three and four voices, sessions under a minute, one voice), one conversation is also written as
22.05 kHz and 44.1 kHz WAV, MP3 and M4A, so a container cannot change what is found.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from make_fixture import CONVERSATION as FIXTURE_CONVERSATION  # noqa: E402
from make_fixture import MENTORING as FIXTURE_MENTORING  # noqa: E402
from make_fixture import TWO_MEN as FIXTURE_TWO_MEN  # noqa: E402

DEFAULT_DIR = ROOT / ".cache" / "conversations"
RATE = 16000
PAUSE_SECONDS = 0.6

# espeak-ng voices: language + variant. The coach of the "same coach" pair (mentor_*) is one voice.
VOICES = {"us_m": "en-us+m3", "us_f": "en-us+f2", "gb_m": "en-gb+m7", "gb_f": "en-gb+f4", "us_m2": "en-us+m1",
          "gb_f2": "en-gb-x-rp+f3", "sc_m": "en-gb-scotland+m2", "us_f3": "en-us+f5"}


@dataclass(frozen=True)
class Conversation:
    name: str
    style: str
    voices: dict[str, str]  # speaker name -> VOICES key
    roles: dict[str, str]  # speaker name -> coach | client
    turns: tuple[tuple[str, str], ...]  # (speaker name, text)


def _c(name: str, style: str, voices: dict[str, str], roles: dict[str, str], *turns: tuple[str, str]) -> Conversation:
    return Conversation(name, style, voices, roles, tuple(turns))


COACH_CLIENT = {"coach": "coach", "client": "client"}

SET = [
    # the committed fixtures' dialogues (scripts/make_fixture.py), in their voices
    _c("male_female", "male coach, female client", {"coach": "us_m", "client": "us_f"}, COACH_CLIENT,
       *FIXTURE_CONVERSATION),
    _c("two_men", "two male voices", {"coach": "us_m", "client": "gb_m"}, COACH_CLIENT, *FIXTURE_TWO_MEN),
    _c("two_women", "two female voices", {"coach": "gb_f", "client": "us_f"}, COACH_CLIENT,
       ("coach", "Welcome back, Mei. Where would you like to start today?"),
       ("client", "With my promotion. I was offered the team lead role and I am not sure I want it."),
       ("coach", "What makes you unsure?"),
       ("client", "I love the hands on work. I am afraid that I will spend all my time in meetings and lose "
                  "touch with what I am good at."),
       ("coach", "What would have to be true for the role to feel right?"),
       ("client", "I would need at least one day a week for my own projects, and a clear plan for who takes "
                  "over the reporting."),
       ("coach", "Who could you ask about that?"),
       ("client", "My manager. I will raise it in our one to one on Monday.")),
    _c("female_coach_male_client", "female coach, male client", {"coach": "gb_f2", "client": "sc_m"}, COACH_CLIENT,
       ("coach", "Hello Tom. What would make this hour useful for you?"),
       ("client", "I keep saying yes to everything, and by Friday I am exhausted and behind on my own goals."),
       ("coach", "What happens just before you say yes?"),
       ("client", "I feel a kind of pressure. I do not want to disappoint anyone, especially my director."),
       ("coach", "How could you buy yourself a moment before you answer?"),
       ("client", "I could say that I will check my week and reply in an hour. That sounds simple enough."),
       ("coach", "What will you try this week?"),
       ("client", "I will use that sentence for every new request until our next session.")),
    _c("mentoring", "mentoring: the coach talks most, the client asks", {"coach": "us_m", "client": "gb_f"},
       COACH_CLIENT,
       *FIXTURE_MENTORING),
    _c("client_asks", "the client asks most of the questions", {"coach": "gb_f", "client": "us_m2"}, COACH_CLIENT,
       ("coach", "Hi Ben. What is on your mind today?"),
       ("client", "Honestly, I have questions for you. Is it normal to feel stuck after a reorganisation? "
                  "Do other people go through this? Should I be worried?"),
       ("coach", "Those sound like important questions. What makes you ask them now?"),
       ("client", "My new manager changed all my priorities. Why would she do that without asking me? "
                  "Did I do something wrong?"),
       ("coach", "What do you know about her reasons?"),
       ("client", "Not much. Could I just ask her directly? Would that seem defensive?"),
       ("coach", "How could you ask in a way that feels curious rather than defensive?"),
       ("client", "Maybe I can ask what she wants me to achieve this quarter. Does that sound reasonable?")),
    _c("client_opens", "the client opens the session", {"coach": "us_f3", "client": "gb_m"}, COACH_CLIENT,
       ("client", "Before we start, I want to tell you that the last two weeks went much better than I "
                  "expected. I had the conversation with my team and it went well."),
       ("coach", "That is great news. What made the difference?"),
       ("client", "I prepared my first sentence, like we discussed, and after that it was easier to listen."),
       ("coach", "What did you learn about yourself?"),
       ("client", "That I can stay calm when I know how to begin. I want to use that with my director too."),
       ("coach", "How would you like to begin with your director?"),
       ("client", "By asking for twenty minutes to talk about my workload, and bringing a short list.")),
    _c("team_three", "team coaching: a coach and two clients", {"coach": "us_m", "anna": "us_f", "raj": "gb_m"},
       {"coach": "coach", "anna": "client", "raj": "client"},
       ("coach", "Welcome both of you. What would you like to get out of this session as a team?"),
       ("anna", "We want to stop arguing about priorities in every planning meeting."),
       ("raj", "And I would like us to agree on who decides when we disagree."),
       ("coach", "What usually happens when you disagree?"),
       ("anna", "We both push our own projects, and then nothing gets decided until our manager steps in."),
       ("raj", "Which is frustrating, because we actually agree on most of the goals."),
       ("coach", "What would a fair way to decide look like for each of you?"),
       ("anna", "A simple rule, like the project closest to a customer deadline goes first."),
       ("raj", "I could live with that, as long as we review it every month.")),
    _c("team_four", "team coaching: a coach and three clients",
       {"coach": "gb_f", "leo": "us_m", "sam": "us_f", "ian": "sc_m"},
       {"coach": "coach", "leo": "client", "sam": "client", "ian": "client"},
       ("coach", "Thank you for joining. What is the one thing this team most needs from today?"),
       ("leo", "Clarity about roles. Nobody knows who owns the release process."),
       ("sam", "I agree, and I think we also need to talk about how we give each other feedback."),
       ("ian", "For me it is time. We are all overloaded and the meetings keep growing."),
       ("coach", "What would change if roles were clear?"),
       ("leo", "Fewer surprises on release day, and less waiting for approvals."),
       ("sam", "And fewer awkward conversations after something goes wrong."),
       ("ian", "We could probably cancel half of our status meetings.")),
    _c("short_male_female", "a session under a minute", {"coach": "us_m", "client": "us_f"}, COACH_CLIENT,
       ("coach", "What would you like to work on today?"),
       ("client", "My presentation next week. I get nervous in front of the board."),
       ("coach", "What helps you feel steady?"),
       ("client", "Practising out loud, I think.")),
    _c("short_two_men", "a session under a minute, two male voices", {"coach": "gb_m", "client": "us_m2"},
       COACH_CLIENT,
       ("coach", "How did the week go?"),
       ("client", "Better. I finally delegated the budget report."),
       ("coach", "What made that possible?"),
       ("client", "I trusted my deputy more than before.")),
    _c("short_female_coach", "a session under a minute, the coach's voice of female_coach_male_client",
       {"coach": "gb_f2", "client": "us_m2"}, COACH_CLIENT,
       ("coach", "What would you like to leave with today?"),
       ("client", "A plan for my first month in the new job."),
       ("coach", "Where would you like to begin?"),
       ("client", "With the people. I want to meet everyone in my team.")),
    _c("mentor_same_coach", "mentoring, the coach's voice of male_female and mentoring",
       {"coach": "us_m", "client": "us_f3"}, COACH_CLIENT,
       ("client", "Could you explain how I should end a session? My endings always feel rushed."),
       ("coach", "Endings matter. In the last five minutes, invite the client to name what they are taking "
                 "away, in their own words, and what they will do next. Then ask how they will support "
                 "themselves. Avoid adding a new topic, and avoid summarising everything yourself."),
       ("client", "Should I always ask about accountability?"),
       ("coach", "Not always with the same question. Sometimes it is enough to ask how they will know they "
                 "made progress. The point is that the client designs the follow up, not you."),
       ("client", "That makes sense, thank you.")),
    _c("monologue", "one voice", {"coach": "us_m"}, {"coach": "coach"},
       ("coach", "This is a recorded reflection after my session with a client. I noticed that I asked too many "
                 "closed questions in the first half. When I slowed down and asked what mattered most to her, "
                 "the conversation changed. Next time I want to start with that question, and leave more "
                 "silence after her answers.")),
]

# One conversation in other containers and rates: the same audio must give the same speakers.
VARIANTS_OF = "male_female"
VARIANTS = {"wav22": ("wav", 22050), "wav44": ("wav", 44100), "mp3": ("mp3", 16000), "m4a": ("m4a", 44100)}


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def _seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True).stdout)


def make(conversation: Conversation, directory: Path) -> Path:
    """NAME.wav (16 kHz mono, digital silence between turns) and NAME.json (the truth)."""
    directory.mkdir(parents=True, exist_ok=True)
    wav = directory / f"{conversation.name}.wav"
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        silence = tmpdir / "silence.wav"
        _run("sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(silence), "trim", "0", str(PAUSE_SECONDS))
        parts, turns, cursor = [silence], [], PAUSE_SECONDS
        for index, (speaker, text) in enumerate(conversation.turns):
            raw, turn = tmpdir / f"{index}_raw.wav", tmpdir / f"{index}.wav"
            _run("espeak-ng", "-v", VOICES[conversation.voices[speaker]], "-s", "165", "-w", str(raw), text)
            _run("sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(turn))
            length = _seconds(turn)
            turns.append({"speaker": speaker, "role": conversation.roles[speaker], "text": text,
                          "start": round(cursor, 3), "end": round(cursor + length, 3)})
            cursor += length + PAUSE_SECONDS
            parts += [turn, silence]
        _run("sox", *map(str, parts), str(wav))
    truth = {"name": conversation.name, "style": conversation.style, "duration_seconds": round(cursor, 3),
             "voices": {speaker: VOICES[key] for speaker, key in conversation.voices.items()},
             "roles": conversation.roles, "speakers": len(conversation.voices), "turns": turns}
    wav.with_suffix(".json").write_text(json.dumps(truth, indent=1) + "\n")
    return wav


def make_variants(wav: Path) -> dict[str, Path]:
    """The same recording as 22.05/44.1 kHz WAV, MP3 and M4A (AAC, written by PyAV)."""
    made = {}
    for label, (container, rate) in VARIANTS.items():
        target = wav.with_name(f"{wav.stem}.{label}.{container}")
        if container == "m4a":
            _write_m4a(wav, target, rate)
        else:
            _run("sox", str(wav), "-r", str(rate), str(target))
        made[label] = target
    return made


def _write_m4a(source: Path, target: Path, rate: int) -> None:
    import av

    with av.open(str(source)) as reader, av.open(str(target), "w", format="mp4") as writer:
        stream = writer.add_stream("aac", rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        for frame in reader.decode(audio=0):
            for converted in resampler.resample(frame):
                writer.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            writer.mux(stream.encode(converted))
        writer.mux(stream.encode(None))


def make_all(directory: Path = DEFAULT_DIR) -> list[Path]:
    made = [make(conversation, directory) for conversation in SET]
    make_variants(directory / f"{VARIANTS_OF}.wav")
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    for path in make_all(target):
        truth = json.loads(path.with_suffix(".json").read_text())
        print(f"{path.name}: {truth['duration_seconds']:.1f} s, {truth['speakers']} voices, {truth['style']}")
