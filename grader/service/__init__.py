"""``grader serve``: the grading service. Candidates hand in through the browser or the JSON API and watch
their grading; interviewers review a cohort. Layered on the batch machinery (local workers) or the queue
(``grader worker``), with its state in a database so that nothing is lost across restarts.

Modules: ``config`` (where things live), ``db`` (tables and migrations), ``tokens`` (bearer tokens and CSRF),
``store`` (every state change, each with its reason), ``uploads`` (a capped streaming upload), ``runner``
(gradings dispatched, retried, recovered and reaped), ``views`` (what pages and API show), ``api`` and
``pages`` (the routes), ``app`` (the FastAPI application).
"""
