"""``python -m sync`` runs the kamsync CLI."""

from sync.cli import run

run()
