"""kamsync analytics."""
