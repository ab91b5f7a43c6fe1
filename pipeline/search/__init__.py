"""Finding configurations: the options of a search, studies, the objective Optuna calls, trial batches, pruning, racing, progress, warm start, worker processes and the engines."""
