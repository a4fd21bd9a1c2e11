"""Fail (exit 3) the first N runs, counted in a file; then print "up" and stay."""
import sys
import time
from pathlib import Path

counter, failures = Path(sys.argv[1]), int(sys.argv[2])
runs = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(runs + 1))
if runs < failures:
    print(f"crash {runs + 1}")
    sys.exit(3)
print("up")
time.sleep(60)  # bounded: a failed test never leaves it running for long
