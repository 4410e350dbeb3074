"""The Docker sandbox backend: hardened containers on a real engine, and the offline runtime image.

``backend`` (the Sandbox), ``hardening`` (the one container definition), ``mounts``, ``archive``,
``monitor``, ``signals``, ``cleanup`` (sessions and prune), ``client`` (the one way to the engine),
``image`` and ``debian`` (the runtime image), ``build`` (offline Dockerfile builds), ``doctor``.
"""
