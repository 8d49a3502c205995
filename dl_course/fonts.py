"""matplotlib's font list for the sandboxed kernels, built once per course folder.

The first time matplotlib is imported with an empty configuration folder it scans every font
it can see and writes the list there (``fontlist-v*.json``). Each sandboxed kernel starts with
an empty private ``/tmp``, so each paid that scan: about 0.2 s of CPU, twice per submission
(the grading kernel and the verification kernel both import pyplot).

``build`` makes the list once, with a Python in the same sandbox as the kernels
(so it names exactly the fonts they see), and keeps it in the course folder's cache, keyed by
the environment and what the sandbox shows; ``find`` finds it. Each kernel starts with its own copy
(``SandboxedKernelManager.font_list``), so matplotlib may still rebuild it if it disagrees.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from dl_course import cache, sandbox

_BUILD = "import matplotlib.font_manager"


def _key() -> str:
    shown = [*sandbox.system_paths(), *sandbox.runtime_paths()]
    text = "\n".join([metadata.version("matplotlib"), sys.version, *map(str, shown)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _folder(cache_dir: Path) -> Path:
    return cache_dir / f"fonts-{_key()}"


def find(cache_dir: Path) -> Path | None:
    """The font list kept in ``cache_dir`` for this environment, if there is one."""
    found = sorted(_folder(cache_dir).glob("fontlist-*.json"))
    return found[0] if found else None


def build(cache_dir: Path, scratch: Path) -> Path | None:
    """Build the font list (in ``scratch``) and keep it in ``cache_dir``; ``None`` when it
    cannot be built (the kernels then scan the fonts themselves)."""
    try:
        built = _build(scratch / "fonts")
    except (OSError, subprocess.SubprocessError) as error:
        logging.getLogger("dl-course").warning("matplotlib's font list: %s", error)
        return None
    if built is None:
        return None
    cache.put_in_place(built.parent, _folder(cache_dir))
    return find(cache_dir)


def _build(scratch: Path) -> Path | None:
    """Import matplotlib's font manager in a sandbox like a kernel's; the list it wrote."""
    work, config = scratch / "work", scratch / "matplotlib"
    sandbox.prepare_dirs(work, config)
    uid = sandbox.sandbox_uid()
    command = [
        *sandbox.bwrap_args(work_dir=work, ipc_dir=config, masked=[], tmp_mb=64,
                            drop_to_uid=uid, readable=sandbox.runtime_paths(),
                            mpl_config=config),  # fmt: skip
        *(sandbox.drop_privileges_args(uid) if uid is not None else []),
        sys.executable, "-P", "-c", _BUILD,
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120, env=dict(os.environ))
    found = sorted(config.glob("fontlist-*.json"))
    return found[0] if found else None
