"""Jobs that workers run: each takes an id, loads state from the database, and is safe to retry."""
