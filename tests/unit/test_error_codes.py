"""Error codes are named once, in core/errors.py: nothing else spells one as a bare string."""

from __future__ import annotations

import re
from pathlib import Path

from coaching_assistant.core.errors import HTTP_STATUS, CoachingError, ErrorCode, InvalidState, PermanentError

ROOT = Path(__file__).resolve().parents[2]
ERRORS = ROOT / "src" / "coaching_assistant" / "core" / "errors.py"
# `code="…"`, `error_code="…"`, `code = "…"`: a code written where it is used instead of named
BARE_CODE = re.compile(r"""\b(?:error_)?code\s*=\s*["'][a-z_]+["']""")


def test_no_module_spells_an_error_code_as_a_string():
    code = [path for folder in ("src", "apps", "scripts") for path in (ROOT / folder).rglob("*.py") if path != ERRORS]
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for path in code
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if BARE_CODE.search(line) or '"code": "' in line]
    assert found == []


def test_the_status_comes_from_the_code_unless_given():
    assert InvalidState("x").status_code == 409
    assert CoachingError("x", ErrorCode.AUDIO_TOO_LONG).status_code == 422
    assert CoachingError("x", ErrorCode.SESSION_RATE_LIMITED, status_code=503).status_code == 503
    assert PermanentError("x", ErrorCode.STT_REJECTED).status_code == 500  # only ever a session's code


def test_codes_are_the_strings_clients_see():
    assert ErrorCode.UNDECODABLE_AUDIO == "undecodable_audio"
    assert all(code.value == code.name.lower() for code in ErrorCode)
    assert set(HTTP_STATUS) <= set(ErrorCode)
