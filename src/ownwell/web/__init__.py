"""The Jinja environment, base templates and static assets shared by every page."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from ownwell.web import format as _format

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html
STATIC_DIR = HERE / "static"
HTMX = "/static/vendor/htmx-2.0.11.min.js"

templates.env.filters.update(
    when=_format.when,
    relative=_format.relative,
    ago=_format.ago,
    urgency=_format.urgency,
    words=_format.words,
)
templates.env.globals["htmx_src"] = HTMX
