"""Building outlines-core indexes under a time budget, in a worker process that can be stopped.

A cold compile of a real-world schema can run for minutes in outlines-core's native code, where no signal
reaches it, and a few inputs crash it. :func:`build_index` therefore runs ``Index(regex, vocabulary)`` in a
long-lived worker process (:mod:`._index_worker`, started on first use, vocabularies sent once): past the
budget the worker is killed and :class:`~ctrlgen.constraints.CompileTimeoutError` raised; if it dies, a
:class:`~ctrlgen.constraints.ConstraintError` says so and the next compile starts a new one. A process that
compiles thousands of schemas in a row (a server) keeps running whatever they do.

The budget is :data:`DEFAULT_COMPILE_TIMEOUT` seconds (``$CTRLGEN_COMPILE_TIMEOUT`` overrides it), or what
:func:`compile_budget` sets for a block of code; ``generate(compile_timeout=...)`` uses the latter. A budget
of ``None`` (or 0) compiles in this process, without a limit. Compiles that take more than two seconds show
a progress line on stderr when it is a terminal.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..constraints.errors import CompileTimeoutError, ConstraintError, UnsatisfiableConstraintError

__all__ = ["DEFAULT_COMPILE_TIMEOUT", "compile_budget", "build_index", "current_budget"]

#: Seconds one regex compile may take before it is stopped.
DEFAULT_COMPILE_TIMEOUT = 120.0
_BUDGET: contextvars.ContextVar[float | None | str] = contextvars.ContextVar("ctrlgen_compile_budget", default="env")
_WORKER_SCRIPT = Path(__file__).with_name("_index_worker.py")
#: Seconds before a running compile shows its progress line.
_SHOW_AFTER = 2.0


def current_budget() -> float | None:
    """The budget in force: :func:`compile_budget`'s, else ``$CTRLGEN_COMPILE_TIMEOUT``, else the default."""
    value = _BUDGET.get()
    if value == "env":
        raw = os.environ.get("CTRLGEN_COMPILE_TIMEOUT")
        if raw is None:
            return DEFAULT_COMPILE_TIMEOUT
        try:
            value = float(raw)
        except ValueError:
            raise ConstraintError(f"$CTRLGEN_COMPILE_TIMEOUT must be a number of seconds, got {raw!r}") from None
    return None if value is None or value == 0 else float(value)


@contextlib.contextmanager
def compile_budget(seconds: float | None):
    """Within the block, each regex compile may take ``seconds`` (None or 0: no limit, in this process)."""
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0):
        raise ConstraintError(f"compile_timeout must be a number of seconds >= 0 or None, got {seconds!r}")
    token = _BUDGET.set(seconds)
    try:
        yield
    finally:
        _BUDGET.reset(token)


class _Worker:
    """One worker process and the vocabularies it holds."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(_WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.known: set[str] = set()

    def send(self, message: object) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(struct.pack("<Q", len(data)) + data)
        self.process.stdin.flush()

    def receive(self, deadline: float | None, label: str) -> object:
        """The reply, waiting until ``deadline`` (time.monotonic()); None if the worker died."""
        stream = self.process.stdout
        start = time.monotonic()
        bar = None
        try:
            while True:
                wait = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
                ready, _, _ = select.select([stream], [], [], wait)
                if ready:
                    break
                elapsed = time.monotonic() - start
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError
                if bar is None and elapsed > _SHOW_AFTER and sys.stderr.isatty():
                    from tqdm.auto import tqdm

                    total = None if deadline is None else round(deadline - start)
                    bar = tqdm(total=total, desc=f"compiling {label[:40]}", unit="s", leave=False, file=sys.stderr)
                if bar is not None:
                    bar.n = round(elapsed)
                    bar.refresh()
            head = stream.read(8)
            if len(head) < 8:
                return None
            (size,) = struct.unpack("<Q", head)
            return pickle.loads(stream.read(size))
        finally:
            if bar is not None:
                bar.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()


_LOCK = threading.Lock()
_WORKER: _Worker | None = None


def _worker() -> _Worker:
    global _WORKER
    if _WORKER is None or _WORKER.process.poll() is not None:
        _WORKER = _Worker()
    return _WORKER


def _discard() -> None:
    global _WORKER
    if _WORKER is not None:
        _WORKER.stop()
        _WORKER = None


def build_index(regex: str, vocabulary, fallback, key: str, label: str):
    """``outlines_core.Index(regex, vocabulary)``, or with ``fallback`` (every byte available) when that fails,
    within the current budget. ``key`` names the vocabulary pair (it is sent to the worker once)."""
    from outlines_core import Index

    budget = current_budget()
    if budget is None:
        try:
            return Index(regex, vocabulary)
        except Exception as first:  # noqa: BLE001 - outlines-core's own exception types
            try:
                return Index(regex, fallback)
            except Exception as again:  # noqa: BLE001
                _refuse(label, str(first), str(again))
    with _LOCK:
        worker = _worker()
        new = key not in worker.known
        try:
            worker.send((regex, key, vocabulary if new else None, key + "/bytes", fallback if new else None))
            reply = worker.receive(time.monotonic() + budget, label)
        except TimeoutError:
            _discard()
            raise CompileTimeoutError(
                f"compiling {label} took more than {budget:g} s and was stopped (compile_timeout=..., or "
                "$CTRLGEN_COMPILE_TIMEOUT, sets the budget)"
            ) from None
        except (BrokenPipeError, OSError):
            reply = None
        except BaseException:
            # interrupted mid-request (Ctrl-C, an exception raised by a signal handler): the worker's reply to
            # this request would be read as the answer to the next one; start the next one afresh
            _discard()
            raise
        if reply is None:
            code = worker.process.poll()
            _discard()
            raise ConstraintError(f"outlines-core failed while compiling {label} (its process ended, code {code})")
        worker.known.add(key)
    if reply[0] == "ok":
        return pickle.loads(reply[1])
    _refuse(label, reply[1], reply[2])


def _refuse(label: str, first: str, again: str):
    if "incompatible" in again:  # no byte string at all leads on: nothing matches
        raise UnsatisfiableConstraintError(f"no text matches {label}")
    raise ConstraintError(f"cannot compile {label}: {first}")
