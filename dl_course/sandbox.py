"""Run a submission's Jupyter kernel inside a bubblewrap sandbox with resource limits.

Only the *kernel* runs inside; the executor (nbclient, driven by nbgrader) stays outside, so
student code can neither kill it nor forge the executed notebook. The sandbox::

    bwrap --unshare-{net,pid,ipc,uts,cgroup} --die-with-parent --new-session
          --ro-bind <each allow-listed path>    # system libraries, Python, the environment
          --dev /dev  --proc /proc  --tmpfs /tmp (private, size-capped)
          --tmpfs <each masked folder inside them>
          --tmpfs <each blocked package folder> --ro-bind <blocker> <folder>/__init__.py
          --bind <work dir> --bind <ipc dir>    # the only writable places
      -- prlimit (address space, CPU seconds, processes, file size, no core dumps)
      -- setpriv (drop to nobody when started as root; no capabilities, no new privileges)
      -- python -P -m ipykernel_launcher -f <connection file>

With the network unshared the kernel talks to the executor through ``ipc`` socket files in
the bound ipc folder. The environment is cleared (no ``JPY_PARENT_PID``: in a new PID
namespace ipykernel would see its parent gone and quit). ``python -P`` keeps the working
folder off the front of ``sys.path``, so a ``numpy.py`` there cannot shadow numpy at start-up.

The root is an allow-list, not a read-only copy of ``/``: it starts empty and only
``system_paths()`` (the Python installation, the shared libraries, the two wrapper programs,
a few files of ``/etc``) and ``runtime_paths()`` (the environment and ``dl_helpers``) are
bound, with every other Python's ``site-packages``/``dist-packages`` hidden. Home folders,
other checkouts, the course's ``solutions/`` and ``tests/``, the gradebook and folders
shared on the machine do not exist inside, whatever their permissions. A package that is
blocked (below) cannot be imported from a copy elsewhere on the machine either, whatever
the code does to ``sys.path``.

A *blocked* package (the verification run's dl_helpers, torch, scipy, sklearn) is an empty
folder whose ``__init__.py`` raises ``ImportError``: an empty folder alone would still import,
as a namespace package.

Without bubblewrap (``unsafe=True``, only on the instructor's explicit request) the kernel runs
as a plain process with the same resource limits and working folder, and no isolation.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode

SANDBOX_UID = 65534  # nobody: the kernel's user when the grader runs as root
INSTALL_HINT = (
    "bubblewrap (bwrap) is not installed: it isolates each submission while it is graded. "
    "Install it (`sudo apt-get install bubblewrap`, or `make sandbox-tool` as root), or pass "
    "--unsafe-no-sandbox to grade with student code running unisolated as you."
)
_MB = 1024 * 1024


def bwrap_path() -> str | None:
    """The bubblewrap executable, or ``None`` when it is not installed."""
    return shutil.which("bwrap")


def limit_args(memory_mb: int, cpu_seconds: int, max_processes: int, max_file_mb: int) -> list[str]:
    """A ``prlimit`` prefix that applies the resource limits to the command after it."""
    return [
        shutil.which("prlimit") or "prlimit",
        f"--as={memory_mb * _MB}",
        f"--cpu={cpu_seconds}",
        f"--nproc={max_processes}",
        f"--fsize={max_file_mb * _MB}",
        "--core=0",
        "--",
    ]


def kernel_env(home: str) -> dict[str, str]:
    """The whole environment a sandboxed kernel gets (nothing inherited from the grader)."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # One thread each keeps the address-space limit meaningful and the cores shared fairly.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _tmpfs_parents(path: Path, tmpfs_roots: list[Path]) -> list[Path]:
    """Folders between a tmpfs mount and ``path`` that bwrap must create (traversable)."""
    for root in tmpfs_roots:
        if path.is_relative_to(root) and path != root:
            rel = path.relative_to(root).parts[:-1]
            return [root.joinpath(*rel[: i + 1]) for i in range(len(rel))]
    return []


