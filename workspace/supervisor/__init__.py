"""Run the apps and watch over them: process.py (one child -> events), manager.py (many
children, signals, restarts, the return code), printer.py (the prefixed output),
watchdog.py (cleanup when the launcher itself is killed).

    from workspace.supervisor.manager import Manager

Nothing is imported here, so that the watchdog (`python -m workspace.supervisor.watchdog`)
starts without loading the manager's dependencies.
"""
