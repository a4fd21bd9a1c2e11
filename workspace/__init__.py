"""workspace: one command brings the development stack up, on a database that is known good."""

from __future__ import annotations

__version__ = "0.1.0"