def runtime_paths() -> list[Path]:
    """What the kernel must read even when it lies below a hidden folder: the virtual
    environment and the ``dl_helpers`` package (an editable install lives in the checkout,
    which may itself sit below ``/tmp``)."""
    import dl_helpers

    return [Path(sys.prefix).resolve(), Path(dl_helpers.__file__).resolve().parent]


MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")  # fmt: skip


def system_paths() -> list[Path]:
    """What an allow-listed kernel sees besides its environment (``runtime_paths``): the
    Python installation the virtual environment was made from, the system's shared
    libraries (``/usr/lib*``), ``prlimit`` and ``setpriv`` (they run inside the sandbox), and
    the files of ``/etc`` the dynamic loader and ``getpwuid`` read."""
    paths = [Path(sys.base_prefix).resolve()]
    paths += [Path(p) for p in ("/usr/lib", "/usr/lib64", "/usr/lib32") if Path(p).is_dir()]
    for tool in ("prlimit", "setpriv"):
        if found := shutil.which(tool):
            paths.append(Path(found).resolve())
    paths += [Path(p) for p in ETC_FILES if Path(p).exists()]
    return paths


def foreign_package_dirs(visible: list[Path]) -> list[Path]:
    """Package folders of other Pythons inside ``visible`` (the base installation's own
    ``site-packages``, Debian's ``dist-packages``): hidden, so that nothing but the course's
    environment can be imported."""
    env = Path(sys.prefix).resolve()
    config = env / "pyvenv.cfg"
    if config.is_file() and "include-system-site-packages = true" in config.read_text():
        return []  # this environment uses the base installation's packages too
    found = []
    for root in visible:
        if not root.is_dir():
            continue
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages",
                        "lib/python3/dist-packages", "local/lib/python3*/*-packages",
                        "python3*/site-packages", "python3*/dist-packages", "python3"):  # fmt: skip
            for path in root.glob(pattern):
                if path.is_dir() and not path.is_relative_to(env):  # the course's own: kept
                    found.append(path)
    found = sorted(set(found))
    return [p for p in found if not any(p != q and p.is_relative_to(q) for q in found)]


def _others_can_read(path: Path) -> bool:
    """Whether a user with no rights of its own (``nobody``) can reach and list ``path``."""
    for folder in (*reversed(path.parents), path):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


@functools.cache
def sandbox_uid() -> int | None:
    """The user the kernel becomes: ``nobody`` when the grader is root and ``nobody`` can read
    the environment; otherwise ``None`` (the grader's own user). A checkout below a private
    folder such as ``/root`` is not readable by ``nobody``: the kernel then stays uid 0 inside
    bubblewrap, which gives it no capabilities, on a read-only file system."""
    if os.geteuid() != 0:
        return None
    return SANDBOX_UID if all(_others_can_read(p) for p in runtime_paths()) else None


