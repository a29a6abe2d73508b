"""Load strategy classes from files, folders and code strings, with errors that point at lines.

Where strategies are found, in order: the user folders passed in (first wins), then the
bundled ``strategies/`` folder at the repository root next to the ``stom_desktop`` package.
A strategy's name is its file stem (``strategies/sma_cross.py`` -> ``sma_cross``); a user
file with a bundled name shadows the bundled one.

A strategy file defines exactly one concrete ``Strategy`` subclass (helper base classes in
the same file are fine: the most derived class is taken). Loading compiles and runs the
file as a fresh module named ``_stom_strategy_<stem>_<hash of path>`` in ``sys.modules``
(dataclasses and ``inspect`` need the module registered). A failed load removes the
module again and restores a previously loaded version of the same file, if any.
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
import os
import re
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.params import Param
from stom_desktop.strategy.safe_call import safe_call, traceback_text, user_line
from stom_desktop.strategy.source_check import Problem, validate_source

__all__ = [
    "Problem",
    "StrategyInfo",
    "bundled_dir",
    "discover",
    "find_file",
    "load_file",
    "load_from_code",
    "load_strategy",
    "search_dirs",
    "validate_source",
]

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DIRECTIONS = ("long", "short", "both")
PathLike = str | os.PathLike[str]


def bundled_dir() -> Path:
    """The bundled ``strategies/`` folder (repository root, beside the package)."""
    return Path(__file__).resolve().parents[2] / "strategies"


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """What :func:`discover` found in one file. ``error`` is set when it failed to load."""

    name: str
    path: Path
    class_name: str = ""
    line: int | None = None
    doc: str = ""
    params: dict[str, Param] = field(default_factory=dict)
    direction: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file loaded and defines a usable strategy."""
        return self.error is None


def search_dirs(dirs: Sequence[PathLike] | None = None) -> list[Path]:
    """User folders (in the order given) followed by the bundled folder, without repeats."""
    out: list[Path] = []
    for folder in [*(dirs or ()), bundled_dir()]:
        resolved = Path(folder).expanduser().resolve()
        if resolved not in out:
            out.append(resolved)
    return out


def _looks_like_path(name_or_path: PathLike) -> bool:
    text = os.fspath(name_or_path)
    return (
        isinstance(name_or_path, os.PathLike)
        or text.endswith(".py")
        or "/" in text
        or os.sep in text
    )


def find_file(name: str, dirs: Sequence[PathLike] | None = None) -> Path:
    """Path of the strategy called ``name`` (file stem) in the search folders."""
    if not _NAME_RE.match(name):
        raise StrategyError(
            f"invalid strategy name {name!r}: use letters, digits and underscores "
            "(the file name without .py), or give a path to a .py file"
        )
    folders = search_dirs(dirs)
    for folder in folders:
        candidate = folder / f"{name}.py"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for f in folders if f.is_dir() for p in _strategy_files(f)})
    raise StrategyError(
        f"no strategy named {name!r} in {', '.join(str(f) for f in folders)}",
        hint=f"available: {', '.join(known) or 'none'}",
    )


def load_strategy(name_or_path: PathLike, dirs: Sequence[PathLike] | None = None) -> type[Strategy]:
    """Load a strategy class by name (searched as in :func:`find_file`) or by file path."""
    if _looks_like_path(name_or_path):
        return load_file(name_or_path)
    return load_file(find_file(os.fspath(name_or_path), dirs))


def load_file(path: PathLike) -> type[Strategy]:
    """Load the strategy class defined in the ``.py`` file at ``path``."""
    file = Path(path).expanduser().resolve()
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StrategyError("strategy file not found", path=str(file)) from exc
    except UnicodeDecodeError as exc:
        raise StrategyError(f"file is not UTF-8 text ({exc.reason})", path=str(file)) from exc
    except OSError as exc:
        raise StrategyError(f"cannot read strategy file: {exc.strerror}", path=str(file)) from exc
    digest = hashlib.sha1(str(file).encode(), usedforsecurity=False).hexdigest()[:10]
    module_name = f"_stom_strategy_{_identifier(file.stem)}_{digest}"
    return _load(source, str(file), module_name, file.stem)


def load_from_code(code: str, name: str) -> type[Strategy]:
    """Load a strategy from source text (e.g. stored in the database) under ``name``.

    Errors and tracebacks name the pseudo-file ``<strategy NAME #HASH>``; the source is put
    in ``linecache`` so tracebacks and ``inspect`` show its lines.
    """
    if not _NAME_RE.match(name):
        raise StrategyError(f"invalid strategy name {name!r}: use letters, digits, underscores")
    digest = hashlib.sha1(code.encode(), usedforsecurity=False).hexdigest()[:10]
    filename = f"<strategy {name} #{digest}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    try:
        return _load(code, filename, f"_stom_strategy_db_{name}_{digest}", name)
    except StrategyError:
        linecache.cache.pop(filename, None)
        raise


