"""The Jinja environment, base templates and static assets shared by every page."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html
STATIC_DIR = HERE / "static"
