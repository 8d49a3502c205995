"""Configure JupyterLab inside the course virtual environment (run by ``make``).

Students need nbgrader's *Validate* button and nothing else of nbgrader's UI: the
instructor panels (course list, assignment list, create assignment, the Nbgrader menu)
are disabled so they do not confuse students. JupyterLab's "official Jupyter news"
pop-up is switched off because the course machines are offline.

Everything is written below ``sys.prefix`` (the venv), never to the user's home.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

STUDENT_PLUGIN = "@jupyter/nbgrader:validate-assignment"
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:menu",
)
SETTINGS_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def _jupyter(*args: str) -> None:
    jupyter = Path(sys.prefix) / "bin" / "jupyter"
    subprocess.run([str(jupyter), *args], check=True, capture_output=True, text=True)


def write_overrides(prefix: Path) -> Path:
    """Write JupyterLab's settings overrides below ``prefix``; return the file written."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(SETTINGS_OVERRIDES, indent=2) + "\n")
    return path


def main() -> None:
    _jupyter("labextension", "enable", "--level=sys_prefix", "@jupyter/nbgrader")
    _jupyter("labextension", "enable", "--level=sys_prefix", STUDENT_PLUGIN)
    for plugin in INSTRUCTOR_PLUGINS:
        _jupyter("labextension", "disable", "--level=sys_prefix", plugin)
    _jupyter("server", "extension", "enable", "--sys-prefix", "nbgrader")
    write_overrides(Path(sys.prefix))
    print("JupyterLab: nbgrader Validate button enabled, instructor panels disabled.")


if __name__ == "__main__":
    main()
