"""Write N numbered lines as fast as possible, then "flood done", then stay."""
import sys
import time

out = sys.stdout
for i in range(int(sys.argv[1])):
    out.write(f"line {i}\n")
out.write("flood done\n")
out.flush()
time.sleep(60)
