"""The validated configuration, cached, so that a warm command never imports pydantic
(importing it and building the models is most of a short command's start-up).

    config = load_config(project_dir, config_file=None, cli={"database.url": None})

It takes the arguments of `workspace.config.models.load_config` and returns what that returns.
A miss loads the configuration with it (a mistake is reported as ever, and nothing is
cached unless it validated), then writes `.workspace/cache/config-<key>.json` (JSON,
never pickle; a temporary file per process, then a rename; the 8 newest kept). A hit, when every input is
byte-identical, reads it back as a read-only view of the same values.

The key (sha256) covers: this format, workspace's and Python's versions, the project
directory (found as load_config finds it), the config file's name, real path and bytes,
`.env`'s bytes, the Zitadel client file's bytes (config.CLIENT_FILE), the environment
(less the shell's bookkeeping: `_`, `OLDPWD`, `SHLVL`) and the command-line values. The
entry also holds the digest of every source it depends on: the modules of workspace that
loading the configuration imports (models.py, apps.py and what they import, found
by reading their imports, so a field added to a model or any change to a validator
misses) and pydantic's version; a hit re-reads and compares them.

The view has each field's value (models as views, Path as Path), each property of the
models as it was when written (`Config.app_order`, `Config.migrations_dir`), and the
methods of the models' pydantic-free bases (`ProjectPaths.path`). Anything else (another
method, pydantic's API, `==`, `repr`) loads the configuration the slow way once, from the
same inputs, and answers from it. Secrets (SecretStr) are never written: the entry names
the field, and a hit takes the value from the inputs again (command line, environment,
`.env`, config.yaml), checked when written to be the value that validated; it is
registered for redaction as `load_config` does. A cache file that does not parse, or is
not ours, is ignored (and replaced by the next miss).

Loading the configuration must remain a function of those inputs: a validator that reads
another file or the clock would need it added to the key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import threading
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import workspace
from workspace import __version__
from workspace.config.sources import CLIENT_FILE, CONFIG_FILE, ENV_FILE, MAX_FILE_BYTES, from_env
from workspace.errors import WorkspaceError
from workspace.output import redact
from workspace.project.root import find_root
from workspace.userfile import NotReadable, read_regular

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["CACHE_DIR", "Secret", "cache_file", "load_config"]

CACHE_DIR = Path(".workspace") / "cache"
KEEP = 8  # entries: one per set of inputs (`db migrate --database-url X`, `status`, ...)
FORMAT = 1
_SHELL_BOOKKEEPING = frozenset({"_", "OLDPWD", "SHLVL"})
# where the modules that loading the configuration imports are found from
_ROOTS = ("workspace.config.models", "workspace.config.apps", "workspace.config.cache")
_CORRUPT = (LookupError, TypeError, ValueError, AttributeError, ImportError, NotReadable,
            WorkspaceError)


class _Uncacheable(Exception):
    """A value the view could not give back as the model holds it."""


def load_config(project_dir: Path | None = None, *, config_file: Path | None = None,
                cli: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """`workspace.config.models.load_config`, from the cache when its inputs are unchanged."""
    inputs = _Inputs.read(project_dir, config_file, cli, environ)
    if inputs is not None:
        view = _load(inputs)
        if view is not None:
            return cast("Config", view)
    config = _validate(project_dir, config_file, cli, environ)
    if inputs is not None:
        _store(inputs, config)
    return config


def _validate(project_dir: Path | None, config_file: Path | None,
              cli: Mapping[str, Any] | None, environ: Mapping[str, str] | None) -> Config:
    from workspace.signals import deferred

    with deferred():  # pydantic_core panics if a signal cuts its import short
        from workspace.config.models import load_config as validated
    return validated(project_dir, config_file=config_file, cli=cli, environ=environ)


# -- the inputs -------------------------------------------------------------------------


class _Inputs:
    """What loading the configuration reads, and their key. (A plain class: a dataclass
    costs about 4M instructions to define, 1% of a warm command.)"""

    def __init__(self, project_dir: Path | None, config_file: Path | None,
                 cli: dict[str, Any], environ: dict[str, str], project: Path,
                 dotenv: bytes | None, yaml: bytes | None, key: str) -> None:
        self.project_dir, self.config_file, self.cli, self.environ = \
            project_dir, config_file, cli, environ
        self.project, self.dotenv, self.yaml, self.key = project, dotenv, yaml, key

    @classmethod
    def read(cls, project_dir: Path | None, config_file: Path | None,
             cli: Mapping[str, Any] | None, environ: Mapping[str, str] | None) -> _Inputs | None:
        """The inputs and their key, or None when a file cannot be read (loading it
        reports why)."""
        if project_dir is None and config_file is None:  # as load_config finds it
            project_dir = find_root(Path.cwd())
        project = (project_dir or Path.cwd()).resolve()
        env = dict(os.environ if environ is None else environ)
        yaml_path = config_file or project / CONFIG_FILE
        env_path = project / ENV_FILE
        client_path = project / CLIENT_FILE
        try:
            yaml = read_regular(yaml_path, max_bytes=MAX_FILE_BYTES) \
                if os.path.lexists(yaml_path) else None
            dotenv = read_regular(env_path, max_bytes=MAX_FILE_BYTES) \
                if env_path.is_file() else None
            client = read_regular(client_path, max_bytes=MAX_FILE_BYTES) \
                if os.path.lexists(client_path) else None
        except (NotReadable, OSError):
            return None
        given = dict(cli or {})
        blob = json.dumps([
            FORMAT, __version__, sys.version, sys.executable, str(project),
            str(config_file) if config_file is not None else None,
            os.path.realpath(yaml_path) if yaml is not None else None,
            _digest(yaml), _digest(dotenv), _digest(client),
            sorted((k, v) for k, v in env.items() if k not in _SHELL_BOOKKEEPING),
            sorted((k, [type(v).__name__, str(v)]) for k, v in given.items() if v is not None),
        ], ensure_ascii=True)
        key = hashlib.sha256(blob.encode("ascii")).hexdigest()
        return cls(project_dir, config_file, given, env, project, dotenv, yaml, key)

    def raw(self, parts: tuple[str, ...]) -> Any:
        """What the highest source gives the field at `parts`, as load_config layers them."""
        dotted = ".".join(parts)
        given = {k: v for k, v in self.cli.items() if v is not None}
        if dotted in given:
            return given[dotted]
        values, _ = from_env(self.environ, "environment variable", None)
        if dotted in values:
            return values[dotted]
        if self.dotenv is not None:
            from workspace.config.sources import read_dotenv

            values, _ = from_env(read_dotenv(self.dotenv.decode("utf-8")), ENV_FILE, [])
            if dotted in values:
                return values[dotted]
        if self.yaml is not None:
            from workspace.config.sources import parse_yaml  # a secret in config.yaml

            # load_config parsed these bytes already: no second parse, no error
            node = parse_yaml(self.yaml.decode("utf-8"), Path(CONFIG_FILE))[1]
            for part in parts:
                if not isinstance(node, dict) or part not in node:
                    raise _Uncacheable(dotted)
                node = node[part]
            return node
        raise _Uncacheable(dotted)


def cache_file(project: Path, key: str) -> Path:
    """Where the entry for the inputs of `key` is kept."""
    return project / CACHE_DIR / f"config-{key[:32]}.json"


def _digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


# -- the sources the entry depends on --------------------------------------------------


def _sources() -> dict[str, str]:
    """Digest of each module loading the configuration imports, and of pydantic's
    version (imported by now: this runs after a miss)."""
    files = [*_module_files(), Path(sys.modules["pydantic.version"].__file__ or "")]
    return {str(f): _digest(f.read_bytes()) or "" for f in files}


def _sources_match(sources: Any) -> bool:
    if not isinstance(sources, dict) or not sources:
        return False
    for name, digest in sources.items():
        try:  # regular files only, bounded: the names come from a file in the project
            if _digest(read_regular(Path(name), max_bytes=MAX_FILE_BYTES)) != digest:
                return False
        except NotReadable:
            return False
    return True


def _module_files() -> list[Path]:
    """The files of workspace's modules the roots import, directly or not (every import
    statement, in functions too; with their packages' __init__). Read with a regular
    expression: `ast` takes 20 times as long, on every miss."""
    import re

    statement = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)"
                           r"|import[ \t]+([^\n]*))", re.MULTILINE)
    root = Path(workspace.__file__).parent
    found: dict[str, Path] = {}
    todo = ["workspace", *_ROOTS]
    while todo:
        name = todo.pop()
        path = _file_of(root, name)
        if name in found or path is None:
            continue
        found[name] = path
        parent = name.rpartition(".")[0]
        todo += [parent] if parent else []
        package = name if path.name == "__init__.py" else parent
        for source, names, modules in statement.findall(path.read_text("utf-8")):
            if modules:  # import a.b as c, d
                todo += [_first_word(m) for m in modules.split(",")
                         if _first_word(m).split(".")[0] == "workspace"]
                continue
            level = len(source) - len(source.lstrip("."))
            base = package.rsplit(".", level - 1)[0] if level else ""
            module = ".".join(p for p in (base, source.lstrip(".")) if p)
            if module.split(".")[0] == "workspace":
                todo += [module, *(f"{module}.{_first_word(n)}"
                                   for n in names.strip("()").split(",") if _first_word(n))]
    return sorted(found.values())


def _first_word(text: str) -> str:
    words = text.split("#")[0].split()
    return words[0] if words else ""


def _file_of(root: Path, name: str) -> Path | None:
    parts = name.split(".")[1:]
    package = root.joinpath(*parts, "__init__.py")
    if package.is_file():
        return package
    module = root.joinpath(*parts[:-1], f"{parts[-1]}.py") if parts else None
    return module if module is not None and module.is_file() else None


# -- writing ----------------------------------------------------------------------------


def _store(inputs: _Inputs, config: Config) -> None:
    """Write the entry for `config`; nothing when a value cannot be cached or the
    directory cannot be written (the next run loads the slow way again)."""
    try:
        entry = {"format": FORMAT, "key": inputs.key, "sources": _sources(),
                 "config": _encode(config, (), inputs)}
    except (_Uncacheable, OSError):
        return
    path = cache_file(inputs.project, inputs.key)
    temp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            json.dump(entry, fh, ensure_ascii=True)
        os.replace(temp, path)
        _prune(path.parent)
    except OSError:
        with suppress(OSError):
            temp.unlink()


def _prune(directory: Path) -> None:
    """Keep the KEEP newest entries (the others were for inputs since changed)."""
    entries = []
    for path in directory.glob("config-*.json"):
        with suppress(OSError):
            entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[KEEP:]:
        with suppress(OSError):
            path.unlink()


def _encode(value: Any, parts: tuple[str, ...], inputs: _Inputs) -> Any:
    from pydantic import BaseModel, SecretStr

    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise _Uncacheable(".".join(parts))
        return value
    if kind is list:
        return [_encode(v, parts, inputs) for v in value]
    if kind is tuple:
        return {"$tuple": [_encode(v, parts, inputs) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise _Uncacheable(".".join(parts))
        return {"$dict": {k: _encode(v, (*parts, k), inputs) for k, v in value.items()}}
    if kind is type(Path()):
        return {"$path": str(value)}
    if kind is SecretStr:
        if inputs.raw(parts) != value.get_secret_value():
            raise _Uncacheable(".".join(parts))  # a validator changed it: not from the inputs
        return {"$secret": list(parts)}
    if isinstance(value, BaseModel):
        return {"$model": _encode_model(value, parts, inputs)}
    raise _Uncacheable(".".join(parts))


def _encode_model(model: Any, parts: tuple[str, ...], inputs: _Inputs) -> dict[str, Any]:
    from pydantic import BaseModel

    cls = type(model)
    if model.__pydantic_private__ or model.__pydantic_extra__:
        raise _Uncacheable(".".join(parts))
    fields = {name: _encode(getattr(model, name), (*parts, name), inputs)
              for name in cls.model_fields}
    properties: dict[str, Any] = {}
    mixins: list[str] = []
    defined: set[str] = set()  # by the models, which come first in the MRO
    for klass in cls.__mro__:
        if klass in (BaseModel, object) or klass.__module__.split(".")[0] == "pydantic":
            continue
        names = {n for n in vars(klass) if not n.startswith("__")}
        if not issubclass(klass, BaseModel):
            if klass.__module__.split(".")[0] != "workspace" or names & defined:
                raise _Uncacheable(".".join(parts))  # the view would not behave the same
            mixins.append(f"{klass.__module__}:{klass.__qualname__}")
            continue
        defined |= names
        for name, attr in vars(klass).items():
            if (isinstance(attr, (property, functools.cached_property))
                    and name not in fields and name not in properties):
                try:
                    properties[name] = _encode(getattr(model, name), (*parts, name), inputs)
                except Exception:  # noqa: BLE001 - computed on demand from the model instead
                    continue
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "mixins": mixins,
            "fields": fields, "properties": properties}


# -- reading ----------------------------------------------------------------------------


def _load(inputs: _Inputs) -> _View | None:
    try:
        entry = json.loads(read_regular(cache_file(inputs.project, inputs.key),
                                        max_bytes=MAX_FILE_BYTES))
        if (not isinstance(entry, dict) or entry.get("format") != FORMAT
                or entry.get("key") != inputs.key or not _sources_match(entry.get("sources"))):
            return None
        secrets: list[tuple[tuple[str, ...], str]] = []
        view = _decode(entry["config"], _Root(inputs), (), secrets)
        if not isinstance(view, _View) or view._view_class != "workspace.config.models:Config":
            return None
    except _CORRUPT:
        return None
    for parts, value in secrets:  # as load_config registers them
        if parts == ("database", "url"):
            redact.register_url(value)
        else:
            redact.register(value)
    return view


def _decode(value: Any, root: _Root, parts: tuple[str, ...],
            secrets: list[tuple[tuple[str, ...], str]]) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_decode(v, root, parts, secrets) for v in value]
    if type(value) is not dict or len(value) != 1:
        raise ValueError("not an encoded value")
    (tag, content), = value.items()
    if tag == "$path":
        return Path(str(content))
    if tag == "$tuple":
        return tuple(_decode(v, root, parts, secrets) for v in content)
    if tag == "$dict":
        return {str(k): _decode(v, root, (*parts, str(k)), secrets) for k, v in content.items()}
    if tag == "$secret":
        where = tuple(str(p) for p in content)
        raw = root.inputs.raw(where)
        if not isinstance(raw, str):
            raise ValueError("not a secret")
        secrets.append((where, raw))
        return Secret(raw)
    if tag == "$model":
        cls = _view_class(str(content["class"]), tuple(str(m) for m in content["mixins"]))
        values = {str(k): _decode(v, root, (*parts, str(k)), secrets)
                  for k, v in content["fields"].items()}
        computed = {str(k): _decode(v, root, (*parts, str(k)), secrets)
                    for k, v in content["properties"].items()}
        return cls(root, parts, {**computed, **values})
    raise ValueError(f"unknown tag {tag!r}")


class Secret:
    """pydantic's SecretStr, as the commands use it: get_secret_value(), masked str()."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"SecretStr('{self}')"

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        get = getattr(other, "get_secret_value", None)
        return callable(get) and get() == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Root:
    """The inputs, and the model loaded from them the first time the view cannot answer."""

    def __init__(self, inputs: _Inputs) -> None:
        self.inputs = inputs
        self._model: Any = None

    def model_at(self, parts: tuple[str, ...]) -> Any:
        if self._model is None:
            i = self.inputs
            self._model = _validate(i.project_dir, i.config_file, i.cli, i.environ)
        node = self._model
        for part in parts:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        return node


