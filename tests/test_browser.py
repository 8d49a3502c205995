"""The student's day in a real browser: JupyterLab, Run All, the self-check, a solved notebook.

For each released notebook in ``notebooks/`` (a temporary copy: the repository's files are
never modified), one JupyterLab server for all of them, and headless Chromium:

1. open the notebook and *Run All Cells* (JupyterLab's Run menu, as a student does);
   the run reaches the last cell; every error output is the ``NotImplementedError`` of a
   blank exercise (a cell the release tagged ``raises-exception``); as many figures render
   as the solution has image outputs; the check-my-work cell's table reports every test
   "not attempted";
2. paste the reference answers into the answer cells through the page (the solution's code
   between the ``BEGIN/END SOLUTION`` markers), save, *Run All Cells* again: no error
   output, and the table reports every test passed with full points.

The classic notebook interface (Notebook 7) gets a shorter check on the tiny fixture: Run All
from its menu, and the check-my-work table.

Screenshots of the tables land in ``$DL_COURSE_SCREENSHOTS`` when set (``make
screenshots`` sets it to ``assets/screenshots``, the committed ones), else in the test's
temporary folder; the test prints where.

Until a notebook has its own check-my-work cell (the last code cell calls
``check_my_work``), the test appends one to its temporary copy.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from dl_course.layout import EXPECTED_FAILURE_TAG
from dl_course.notebooks import is_answer_cell, is_test_cell, nbgrader_meta
from dl_course.release import release
from tests import browser_tool
from tests.browser_tool import jupyter_lab, require_browser
from tests.grading_fixtures import TINY, make_repo

ROOT = Path(__file__).resolve().parents[1]
RELEASED = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
CHECK_CELL = "from dl_helpers.selfcheck import check_my_work\ncheck_my_work()"
SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|$)", re.MULTILINE)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
RUN_TIMEOUT_S = 600  # Run All plus the self-check's own run, on 2 busy cores

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def chromium():
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium):
    with jupyter_lab(tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("DL_COURSE_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def solution_answers(name: str) -> dict[str, str]:
    """``{grade_id: the answer a student would write}`` from the instructor's notebook."""
    nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    return {
        nbgrader_meta(c)["grade_id"]: SOLUTION_MARKERS.sub("", c.source)
        for c in nb.cells
        if is_answer_cell(c)
    }


def image_outputs(nb: nbformat.NotebookNode) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if any(kind in output.get("data", {}) for kind in IMAGE_TYPES)
    )


def student_copy(source: Path, root: Path) -> Path:
    """Copy the released assignment folder below the server's root; give the copy a
    check-my-work cell if the notebook has none yet."""
    folder = root / source.parent.name
    shutil.copytree(source.parent, folder)
    path = folder / source.name
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if "check_my_work(" not in code[-1].source:
        nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
        nbformat.write(nb, path)
    return path


class NotebookPage:
    """A notebook open in JupyterLab, driven the way a student drives it."""

    def __init__(self, page, server, path: Path, *, app: str = "lab"):
        self.page, self.path = page, path
        self.nb = nbformat.read(path, as_version=4)
        self.code_cells = sum(c.cell_type == "code" for c in self.nb.cells)
        relative = path.relative_to(server.root).as_posix()
        if app == "lab":  # reset: the workspace would reopen earlier tests' notebooks too
            page.goto(server.url(f"lab/tree/{relative}", "reset"))
        else:  # the classic interface: one notebook per page
            page.goto(server.url(f"notebooks/{relative}"))
        # JupyterLab adds the cells a few at a time: wait for all of them
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length === n",
            arg=len(self.nb.cells),
            timeout=120_000,
        )
        self.wait_idle()

    def wait_idle(self) -> None:
        self.page.wait_for_selector(
            ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
            state="attached",
            timeout=120_000,
        )

    def menu(self, menu: str, item: str) -> None:
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count():  # it would take the click: say what it asks
            raise AssertionError(f"a dialog is open before {menu} > {item}: "
                                 f"{' | '.join(dialog.all_inner_texts())}")  # fmt: skip
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()

    def prompts(self) -> list[str]:
        # textContent: innerText is empty for cells scrolled out of view (content-visibility)
        return [
            p.strip()
            for p in self.page.locator(
                ".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt"
            ).all_text_contents()
        ]

    def status(self) -> str | None:
        """The kernel's state as the notebook's toolbar shows it (``idle``, ``busy``, ...)."""
        indicator = self.page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator")
        return indicator.first.get_attribute("data-status")

    def run_all(self) -> list[str]:
        """Run > Run All Cells; wait until the last code cell ran (its execution count is
        ``code cells`` higher than before) or the kernel has stayed idle for 5 s (the run
        stopped: a short idle between two cells lasts milliseconds). Returns the prompts.
        A click that started no cell at all (the page was not ready for it on a loaded
        machine) is made once more."""
        last = self.prompts()[-1]
        before = int(m[1]) if (m := re.search(r"\[(\d+)\]", last)) else 0
        target = f"[{before + self.code_cells}]:"
        untouched = self.prompts()
        for _ in range(2):  # a second click only if the first started nothing at all
            self.menu("Run", "Run All Cells")
            deadline, idle = time.monotonic() + RUN_TIMEOUT_S, 0
            while time.monotonic() < deadline and idle < 5:
                if self.prompts()[-1] == target:
                    break
                idle = idle + 1 if self.status() == "idle" else 0
                self.page.wait_for_timeout(1000)
            self.wait_idle()
            if self.prompts() != untouched:
                break
        return self.prompts()

    def save(self) -> nbformat.NotebookNode:
        """File > Save Notebook; return the notebook as saved on disk."""
        self.menu("File", "Save Notebook")
        self.page.wait_for_selector(
            ".lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)", timeout=60_000
        )
        return nbformat.read(self.path, as_version=4)

    def paste_answer(self, index: int, code: str) -> None:
        """Replace the source of cell ``index`` as a student pasting code would."""
        editor = self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)
        content = editor.locator(".cm-content")
        content.scroll_into_view_if_needed()
        content.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(code)
        self.page.keyboard.press("Escape")

    def self_check(self) -> tuple[dict[str, str], list[str]]:
        """The check-my-work table: its data attributes and each row's status."""
        table = self.page.locator("table.dl-course-selfcheck")
        table.wait_for(timeout=60_000)
        # the whole last cell in view, notes below the table included, for the screenshot
        self.page.locator(".jp-NotebookPanel .jp-Cell").last.evaluate(
            "cell => cell.scrollIntoView({block: 'end'})"
        )
        attributes = {k: table.get_attribute(f"data-{k}") for k in ("earned", "total")}
        statuses = [
            row.get_attribute("data-status") for row in table.locator("tr[data-status]").all()
        ]
        return attributes, statuses

    def figures(self) -> int:
        return self.page.locator(".jp-NotebookPanel .jp-OutputArea-output img").count()


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str, bool]]:
    """``(cell index, ename, cell tagged raises-exception)`` of every error output."""
    return [
        (index, output.get("ename"), EXPECTED_FAILURE_TAG in cell.metadata.get("tags", []))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: p.stem)
