"""Static pictures of the explorers, for saved pages (no live kernel behind their widgets).

A notebook executed for the course's site runs with ``COURSE_WIDGETS=static``. An explorer left
last in a cell then displays a picture of its initial view and one line saying that the live
notebook is interactive, instead of the widget (whose saved form is only the text
``VBox(children=...)``). Without the variable (a live notebook) the widget is displayed as usual.
"""
from __future__ import annotations

import base64
import contextlib
import html
import io
import os

__all__ = ["StaticView", "static_mode"]

INTERACTIVE = "in a live notebook (run it in Jupyter) the widget is interactive"


def static_mode() -> bool:
    """True when ``COURSE_WIDGETS=static``: explorers show a picture of their initial view."""
    return os.environ.get("COURSE_WIDGETS", "").strip().lower() == "static"


def figure_png(fig, *, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


@contextlib.contextmanager
def quiet_progress():
    """No progress bar while an explorer computes its view: a bar shown (and closed) inside a widget's
    output would stay there as a dead widget ("model not found") once the notebook is saved."""
    old = os.environ.get("COURSE_PROGRESS")
    os.environ["COURSE_PROGRESS"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["COURSE_PROGRESS"]
        else:
            os.environ["COURSE_PROGRESS"] = old


class StaticView:
    """A PNG picture and one line of text, displayed where a widget would be.

    Its mimebundle holds the picture (``image/png``), the picture with the line below it
    (``text/html``, what a rendered page shows) and the line alone (``text/plain``).
    """

    def __init__(self, png: bytes, line: str):
        png = bytes(png)  # an ipywidgets.Image keeps its value as a memoryview
        if not png.startswith(b"\x89PNG"):
            raise ValueError("StaticView needs PNG bytes")
        self.png, self.line = png, line

    def _repr_mimebundle_(self, include=None, exclude=None):
        encoded = base64.b64encode(self.png).decode("ascii")
        page = (f'<div><img src="data:image/png;base64,{encoded}" alt="static view of the explorer"/>'
                f"<p><em>{html.escape(self.line)}</em></p></div>")  # fmt: skip
        return {"image/png": encoded, "text/html": page, "text/plain": self.line}

    def __repr__(self) -> str:
        return self.line
