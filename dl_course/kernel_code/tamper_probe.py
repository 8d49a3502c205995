"""The integrity probe: one JSON line describing the kernel's state (see ``integrity``)."""

from __future__ import annotations


def __dlgrader_probe(
    mark: str,
    modules: list[str],
    aliases: dict[str, str],
    volatile: tuple[str, ...],
    trusted_callback_packages: tuple[str, ...],
) -> None:
    """Print ``mark`` and a JSON report: identities of the callables of ``modules`` (except
    the ``volatile`` names the kernel rebinds itself), where ``modules`` were loaded from,
    whether each alias of ``aliases`` still names its module, exception and trace hooks,
    IPython transformers, callbacks (except those of ``trusted_callback_packages``) and
    overridden shell methods, and ``dl_helpers.checks.tampering_report()``."""
    import importlib
    import json
    import sys
    import types

    from IPython import get_ipython

    report = {"ids": {}, "files": {}, "aliases": {}, "hooks": [], "tampering": []}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        report["files"][name] = getattr(module, "__file__", None)
        report["ids"][name] = {
            k: id(v)
            for k, v in list(vars(module).items())
            if callable(v) and not k.startswith("_") and k not in volatile
        }
    shell = get_ipython()
    for alias, name in aliases.items():
        if alias in shell.user_ns:
            report["aliases"][alias] = shell.user_ns[alias] is sys.modules.get(name)
    if sys.excepthook != shell.excepthook:  # IPython installs its own during every cell
        report["hooks"].append("sys.excepthook replaced")
    if getattr(shell, "custom_exceptions", ()):
        report["hooks"].append("IPython custom exception handler installed")
    if sys.gettrace() is not None or sys.getprofile() is not None:
        report["hooks"].append("trace or profile function installed")
    if shell.ast_transformers or shell.input_transformers_post:
        report["hooks"].append("IPython input/AST transformer installed")
    for fn in shell.input_transformers_cleanup:
        if not str(getattr(fn, "__module__", "")).startswith("IPython."):
            report["hooks"].append("IPython input transformer installed")
    for event, callbacks in shell.events.callbacks.items():
        for fn in callbacks:
            module = str(getattr(fn, "__module__", "") or "")
            if module.split(".")[0] not in trusted_callback_packages:
                report["hooks"].append(f"IPython {event} callback registered")
    report["overridden"] = sorted(
        k
        for k, v in vars(shell).items()
        if isinstance(v, types.FunctionType | types.MethodType)
        and hasattr(type(shell), k)
        and getattr(v, "__func__", v) is not getattr(type(shell), k, None)
    )
    try:
        from dl_helpers import checks

        # The excepthook is checked above: IPython sets a new bound method in every cell.
        report["tampering"] = [t for t in checks.tampering_report() if "excepthook" not in t]
    except (ImportError, AttributeError):
        pass
    print(mark + json.dumps(report))
