"""A reusable Jupyter kernel for gates that execute only some cells of a notebook.

Executing setup + answer + test cells in one kernel (instead of the whole notebook once per
check) is what keeps the mutant gate fast: one kernel start per notebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import start_new_kernel


@dataclass
class CellResult:
    ok: bool
    ename: str = ""
    evalue: str = ""
    stderr: str = ""
    stdout: list[str] = field(default_factory=list)

    def describe(self) -> str:
        first_line = self.evalue.splitlines()[0] if self.evalue else ""
        return "ok" if self.ok else f"{self.ename}: {first_line}"


class Kernel:
    """A python3 kernel started in ``cwd``; ``run(source)`` executes one cell."""

    def __init__(self, cwd: Path, *, timeout: float = 60) -> None:
        env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
        self.timeout = timeout

    def run(self, source: str) -> CellResult:
        result = CellResult(ok=True)

        def collect(msg: dict) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stderr":
                    result.stderr += content["text"]
                else:
                    result.stdout.append(content["text"])
            elif kind == "error":
                result.ok, result.ename, result.evalue = False, content["ename"], content["evalue"]

        reply = self.client.execute_interactive(
            source, timeout=self.timeout, output_hook=collect, allow_stdin=False
        )
        if reply["content"]["status"] == "error" and result.ok:
            content = reply["content"]
            result.ok, result.ename, result.evalue = False, content["ename"], content["evalue"]
        return result

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
