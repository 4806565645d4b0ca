"""The Jinja2 set-up of every report (the data-set pages, the index, the theory page).

Markdown, not HTML: no escaping. A misspelt field fails the render rather than leaving a blank in the
page (StrictUndefined). Block tags leave no lines of their own (trim_blocks, lstrip_blocks). A template
line ending in a backslash goes on on the next one, so that a long markdown bullet or table row stays
readable in the template.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional

import jinja2
from jinja2.ext import Extension


class LineContinuation(Extension):
    """A template line ending in a backslash goes on on the next one: the backslash, the line break and the
    next line's indentation are dropped. A markdown bullet or table row is one line, however long; in the
    template it can be several."""

    def preprocess(self, source: str, name: Optional[str], filename: Optional[str] = None) -> str:
        return re.sub(r"\\\n[ \t]*", "", source)


def environment(folder: Path, filters: dict[str, Callable], **globals) -> jinja2.Environment:
    """The templates in `folder`, with a report's number formats as `filters` and its constants as globals."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False, extensions=[LineContinuation])
    env.filters.update(filters)
    env.globals.update(globals)
    return env
