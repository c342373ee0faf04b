"""Data: source (akshare) / importers -> validation -> parquet store; calendar, events, universes."""
