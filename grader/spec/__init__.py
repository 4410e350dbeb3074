"""The data contracts, as strict pydantic models with a version and a JSON Schema: task.yaml and
submission.yaml, on the shared base that turns validation errors into messages naming file and field."""