def test_students_day(released, lab, chromium, screenshots):
    name = released.stem
    solution = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
    path = student_copy(released, lab.root)
    tests = [c for c in nbformat.read(path, as_version=4).cells if is_test_cell(c)]
    points = sum(float(nbgrader_meta(c).get("points", 0)) for c in tests)
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        notebook = NotebookPage(page, lab, path)
        n = notebook.code_cells

        # 1. the blank notebook, Run All
        prompts = notebook.run_all()
        assert prompts[-1] == f"[{n}]:", f"Run All stopped before the last cell: {prompts}"
        saved = notebook.save()
        unexpected = [e for e in errors(saved) if e[1:] != ("NotImplementedError", True)]
        assert errors(saved) and not unexpected, f"errors other than blank exercises: {unexpected}"
        assert notebook.figures() == image_outputs(solution)
        attributes, statuses = notebook.self_check()
        assert attributes == {"earned": "0", "total": f"{points:g}"}
        assert statuses and set(statuses) == {"not attempted"}
        page.screenshot(path=screenshots / f"{name}-blank.png")

        # 2. the reference answers pasted in, saved, Run All again
        answers = solution_answers(name)
        for index, cell in enumerate(notebook.nb.cells):
            if is_answer_cell(cell):
                notebook.paste_answer(index, answers[nbgrader_meta(cell)["grade_id"]])
        notebook.save()
        prompts = notebook.run_all()
        assert prompts[-1] == f"[{2 * n}]:", f"Run All stopped before the last cell: {prompts}"
        assert errors(notebook.save()) == []
        attributes, statuses = notebook.self_check()
        assert attributes == {"earned": f"{points:g}", "total": f"{points:g}"}
        assert set(statuses) == {"passed"}
        page.screenshot(path=screenshots / f"{name}-solved.png")
    finally:
        context.close()


def test_a_missing_browser_fails_under_ci_and_is_skipped_elsewhere(monkeypatch):
    monkeypatch.setattr(browser_tool, "chromium_path", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"needs Chromium .* must run in CI"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"needs Chromium \(Debian package"):
        require_browser()


def test_student_copy_uses_the_notebooks_own_check_cell(tmp_path):
    source = tmp_path / "src" / "01_a" / "01_a.ipynb"
    source.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, source)
    appended = nbformat.read(student_copy(source, tmp_path / "one"), as_version=4)
    assert [c.source for c in appended.cells] == ["x = 1", CHECK_CELL]
    own = "from dl_helpers.selfcheck import check_my_work\ncheck_my_work()  # your work"
    nb.cells.append(nbformat.v4.new_code_cell(own))
    nbformat.write(nb, source)
    kept = nbformat.read(student_copy(source, tmp_path / "two"), as_version=4)
    assert [c.source for c in kept.cells] == ["x = 1", own]
    assert nbformat.read(source, as_version=4) == nb  # the original is never touched


def test_classic_notebook_runs_the_self_check(chromium, tmp_path_factory, screenshots):
    """The classic interface (Notebook 7) on the tiny fixture: Run All from its menu, and the
    check-my-work cell finds the notebook (JPY_SESSION_NAME) and shows its table."""
    base = tmp_path_factory.mktemp("classic")
    (released,) = release(make_repo(base / "repo"), dest=base / "released")
    with jupyter_lab(base / "server", app="notebook") as server:
        path = student_copy(released / f"{TINY}.ipynb", server.root)
        context = chromium.new_context(viewport={"width": 1280, "height": 1000})
        try:
            notebook = NotebookPage(context.new_page(), server, path, app="notebook")
            prompts = notebook.run_all()
            assert prompts[-1] == f"[{notebook.code_cells}]:", prompts
            attributes, statuses = notebook.self_check()
            assert attributes == {"earned": "0", "total": "5"}
            assert statuses == ["not attempted", "not attempted"]
            notebook.page.screenshot(path=screenshots / f"classic-{TINY}-blank.png")
        finally:
            context.close()
