"""kamsync connectors."""
