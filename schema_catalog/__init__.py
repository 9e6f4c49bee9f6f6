"""schema_catalog."""
