"""Names in MLflow: one experiment and one registered model per problem."""


def experiment_name(problem: str) -> str:
    return f"lstm-{problem}"


def model_name(problem: str) -> str:
    return f"lstm-{problem}"