def discover(
    dirs: Sequence[PathLike] | None = None, *, include_bundled: bool = True
) -> list[StrategyInfo]:
    """Every strategy file in ``dirs`` (then the bundled folder), loaded to describe it.

    Files starting with ``_`` are skipped; a name already found in an earlier folder is
    shadowed. Broken files are listed with ``error`` set instead of raising.
    """
    folders = search_dirs(dirs) if include_bundled else [Path(d).resolve() for d in dirs or ()]
    seen: set[str] = set()
    found: list[StrategyInfo] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for file in _strategy_files(folder):
            if file.stem in seen:
                continue
            seen.add(file.stem)
            try:
                cls = load_file(file)
            except StrategyError as exc:
                found.append(StrategyInfo(name=file.stem, path=file, error=str(exc)))
                continue
            found.append(
                StrategyInfo(
                    name=file.stem,
                    path=file,
                    class_name=cls.__name__,
                    line=_class_line(cls),
                    doc=_summary(inspect.getdoc(cls)),
                    params=cls.declared_params(),
                    direction=cls.direction,
                )
            )
    return found


# -- internals ------------------------------------------------------------------------
def _strategy_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.glob("*.py") if not p.name.startswith("_") and _NAME_RE.match(p.stem)
    )


def _summary(doc: str | None) -> str:
    """The first paragraph of a docstring on one line."""
    paragraph = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _class_line(cls: type) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def _load(source: str, filename: str, module_name: str, stem: str) -> type[Strategy]:
    """Compile and run ``source`` as module ``module_name``; return its strategy class."""
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        column = f", column {exc.offset}" if exc.offset else ""
        raise StrategyError(
            f"syntax error{column}: {exc.msg}" + (f": {text}" if text else ""),
            path=filename,
            line=exc.lineno,
        ) from exc
    except ValueError as exc:  # e.g. a NUL byte in the source
        raise StrategyError(f"cannot compile: {exc}", path=filename) from exc

    previous = sys.modules.get(module_name)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    sys.modules[module_name] = module
    try:
        try:
            exec(code, module.__dict__)
        except (Exception, SystemExit) as exc:  # user code: report it, never crash the app
            raise StrategyError(
                f"error while loading: {type(exc).__name__}: {exc}",
                path=filename,
                line=user_line(exc.__traceback__, filename),
                traceback_text=traceback_text(exc, skip_frames=1),
            ) from exc
        cls = _pick_class(module, filename)
        _check_class(cls, filename, stem)
    except StrategyError:
        if previous is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous
        raise
    return cls


def _pick_class(module: types.ModuleType, filename: str) -> type[Strategy]:
    """The one most-derived ``Strategy`` subclass defined in ``module``."""
    candidates = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if not candidates:
        raise StrategyError(
            "no Strategy subclass found",
            path=filename,
            hint="define `class MyStrategy(Strategy):` with a `signals(self, bars, ta)` method",
        )
    leaves = [c for c in candidates if not any(o is not c and issubclass(o, c) for o in candidates)]
    if len(leaves) > 1:
        names = ", ".join(f"{c.__name__} (line {_class_line(c)})" for c in leaves)
        raise StrategyError(
            f"several Strategy classes ({names}); put one strategy per file", path=filename
        )
    return leaves[0]


def _check_class(cls: type[Strategy], filename: str, stem: str) -> None:
    """Fail fast on what would otherwise break later: signals, direction, constraints."""
    line = _class_line(cls)
    if cls.signals is Strategy.signals:
        raise StrategyError(
            f"class {cls.__name__} does not implement signals(self, bars, ta)",
            path=filename,
            line=line,
        )
    try:
        inspect.signature(cls.signals).bind(None, None, None)
    except TypeError as exc:
        raise StrategyError(
            f"{cls.__name__}.signals must take (self, bars, ta): {exc}", path=filename, line=line
        ) from exc
    if cls.direction not in _DIRECTIONS:
        raise StrategyError(
            f"{cls.__name__}.direction is {cls.direction!r}; use one of {', '.join(_DIRECTIONS)}",
            path=filename,
            line=line,
        )
    declared = cls.declared_params()
    for pair in cls.constraints:
        if len(pair) != 2 or any(name not in declared for name in pair):
            raise StrategyError(
                f"{cls.__name__}.constraints entry {pair!r} must be two declared parameter "
                f"names (declared: {', '.join(declared) or 'none'})",
                path=filename,
                line=line,
            )
    if not cls.name:
        cls.name = stem
    # The defaults must make a valid instance (ranges, constraints, exit rules).
    instance = safe_call(cls, where=f"{cls.__name__}() with default parameters", user_file=filename)
    safe_call(instance.exit_rules, where=f"{cls.__name__}.exit_rules()", user_file=filename)
