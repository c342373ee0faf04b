"""The A-share market: pure rules, order checks, and the Backtrader broker/feed adapters over them."""
