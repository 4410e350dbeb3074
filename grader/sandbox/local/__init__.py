"""The local sandbox backend: namespaces, uid drop and rlimits, with no isolation guarantee."""
