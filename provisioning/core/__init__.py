"""The pure core: values, phone numbers, Graph's ordering rules (the planner), outcomes, reports, undo, masking.

Nothing here does I/O or imports an I/O library (``lint-imports`` holds it to that)."""
