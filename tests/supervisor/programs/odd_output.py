"""Invalid UTF-8, CRLF, a line longer than 64 KiB, and a last line without newline."""
import sys

out = sys.stdout.buffer
out.write(b"bad \xff\xfe bytes\n")
out.write(b"windows line\r\n")
out.write(b"[bold]not markup[/bold]\n")
out.write(b"x" * 200_000 + b"\n")
out.write(b"after the long line\n")
out.write(b"no newline at the end")
out.flush()