def bwrap_args(
    *,
    work_dir: Path,
    ipc_dir: Path,
    masked: list[Path],
    tmp_mb: int,
    drop_to_uid: int | None,
    readable: tuple[Path, ...] | list[Path] = (),
    blocked: tuple[Path, ...] | list[Path] = (),
    blocker: Path | None = None,
    mpl_config: Path | None = None,
) -> list[str]:
    """The ``bwrap ... --`` prefix: the namespaces, mounts and environment described above.

    The root starts empty and only ``system_paths()`` and ``readable`` are bound
    (read-only), other Pythons' package folders hidden; ``masked`` paths inside them are
    hidden too.

    ``readable`` paths that fall below ``/tmp`` or a masked folder are bound back read-only
    (except those ``blocked``). ``blocked`` package folders become an empty folder holding
    only ``blocker`` as their ``__init__.py``. ``mpl_config`` is matplotlib's configuration
    folder when it is not the private ``/tmp``'s (``fonts``).
    """
    shown = [*system_paths(), *readable]
    args = [
        bwrap_path() or "bwrap",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
        *_allow_list_root(shown),
        "--dev", "/dev",
        "--proc", "/proc",
        "--perms", "1777", "--size", str(tmp_mb * _MB), "--tmpfs", "/tmp",
    ]  # fmt: skip
    tmpfs_roots = [Path("/tmp")]
    # Only what is bound is there: a masked path outside it needs no cover
    masked = [p for p in masked if any(p.is_relative_to(v) for v in shown)]
    # A mask inside a readable path below /tmp goes on after that path is bound back (below),
    # or the bind would cover it
    below_tmp = [r for r in readable if r.is_relative_to("/tmp")]
    late = [p for p in masked if any(p.is_relative_to(r) for r in below_tmp)]
    for path in masked:
        if path not in late:
            args += _mask(path)
            tmpfs_roots += [path] if path.is_dir() else []
    bound_back = []
    for path in readable:
        if path in blocked:
            continue
        if any(path.is_relative_to(root) for root in tmpfs_roots):
            for parent in _tmpfs_parents(path, tmpfs_roots):
                args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(path), str(path)]
            bound_back.append(path)
    for path in late:
        args += _mask(path)
    for path in blocked:
        if not any(path.is_relative_to(b) for b in bound_back):  # inside one: it exists
            for parent in _tmpfs_parents(path, tmpfs_roots):
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--perms", "0755", "--tmpfs", str(path)]
        if blocker is not None:
            args += ["--ro-bind", str(blocker), str(path / "__init__.py")]
    for bound in (work_dir, ipc_dir):
        for parent in _tmpfs_parents(bound, tmpfs_roots):
            args += ["--perms", "0711", "--dir", str(parent)]
        args += ["--bind", str(bound), str(bound)]
    args += ["--chdir", str(work_dir), "--clearenv"]
    env = kernel_env("/tmp")
    if mpl_config is not None:
        env["MPLCONFIGDIR"] = str(mpl_config)
    for key, value in env.items():
        args += ["--setenv", key, value]
    if drop_to_uid is not None:  # setpriv needs these to switch user; it then drops them all
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:  # bwrap started by root would otherwise keep every capability (remounts included)
        args += ["--cap-drop", "ALL"]
    return [*args, "--"]


def _mask(path: Path) -> list[str]:
    """bwrap arguments that hide ``path``: an empty folder over a folder, an empty file over a
    file (nothing for a path that does not exist)."""
    if path.is_dir():
        return ["--tmpfs", str(path)]
    return ["--ro-bind", "/dev/null", str(path)] if path.exists() else []


def _allow_list_root(shown: list[Path]) -> list[str]:
    """bwrap arguments that build the allow-listed root from the paths ``shown`` (see
    ``bwrap_args``)."""
    args = []
    for link in MERGED_USR_LINKS:  # /lib -> usr/lib on merged-/usr systems: keep the links
        if Path(link).is_symlink():
            args += ["--symlink", os.readlink(link), link]
    # What lies below /tmp is bound back after the private /tmp is mounted (bwrap_args)
    shown = [p for p in shown if p.exists() and not p.is_relative_to("/tmp")]
    made: set[Path] = set()
    for path in shown:
        # bwrap makes missing parents 0700: the kernel's user could not traverse them
        for parent in reversed(path.parents[:-1]):
            if parent not in made and str(parent) not in MERGED_USR_LINKS:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(path), str(path)]
    for path in foreign_package_dirs(shown):
        args += ["--tmpfs", str(path)]
    return args


def drop_privileges_args(uid: int) -> list[str]:
    """A ``setpriv`` prefix that becomes ``uid`` with no capabilities and no new privileges."""
    return [
        shutil.which("setpriv") or "setpriv",
        f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all",
        "--",
    ]  # fmt: skip


class SandboxedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel runs sandboxed (see the module docstring).

    Configure it through traitlets (``c.SandboxedKernelManager.work_dir = ...``); nbclient
    creates it with the preprocessor's config when given as ``kernel_manager_class``.
    """

    work_dir = Unicode(help="The kernel's working folder: its only writable folder.").tag(
        config=True
    )
    ipc_dir = Unicode(help="Folder for the connection file and ipc sockets.").tag(config=True)
    masked_paths = List(
        Unicode(), help="Folders (or files) inside the allow-listed paths hidden from the kernel."
    ).tag(
        config=True
    )
    memory_mb = Integer(2048, help="Address-space limit of each kernel process (MiB).").tag(
        config=True
    )
    cpu_seconds = Integer(600, help="CPU-time limit of each kernel process (s).").tag(config=True)
    max_processes = Integer(256, help="Process limit for the kernel's user.").tag(config=True)
    max_file_mb = Integer(256, help="Largest file the kernel may write (MiB).").tag(config=True)
    tmp_mb = Integer(256, help="Size of the private /tmp (MiB).").tag(config=True)
    unsafe = Bool(False, help="Run without bubblewrap (limits only, no isolation).").tag(
        config=True
    )
    blocked_paths = List(
        Unicode(), help="Package folders made unimportable (each an empty folder whose "
        "__init__.py is blocker_file)."
    ).tag(config=True)
    blocker_file = Unicode(help="The __init__.py of blocked folders (raises ImportError).").tag(
        config=True
    )
    font_list = Unicode(
        "", help="A matplotlib font list the kernel starts with (fonts.find), so it "
        "does not scan the fonts itself; '' to let it scan."
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not self.unsafe:
            ipc = Path(self.ipc_dir)
            self.transport = "ipc"
            self.ip = str(ipc / "k")
            self.connection_file = str(ipc / "kernel.json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd and Path(cmd[0]).name.startswith("python"):
            cmd.insert(1, "-P")  # no working folder at the front of sys.path
        limits = limit_args(self.memory_mb, self.cpu_seconds, self.max_processes, self.max_file_mb)
        if self.unsafe:
            return [*limits, *cmd]
        uid = sandbox_uid()
        prefix = bwrap_args(
            work_dir=Path(self.work_dir),
            ipc_dir=Path(self.ipc_dir),
            masked=[Path(p) for p in self.masked_paths],
            tmp_mb=self.tmp_mb,
            drop_to_uid=uid,
            readable=runtime_paths(),
            blocked=[Path(p) for p in self.blocked_paths],
            blocker=Path(self.blocker_file) if self.blocker_file else None,
            mpl_config=self._mpl_config(),
        )
        drop = drop_privileges_args(uid) if uid is not None else []
        return [*prefix, *limits, *drop, *cmd]

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message: a signal to bwrap would not reach the kernel's own session."""
        if self.unsafe:
            await super()._async_interrupt_kernel()
            return
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel

    async def _async_wait(self, pollinterval: float = 0.01) -> None:
        """Wait for a killed kernel to be gone, polling every 10 ms, not jupyter_client's 100:
        a killed sandbox is gone in a few ms, and grading a submission waits for two."""
        await super()._async_wait(pollinterval=pollinterval)

    def _mpl_config(self) -> Path | None:
        """matplotlib's folder when the kernel starts with a font list: in the kernel's own
        ipc folder, so that matplotlib may still rewrite its copy."""
        return Path(self.ipc_dir) / "matplotlib" if self.font_list else None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        kw["cwd"] = self.work_dir
        env = dict(kw.get("env") or os.environ)
        env.pop("JPY_PARENT_PID", None)
        if self.unsafe:
            env.update(kernel_env(self.work_dir))
        uid = None if self.unsafe else sandbox_uid()
        if (folder := self._mpl_config()) is not None:
            folder.mkdir(exist_ok=True)
            shutil.copy(self.font_list, folder)
            prepare_dirs(folder)
            env["MPLCONFIGDIR"] = str(folder)
        kw["env"] = env
        if uid is not None:  # the kernel (nobody) must read its connection file
            os.chown(self.connection_file, uid, uid)
        await super()._async_launch_kernel(kernel_cmd, **kw)


def prepare_dirs(*folders: Path) -> None:
    """Create the kernel's folders (its work and ipc folders), owned with all they hold by
    the sandbox user when the kernel drops to it."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    if sandbox_uid() is not None:
        for folder in folders:
            for dirpath, _, filenames in os.walk(folder):
                os.chown(dirpath, SANDBOX_UID, SANDBOX_UID)
                for name in filenames:
                    os.chown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_UID)
