# nbgrader configuration of the course (read by every `nbgrader ...` command run in this folder).
#
# Layout: the instructor's notebooks, with solutions and hidden tests, live in solutions/<ID>/;
# `make release` (tools/release.py) turns them into the student versions in assignments/<ID>/.
# Grading folders (submitted/, autograded/, feedback/) and gradebook.db are created here when
# grading locally, and are ignored by git. See the README (Instructors).
c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = "convnet-viz"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"

# Every notebook runs on the course's Python kernel, whatever its metadata says.
c.Execute.kernel_name = "python3"
# Seconds per cell when validating and autograding. The heaviest cell of any assignment takes a
# few seconds in FAST mode on 2 CPU cores; a cell that runs longer (an infinite loop) is
# interrupted, recorded as an error, and only the tests that depend on it lose their points.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# When the last cell is done, stop the kernel at once: its outputs are all in, and letting a Python
# process with torch loaded exit on its own takes 2-3 s, a third of a quick submission's time.
c.Execute.shutdown_kernel = "immediate"

# The stub that replaces the code between ### BEGIN SOLUTION and ### END SOLUTION.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# On JupyterHub, the exchange folder shared by instructors and students (must exist and be
# world-writable, e.g. `mkdir -p /srv/nbgrader/exchange && chmod 777 /srv/nbgrader/exchange`).
# Put this line in the system-wide config (/etc/jupyter/nbgrader_config.py) so that students
# see it too; left as nbgrader's default (/srv/nbgrader/exchange) here.
# c.Exchange.root = "/srv/nbgrader/exchange"

# After a cell's reply, nbgrader waits this long for the cell's last outputs and fails the whole
# notebook when they are late (nbclient's default is 4 s). With several grading jobs on a busy
# machine (`make grade JOBS=N`), a kernel's outputs can arrive later than that: wait longer.
c.Execute.iopub_timeout = 60

import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

# Notebooks that nbgrader executes on its own (validate, autograde) run headless: no progress bars,
# which would be saved as bars stuck at 0 % and shown so in the feedback. Inside a Jupyter server
# (JupyterLab, the Formgrader) the notebooks a person runs keep them.
if not any(name in _sys.modules for name in ("jupyter_server.serverapp", "notebook.notebookapp")):
    _os.environ.setdefault("COURSE_PROGRESS", "0")
    # There, too, each call of a student's function in a test cell is stopped after this many
    # seconds (course_utils.grading.guarded): a function that never returns fails its tests with a
    # message saying so, each after 30 s, instead of holding every cell that calls it for the
    # whole c.Execute.timeout. The slowest call of any solution takes under half a second (FAST mode).
    _os.environ.setdefault("COURSE_CALL_TIME_LIMIT", "30")

# Feedback keeps the hidden tests hidden: after nbgrader's GetGrades, the course's HideHiddenTests
# (tools/feedback.py) replaces the hidden tests of each test cell by one line, takes their quotes
# out of the error tracebacks, and starts each test cell with its result; used by
# `make feedback`, `nbgrader generate_feedback` and the Formgrader alike. Skipped where
# tools/feedback.py is absent (a copy of the course without the instructors' tools).
import importlib.util as _util  # noqa: E402

_feedback = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "tools", "feedback.py")
if _os.path.exists(_feedback):
    if "course_feedback" not in _sys.modules:
        _spec = _util.spec_from_file_location("course_feedback", _feedback)
        _sys.modules["course_feedback"] = _util.module_from_spec(_spec)
        _spec.loader.exec_module(_sys.modules["course_feedback"])
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        _sys.modules["course_feedback"].HideHiddenTests,
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
