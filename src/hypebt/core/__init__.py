"""Shared basics: errors, atomic file output, workspace paths, stock codes."""
