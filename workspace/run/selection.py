"""Which apps `workspace start [APP ...] [--profile NAME ...]` runs (compose's rules).

    select_apps(config.apps, ["server"], [])   # server and what it depends on, transitively
    select_apps(config.apps, [], ["ui"])       # every app without profiles, and those in ui

An app with `profiles:` starts only when one of them is selected, or when it is named,
or when a selected app depends on it. The result keeps the configured order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from workspace.config.apps import AppConfig
from workspace.errors import ConfigError

__all__ = ["select_apps"]


def select_apps(apps: Mapping[str, AppConfig], names: Sequence[str],
                profiles: Sequence[str]) -> dict[str, AppConfig]:
    """The apps to run, or ConfigError naming an unknown app or profile and the choices."""
    known_profiles = sorted({p for app in apps.values() for p in app.profiles})
    for profile in profiles:
        if profile not in known_profiles:
            raise ConfigError(f"no profile named `{profile}` (profiles: "
                              f"{', '.join(known_profiles) or 'none configured'})",
                              remedy="Name a profile that apps.<name>.profiles lists.")
    for name in names:
        if name not in apps:
            raise ConfigError(f"no app named `{name}` in the configuration (apps: "
                              f"{', '.join(apps) or 'none configured'})",
                              remedy="Name apps of config.yaml, or none for all.")
    if names:
        roots = list(names)
    else:
        roots = [n for n, app in apps.items()
                 if not app.profiles or set(app.profiles) & set(profiles)]
    chosen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name not in chosen:
            chosen.add(name)
            stack.extend(apps[name].depends_on)
    return {n: app for n, app in apps.items() if n in chosen}
