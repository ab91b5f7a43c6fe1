"""Report stage helpers: statistics, diagnostics, plots and the HTML report."""
