"""The live workspace page, served by the launcher itself while `workspace start` runs
(server.py: HTTP; state.py: what it shows; database.py: migrations, validation and fix
on demand; session.py: wiring them to the supervisor and the file watch)."""
