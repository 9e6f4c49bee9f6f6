"""sql_guard."""
