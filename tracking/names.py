"""Names in MLflow: one experiment and one registered model per problem, and the registry's aliases
(light: the command line reads them without loading MLflow)."""

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"


def experiment_name(problem: str) -> str:
    return f"lstm-{problem}"


def model_name(problem: str) -> str:
    return f"lstm-{problem}"
