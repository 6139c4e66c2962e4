"""Grading: the assignments' tests run each student function with the course's own
implementation of that technique switched off.

``course_utils`` is in every student's kernel (the lecture notebooks need it), so an answer could
simply call the course's reference (``def gram_matrix(f): return synthesis.gram_matrix(f)``).
The graded test cells therefore run the student's function under a *reference guard*:

* ``guarded(function, *names)`` returns ``function`` wrapped so that each call runs with the
  course functions ``names`` disabled; a test cell rebinds the student's name to it
  (``gram_matrix = guarded(gram_matrix, "course_utils.synthesis.gram_matrix")``). The test's own
  reference values, computed outside the student's call, are not affected.
* ``with reference_guard(*names): ...`` disables them for a whole block (for a result whose work
  happens after the function returned, such as the backward pass of an autograd function); the
  test computes its reference values before the block.

A disabled function raises :class:`ReferenceUsed` ("write this function yourself: it called
course_utils.synthesis.gram_matrix"), however the student reached it: the module attribute, a
``from ... import ... as`` alias made earlier, ``importlib.import_module``, or another public
course function that calls it. The guard swaps the *code* of the function object (``__code__``),
so every alias of the object is disabled at once, and restores it when the block ends, also on an
error or an interrupt. Reloading a course module while the guard is on is refused too. A student
who catches the error gains nothing: the guard remembers the call and fails the test at the end.

While grading, each call of a guarded function also has a time limit (``COURSE_CALL_TIME_LIMIT``
seconds, which the course's ``nbgrader_config.py`` sets for validate and autograde): a function that
never returns fails its test with :class:`CallTimeLimit` ("receptive_fields did not return within
30 s ...") instead of holding the cell until nbgrader's own cell limit interrupts it, which costs a
class of 300 students minutes per looping submission and tells the student less.

Only what an assignment asks students to write is listed by its tests: the helpers it hands them
(models, data, hooks, plotting, the optimization loop where the task is a step) keep working.

``similarity_to_reference(source, reference)`` measures how close a student's source is to the
reference's (normalized syntax trees), for the grading summary to flag near copies, without
penalty.
"""
from __future__ import annotations

import ast
import contextlib
import difflib
import functools
import importlib
import inspect
import math
import os
import signal
import sys
import textwrap
import threading
import types
from typing import Any, Callable, Iterable

__all__ = ["ReferenceUsed", "CallTimeLimit", "reference_guard", "guarded", "call_time_limit", "resolve",
           "similarity_to_reference"]  # fmt: skip


class ReferenceUsed(AssertionError):
    """A student function called a course implementation that the test disabled."""


_LOCK = threading.RLock()
_ACTIVE: dict[types.FunctionType, list] = {}  # function -> [original code, depth, public name]
_SEEN: dict[str, list[types.FunctionType]] = {}  # public name -> every function object found under it
_GUARDS: list["_Guard"] = []  # the guards now active (innermost last)


def _message(name: str) -> str:
    return f"write this function yourself: it called {name}"


def _blocked(name: str) -> None:
    """What a disabled function does instead of its work (called from the swapped code)."""
    with _LOCK:
        for guard in _GUARDS:
            guard.tripped.append(name)
        who = next((f"{guard.function}: " for guard in reversed(_GUARDS) if guard.function), "")
    raise ReferenceUsed(who + _message(name))


# --------------------------------------------------------------------------- #
# Finding the functions behind a name
# --------------------------------------------------------------------------- #
def _lookup(name: str) -> Any:
    """The object the dotted ``name`` names, attribute by attribute from its top-level package
    (``course_utils.synthesis.optimize`` is the function the package exports, not the module of
    that name); where an attribute is missing, the dotted prefix is imported as a module
    (``course_utils.attribution.occlusion._window_masks``: the module's private helper)."""
    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for index in range(1, len(parts)):
        part = parts[index]
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        for cut in (index + 1, index):  # the name itself is a submodule, or the prefix is a module
            try:
                module = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            if cut == index + 1:
                obj = module
                break
            if hasattr(module, part):
                obj = getattr(module, part)
                break
        else:
            raise ValueError(f"reference_guard: {name!r} does not exist")
    return obj


