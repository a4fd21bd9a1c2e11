"""Print a line (the first argument, default "up"), then stay for up to 60 s."""
import sys
import time

time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
print(sys.argv[1] if len(sys.argv) > 1 else "up")
time.sleep(60)
