"""The report stage's parts: candidates re-evaluated over seeds, the forecast section, the document."""