def _functions_of(obj: Any, seen: set[int] | None = None) -> list[types.FunctionType]:
    """The Python functions that make up ``obj``: a function (and what it wraps), the methods a
    class defines itself (static, class and ordinary), the function of a bound method."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    found: list[types.FunctionType] = []
    if isinstance(obj, (staticmethod, classmethod)):
        return _functions_of(obj.__func__, seen)
    if isinstance(obj, types.MethodType):
        return _functions_of(obj.__func__, seen)
    if isinstance(obj, functools.partial):
        return _functions_of(obj.func, seen)
    if isinstance(obj, types.FunctionType):
        found.append(obj)
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None:
            found += _functions_of(wrapped, seen)
        return found
    if isinstance(obj, type):
        for value in vars(obj).values():
            if isinstance(value, (types.FunctionType, staticmethod, classmethod, property)):
                if isinstance(value, property):
                    for accessor in (value.fget, value.fset, value.fdel):
                        if accessor is not None:
                            found += _functions_of(accessor, seen)
                else:
                    found += _functions_of(value, seen)
        return found
    raise TypeError(f"reference_guard: {obj!r} is not a function or a class")


def resolve(name: str) -> list[types.FunctionType]:
    """The function objects behind the dotted ``name`` (e.g. ``"course_utils.synthesis.gram_matrix"``,
    ``"course_utils.attribution.relu_rules.GuidedReLU"`` for a class's methods), including every
    object found under that name before (so that a module reloaded earlier is covered too)."""
    obj = _lookup(name)
    if isinstance(obj, types.ModuleType):
        raise ValueError(f"reference_guard: {name!r} is a module; name its functions")
    with _LOCK:
        known = _SEEN.setdefault(name, [])
        for function in _functions_of(obj):
            if all(function is not other for other in known):
                known.append(function)
        return list(known)


# --------------------------------------------------------------------------- #
# Swapping code
# --------------------------------------------------------------------------- #
@functools.lru_cache(maxsize=None)
def _raiser_code(name: str, freevars: tuple[str, ...], function_name: str) -> types.CodeType:
    """Code that calls ``_blocked(name)``, with the free variables ``freevars`` (a function's
    code can only be swapped for code with as many free variables as its closure has cells)."""
    cells = "".join(f"    {var} = None\n" for var in freevars)
    touch = f"        ({', '.join(freevars)},)\n" if freevars else ""
    source = (
        "def _factory():\n"
        f"{cells}"
        f"    def {function_name}(*args, **kwargs):\n"
        f"{touch}"
        f"        __import__('course_utils.grading', fromlist=['_blocked'])._blocked({name!r})\n"
        f"    return {function_name}\n"
    )
    namespace: dict = {}
    exec(compile(source, f"<reference guard: {name}>", "exec"), namespace)  # noqa: S102
    code = namespace["_factory"]().__code__
    if code.co_freevars != freevars:  # the compiler orders free variables by name, as for the original
        code = code.replace(co_freevars=freevars)
    return code


def _identifier(text: str) -> str:
    return text if text.isidentifier() else "disabled_reference"


def _disable(function: types.FunctionType, name: str) -> None:
    entry = _ACTIVE.get(function)
    if entry is not None:
        entry[1] += 1
        return
    original = function.__code__
    function.__code__ = _raiser_code(name, original.co_freevars, _identifier(function.__name__))
    _ACTIVE[function] = [original, 1, name]


def _enable(function: types.FunctionType) -> None:
    entry = _ACTIVE[function]
    entry[1] -= 1
    if entry[1] == 0:
        function.__code__ = entry[0]
        del _ACTIVE[function]


class _NoReload:
    """A meta-path finder, first while a guard is on: refuses to import again a course module that
    is already loaded (``importlib.reload``), which would make fresh, enabled copies of its functions."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if (fullname == "course_utils" or fullname.startswith("course_utils.")) and fullname in sys.modules:
            _blocked(f"importlib.reload({fullname})")
        return None


_FINDER = _NoReload()


class _Guard:
    """The state of one active ``reference_guard`` block."""

    def __init__(self, names: tuple[str, ...], function: str | None):
        self.names, self.function, self.tripped = names, function, []

    def failure(self) -> ReferenceUsed:
        who = f"{self.function}: " if self.function else ""
        return ReferenceUsed(who + _message(self.tripped[0]))


@contextlib.contextmanager
def reference_guard(*names: str, function: str | None = None):
    """Disable the course functions ``names`` (dotted names; a class stands for its methods) inside
    the block. A call raises :class:`ReferenceUsed`; if the caller swallowed that error, the block
    raises it when it ends. ``function``: the student function's name, for the message."""
    if not names:
        raise ValueError("reference_guard needs the dotted names of the functions to disable")
    targets = [(function_obj, name) for name in names for function_obj in resolve(name)]
    guard = _Guard(names, function)
    with _LOCK:
        done = []
        try:
            for target, name in targets:
                _disable(target, name)
                done.append(target)
        except BaseException:
            for target in done:
                _enable(target)
            raise
        _GUARDS.append(guard)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    try:
        yield guard
    except ReferenceUsed:
        raise
    except BaseException as error:
        if guard.tripped:  # the student turned the guard's error into another one
            raise guard.failure() from error
        raise
    finally:
        with _LOCK:
            for target in done:
                _enable(target)
            _GUARDS.remove(guard)
            if not _GUARDS and _FINDER in sys.meta_path:
                sys.meta_path.remove(_FINDER)
    if guard.tripped:  # the error was caught inside the block: fail anyway
        raise guard.failure()


# --------------------------------------------------------------------------- #
# A time limit on each call of a student's function
# --------------------------------------------------------------------------- #
CALL_TIME_LIMIT_ENV = "COURSE_CALL_TIME_LIMIT"


class CallTimeLimit(BaseException):
    """A guarded call ran past its time limit. A ``BaseException``, as ``KeyboardInterrupt`` is, so
    that an ``except Exception`` in the student's code does not swallow it."""


def call_time_limit() -> float | None:
    """Seconds one call of a guarded function may take: ``COURSE_CALL_TIME_LIMIT``, or ``None``
    (no limit) where it is unset or empty."""
    text = os.environ.get(CALL_TIME_LIMIT_ENV, "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{CALL_TIME_LIMIT_ENV}={text!r} is not a time limit: set it to a number of seconds "
                         "above 0, or leave it empty for none")  # fmt: skip
    return seconds


@contextlib.contextmanager
def _time_limit(seconds: float | None, label: str):
    """Raise :class:`CallTimeLimit` in the block after ``seconds`` (SIGALRM; the main thread of a
    POSIX process only, as a kernel's cells run). A limit already running (a guarded call inside
    another) is left to do its work; the timer and the previous handler are restored on exit."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds is None or not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return
    message = (f"{label} did not return within {seconds:g} s, the time limit of one call while grading: "
               "look for a loop that never ends, or for work that could be batched")  # fmt: skip
    fired, armed = [], [True]  # a late alarm, once the block is left, is ignored

    def on_alarm(signum, frame):
        if armed[0]:
            fired.append(True)
            raise CallTimeLimit(message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # and again each second, should the student catch it
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:  # the student's code caught the error and went on: the call still ran too long
        raise CallTimeLimit(message)


# --------------------------------------------------------------------------- #
# Guarding a student's function
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def _guarded_block(names: tuple[str, ...], label: str, seconds: float | None):
    """The references ``names`` disabled and the time limit on, for one piece of a student's work.
    The limit is inside the guard, so that the guard's own restoring is never cut short."""
    with reference_guard(*names, function=label), _time_limit(seconds, label):
        yield


class _GuardedContext:
    """A context manager returned by a guarded function (e.g. a ``@contextmanager``): its set-up
    and tear-down run under the guard too, since that is where such a function does its work."""

    def __init__(self, manager, names, function, seconds):
        self._manager, self._names, self._function, self._seconds = manager, names, function, seconds

    def __enter__(self):
        with _guarded_block(self._names, self._function, self._seconds):
            return self._manager.__enter__()

    def __exit__(self, *exc_info):
        with _guarded_block(self._names, self._function, self._seconds):
            return self._manager.__exit__(*exc_info)


class _GuardedIterator:
    """An iterator (e.g. a generator) returned by a guarded function: each step runs under the guard."""

    def __init__(self, iterator, names, function, seconds):
        self._iterator, self._names, self._function, self._seconds = iterator, names, function, seconds

    def __iter__(self):
        return self

    def __next__(self):
        with _guarded_block(self._names, self._function, self._seconds):
            return next(self._iterator)


def _is_reference(function: Callable, names: Iterable[str]) -> str | None:
    """The name of the disabled function that ``function`` is (itself, a partial, a bound method)."""
    try:
        parts = _functions_of(function)
    except TypeError:
        return None
    for name in names:
        known = resolve(name)
        if any(part is other for part in parts for other in known):  # (code objects are shared: contextlib's helper)
            return name
    return None


def guarded(function: Callable, *names: str, seconds: float | None = None) -> Callable:
    """``function`` wrapped so that each call runs with the course functions ``names`` disabled.

    Guarding a guarded function again replaces its list of names. A student "function" that *is*
    one of the disabled references (``gram_matrix = synthesis.gram_matrix``) fails when called.
    Each call (and each step of an iterator or context manager it returns) is stopped with
    :class:`CallTimeLimit` after ``seconds``, by default :func:`call_time_limit` at call time.
    """
    original = getattr(function, "__guarded_original__", function)
    label = getattr(original, "__name__", type(original).__name__)
    for name in names:
        resolve(name)  # a wrong name is the test's mistake: say so now

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        same = _is_reference(original, names)
        if same is not None:
            raise ReferenceUsed(f"{label}: write this function yourself: it is {same}")
        limit = call_time_limit() if seconds is None else seconds
        with _guarded_block(names, label, limit):
            result = original(*args, **kwargs)
        if hasattr(result, "__enter__") and hasattr(result, "__exit__"):
            return _GuardedContext(result, names, label, limit)
        if isinstance(result, types.GeneratorType):
            return _GuardedIterator(result, names, label, limit)
        return result

    wrapper.__guarded_original__ = original
    wrapper.__guarded_names__ = names
    return wrapper


# --------------------------------------------------------------------------- #
# Near copies of the reference
# --------------------------------------------------------------------------- #
class _Normalize(ast.NodeTransformer):
    """Names, arguments and constants replaced by placeholders; docstrings and annotations dropped."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(arg=self._name(node.arg), annotation=None), node)

    def visit_Constant(self, node):
        value = "str" if isinstance(node.value, str) else ("num" if isinstance(node.value, (int, float)) else None)
        return ast.copy_location(ast.Constant(value=value), node)

    def visit_FunctionDef(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
            body = body[1:]  # the docstring
        node.body = body or [ast.Pass()]
        node.returns = None
        node.name = "f"
        node.decorator_list = []
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_JoinedStr(self, node):  # f-strings: their text is not the algorithm
        return ast.copy_location(ast.Constant(value="str"), node)

    def visit_Raise(self, node):  # error messages and checks differ between any two authors
        return ast.copy_location(ast.Raise(exc=None, cause=None), node)


def _tokens(source: str) -> list[str]:
    tree = ast.parse(textwrap.dedent(source))
    tree = _Normalize().visit(tree)
    return [type(node).__name__ + (f":{node.id}" if isinstance(node, ast.Name) else "")
            + (f":{node.attr}" if isinstance(node, ast.Attribute) else "")
            for node in ast.walk(tree)]  # fmt: skip


# A graded function whose similarity to the course's own is at least NEAR_COPY_THRESHOLD is listed for
# the instructor (no penalty), unless the course's function is shorter than NEAR_COPY_MIN_SIZE syntax-tree
# nodes: a few lines (a Gram matrix) come out alike whoever writes them.
NEAR_COPY_THRESHOLD = 0.9
NEAR_COPY_MIN_SIZE = 100


def syntax_size(function: Callable) -> int:
    """The number of syntax-tree nodes of ``function``'s source (0 when it cannot be read)."""
    try:
        return len(_tokens(inspect.getsource(inspect.unwrap(function))))
    except (OSError, TypeError, SyntaxError, ValueError):
        return 0


def similarity_to_reference(source: str, reference_func: Callable) -> float:
    """How close the student's ``source`` (a function's code, as text) is to ``reference_func``'s
    source: 1.0 for the same code up to names, constants, comments, docstrings and error
    messages; near 0 for unrelated code. The ratio of matching syntax-tree node sequences
    (``difflib``), after renaming every variable in order of appearance. Returns 0.0 when
    either source cannot be read or parsed."""
    try:
        reference_source = inspect.getsource(inspect.unwrap(reference_func))
        ours, theirs = _tokens(source), _tokens(reference_source)
    except (OSError, TypeError, SyntaxError, ValueError):
        return 0.0
    if not ours or not theirs:
        return 0.0
    return difflib.SequenceMatcher(None, ours, theirs, autojunk=False).ratio()
