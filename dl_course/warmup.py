"""The grading kernel, started before its submission runs, with the setup's modules imported.

A plain notebook run spends most of a short assignment's time starting the kernel and
importing numpy, torch and matplotlib. A worker process starts ahead of its turn
(``processes.Ahead``) and does that while the previous submission is graded: it starts the
sandboxed kernel nbgrader will use and imports, in it, the modules the source's setup cells
import (``modules_of``: trusted code, no student code yet), in a background thread, while the
worker reads its submission and runs nbgrader's first steps (no student code either).
``preprocessors.GuardedExecute`` takes that kernel (``take``) instead of starting one; the
hand-over waits for the warm-up and for the submission's turn (``hand_over_at``), so student
code runs only in its turn, whichever kernel runs it.

The warm-up binds no name in the kernel's namespace and stores no history: a submission
sees the same kernel as after a cold start, where its own setup cell would import the same
modules (a module is imported once per process either way). A kernel that did not start
or warm up is killed and the executor starts one cold, as before.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from jupyter_core.utils import run_sync
from traitlets.config import Config

from dl_course.sandbox import SandboxedKernelManager

# nbclient starts its kernels with the IPython history in memory (no file in the work folder).
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]

# One grading kernel per worker process, so the hand-over is a process-wide slot.
_READY: list[Future] = []
_TURN: list[Callable[[], object]] = []  # waits for the submission's turn


def hand_over_at(turn: Callable[[], object]) -> None:
    """Make ``take`` call ``turn`` (which returns once the submission's turn has come)
    before it hands over the kernel, warm or not."""
    _TURN[:] = [turn]


def modules_of(preamble: str) -> list[str]:
    """The modules the import statements in ``preamble`` import, in order: ``import a.b``
    gives ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a submodule)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(preamble)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(names))


def warm_source(modules: list[str]) -> str:
    """Code that imports ``modules`` and leaves no name behind (a name that is not a module,
    or fails to import, is left for the notebook's own import to report)."""
    return (
        "def _dl_grader_warm(names):\n"
        "    import importlib\n"
        "    for name in names:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except Exception:\n"
        "            pass\n"
        f"_dl_grader_warm({modules!r})\n"
        "del _dl_grader_warm\n"
    )


async def _warm(km: SandboxedKernelManager, source: str, timeout: float) -> None:
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=timeout)
        reply = await client.execute_interactive(
            source, silent=True, store_history=False, allow_stdin=False, timeout=timeout,
            output_hook=lambda msg: None,
        )  # fmt: skip
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the warm-up failed: {reply['content'].get('evalue')}")
    finally:
        client.stop_channels()


def start(config: Config, modules: list[str], timeout: float = 60) -> Future:
    """Start the sandboxed grading kernel ``config`` describes (the ``Autograde`` config) and
    import ``modules`` in it in a background thread, for ``take``. The future gives the
    kernel, or ``None`` if it did not start or warm up."""
    future: Future = Future()
    _READY.append(future)
    km = SandboxedKernelManager(kernel_name="python3", config=config)
    try:
        # From this thread: bwrap --die-with-parent kills the kernel when the *thread* that
        # started it ends, so a background thread may only talk to it.
        run_sync(km.start_kernel)(extra_arguments=list(KERNEL_ARGUMENTS))
    except Exception:
        _failed(km)
        future.set_result(None)
        return future

    def warm() -> None:
        try:
            run_sync(_warm)(km, warm_source(modules), timeout)
        except Exception:
            _failed(km)
            future.set_result(None)
        else:
            future.set_result(km)

    threading.Thread(target=warm, name="warm-up", daemon=True).start()
    return future


def _failed(km: SandboxedKernelManager) -> None:
    """Log why, and kill the kernel: the executor starts one cold and reports what goes wrong."""
    logging.getLogger("dl-course.worker").exception("the kernel could not be warmed up")
    _kill(km)


def _kill(km: SandboxedKernelManager) -> None:
    with contextlib.suppress(Exception):
        run_sync(km.shutdown_kernel)(now=True)


def take() -> SandboxedKernelManager | None:
    """The kernel ``start`` started, in the submission's turn (``hand_over_at``) and once its
    warm-up is done, if it is alive (it is then yours to shut down); ``None`` if there is
    none, and the executor starts one (also in the turn)."""
    for turn in _TURN:
        turn()
    while _READY:
        km = _READY.pop().result()
        if km is None:
            continue
        if run_sync(km.is_alive)():
            return km
        _kill(km)
    return None


def discard() -> None:
    """Kill the kernel ``start`` started if nobody took it (no turn needed)."""
    while _READY:
        km = _READY.pop().result()
        if km is not None:
            _kill(km)
