"""The configuration: its sources, models and cache. This package's __init__ imports
nothing (a warm command reads the cache without pydantic)."""
