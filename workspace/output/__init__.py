"""What workspace shows: the console, the steps of a start, the validation report and
the redaction of secrets."""
