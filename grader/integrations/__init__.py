"""Where finished gradings go beyond the report folder: MLflow tracking and GitHub (CI) outputs."""
