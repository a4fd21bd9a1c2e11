"""The lifecycle of a run: the precheck sequence, the foreground session, detach, stop,
the run's state, status and signal windows."""
