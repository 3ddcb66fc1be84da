"""kamsync writeback."""
