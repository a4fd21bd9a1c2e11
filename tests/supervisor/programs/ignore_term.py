"""Ignore SIGTERM, say so, stay: only SIGKILL ends it."""
import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM")
time.sleep(60)
