"""Admins' CSV files into rows: bytes into lines, lines into records, cells into values (pure, streaming)."""
