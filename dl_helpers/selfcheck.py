"""The last cell of every notebook: ``check_my_work()``.

Notebooks import ``dl_helpers``, never the grading package ``dl_course``, which the
grader's sandbox hides from a submission's kernel. So the cell imports from here::

    from dl_helpers.selfcheck import check_my_work
    check_my_work()

and ``dl_course`` is imported only when a person runs the cell: then
:func:`dl_course.selfcheck.check_my_work` validates the saved notebook in a fresh kernel and
shows the table. When a program runs the notebook (``dl-course validate``, nbgrader's
autograde in its sandbox, nbconvert, nbval) the cell prints :data:`SKIPPED` and nothing
else. Those programs all execute with ``allow_stdin=False`` (no one could answer
``input()``), while every interactive front end (JupyterLab, the Notebook, VS Code, Colab)
sends ``True``.
"""

from __future__ import annotations

import os

SKIPPED = (
    "check_my_work: skipped, because a program is running this notebook "
    "(run this cell yourself to check your work)."
)


def run_by_a_program() -> bool:
    """True inside a kernel whose current request cannot read ``input()`` (nbclient, nbval)."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython: a person at a terminal
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    return kernel is not None and not getattr(kernel, "_allow_stdin", True)


def check_my_work(
    path: str | os.PathLike | None = None, *, all: bool = False, cell_timeout: int = 120
) -> None:
    """Validate this notebook's saved file and show passed / failed / not attempted per test.

    Arguments as :func:`dl_course.selfcheck.check_my_work`.

    Example::

        >>> check_my_work()  # doctest: +SKIP
    """
    if run_by_a_program():
        print(SKIPPED)
        return
    from dl_course.selfcheck import check_my_work as check

    check(path, all=all, cell_timeout=cell_timeout)
