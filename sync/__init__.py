"""kamsync sync."""
