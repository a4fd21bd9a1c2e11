"""Print each argument after the first as a line, then exit with the first as code."""
import sys

for line in sys.argv[2:]:
    print(line)
sys.exit(int(sys.argv[1]))
