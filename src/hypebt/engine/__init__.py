"""The run: strategy API and loader, spec, the Backtrader engine, run figures."""
