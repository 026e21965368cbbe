"""Faust agents: one per file, each a small pipeline over its topic."""
