"""Run a Manager over the apps given as JSON: {"apps": {...}, "grace": s, "log_dir": path,
"watchdog": bool}.
Prints "DRIVER ready <name>" as each app is ready, exits with run()'s code or the error's."""
import json
import sys
from pathlib import Path

from workspace.config.apps import AppConfig, SupervisorConfig
from workspace.errors import SupervisorError
from workspace.supervisor.manager import Manager

spec = json.loads(sys.argv[1])
apps = {name: AppConfig.model_validate(app) for name, app in spec["apps"].items()}
manager = Manager(apps, project_dir=Path.cwd(),
                  supervisor=SupervisorConfig(stop_grace_s=spec["grace"], log_dir=spec["log_dir"]),
                  on_ready=lambda name, url: print(f"DRIVER ready {name}", flush=True),
                  watchdog=spec.get("watchdog", True))
try:
    code = manager.run()
except SupervisorError as exc:
    print(f"DRIVER error {exc.code}", flush=True)
    code = exc.exit_code
sys.exit(code)
