"""Research over many runs: parameter sweeps and event studies."""
