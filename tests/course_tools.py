"""The course's command-line tools (``tools/*.py``, not a package) as modules for the tests."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load_tool(stem: str):
    """``tools/<stem>.py`` as the module ``course_<stem>``, loaded once and shared by every test file
    (and by ``nbgrader_config.py``, which loads ``course_feedback`` under the same name)."""
    name = f"course_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TOOLS / f"{stem}.py")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]
