"""The project: found from any directory (root.py), set up by `workspace init`."""
