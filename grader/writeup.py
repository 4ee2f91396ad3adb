"""The text the manual items are graded on: writeup.md in a folder submission, or the module's docstring.

Read as text (the docstring through `ast`, without running the submission) and carried in the report for the human
grader. A docstring still identical to the template's is not a write-up.
"""
from __future__ import annotations

import ast
import inspect
import io
import tokenize
from pathlib import Path
from typing import Optional

from grader.sources import SubmissionSource

WRITEUP_NAMES = ("writeup.md", "WRITEUP.md", "writeup.txt")
MAX_CHARS = 20_000


def template_path() -> Optional[Path]:
    """student_template/backprop.py: in the source tree beside grader/, or installed inside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "student_template" / "backprop.py", here.parent / "student_template" / "backprop.py"):
        if candidate.is_file():
            return candidate
    return None


def _docstring(path: Path) -> Optional[str]:
    """The module docstring; for a file that does not parse (a syntax error further down), its first token when
    that is a string: the write-up is kept for the human grader either way."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        return ast.get_docstring(ast.parse(text))
    except (SyntaxError, ValueError):
        pass
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING):
                continue
            if token.type != tokenize.STRING:
                return None
            return inspect.cleandoc(ast.literal_eval(token.string))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    return None


def find_writeup(source: SubmissionSource) -> Optional[dict]:
    """{"source": where it came from, "text": the text (at most MAX_CHARS)} or None."""
    text, origin = None, None
    if source.given.is_dir():
        for name in WRITEUP_NAMES:
            path = source.folder / name
            if path.is_file():
                text, origin = path.read_text(encoding="utf-8", errors="replace"), name
                break
    if text is None:
        docstring = _docstring(source.module_path)
        if docstring and not _is_template_docstring(docstring):
            text, origin = docstring, f"the docstring of {source.module_path.name}"
    if not text or not text.strip():
        return None
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + f"\n[... cut at {MAX_CHARS:,} characters]"
    return {"source": origin, "text": text}


def _is_template_docstring(docstring: str) -> bool:
    template = template_path()
    return template is not None and docstring.strip() == (_docstring(template) or "").strip()


def why_no_writeup(module: Path) -> str:
    """Why no write-up was found for the submission whose file is `module`, and where it goes (for the manual items'
    feedback)."""
    name = module.name
    docstring = _docstring(module)
    if docstring and docstring.strip() and _is_template_docstring(docstring):
        found = f"no writeup.md, and the module docstring of {name} is still the template's"
    else:
        found = f"no writeup.md, and no module docstring in {name}"
    return (f"{found}: put the derivation and the write-up in writeup.md beside {name} (hand in the folder, or a zip "
            f"of it) or in place of {name}'s module docstring")
