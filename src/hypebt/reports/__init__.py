"""HTML pages and report folders for runs, sweeps, studies and the index."""
