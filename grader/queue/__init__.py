"""Cohort grading over many machines: RQ jobs on Redis.

``grader batch --queue`` enqueues (:mod:`~grader.queue.client`), ``grader worker`` grades
(:mod:`~grader.queue.worker`, running :func:`~grader.queue.jobs.grade_job`), ``grader queue status``
reports. A job carries its submission and brings its report folder back through Redis; its id is the
grading's identity (content, task, rubric, grader version), so enqueuing it twice grades it once.
"""
