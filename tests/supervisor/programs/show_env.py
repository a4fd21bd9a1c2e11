"""Print each argument, then NAME=value for each variable named in SHOW (comma-separated)."""
import os
import sys

for arg in sys.argv[1:]:
    print(f"arg {arg}")
for name in os.environ.get("SHOW", "").split(","):
    if name:
        print(f"{name}={os.environ.get(name, '<unset>')}")
