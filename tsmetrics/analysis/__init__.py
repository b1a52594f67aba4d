"""A/B analysis: comparisons of variants, results over time and the statistics behind them."""
