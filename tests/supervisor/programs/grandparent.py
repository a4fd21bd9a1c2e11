"""Start a grandchild (same process group), print its pid, stay."""
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(f"grandchild {child.pid}", flush=True)
time.sleep(60)
