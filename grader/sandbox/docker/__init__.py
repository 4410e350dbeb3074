"""The Docker sandbox backend: hardened containers on a real engine, and the offline runtime image."""