class _View:
    """A model, read-only: its fields and properties as cached, its pydantic-free bases'
    methods; anything else from the model itself, loaded once on demand."""

    _view_class = ""

    def __init__(self, root: _Root, parts: tuple[str, ...], values: dict[str, Any]) -> None:
        names = set(dir(type(self)))
        self.__dict__.update({k: v for k, v in values.items() if k not in names})
        self.__dict__["_view_root"] = root
        self.__dict__["_view_parts"] = parts

    def _view_model(self) -> Any:
        return self.__dict__["_view_root"].model_at(self.__dict__["_view_parts"])

    def __getattr__(self, name: str) -> Any:  # only what the view does not have
        if name.startswith("__") or name.startswith("_view"):
            raise AttributeError(name)
        return getattr(self._view_model(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._view_model(), name, value)  # the model says no (frozen)

    def __delattr__(self, name: str) -> None:
        delattr(self._view_model(), name)

    def __eq__(self, other: object) -> bool:
        other = other._view_model() if isinstance(other, _View) else other
        return bool(self._view_model() == other)

    def __hash__(self) -> int:
        return hash(self._view_model())

    def __repr__(self) -> str:
        return repr(self._view_model())


@functools.cache
def _view_class(model: str, mixins: tuple[str, ...]) -> type[_View]:
    import importlib

    bases: list[type] = []
    for name in mixins:
        module, _, qualname = name.partition(":")
        if module.split(".")[0] != "workspace" or not qualname.isidentifier():
            raise ValueError(f"not a base of ours: {name}")
        base = getattr(importlib.import_module(module), qualname)
        if not isinstance(base, type):
            raise TypeError(name)
        bases.append(base)
    cls = type(model.rpartition(":")[2], (_View, *bases), {"_view_class": model})
    return cast("type[_View]", cls)
