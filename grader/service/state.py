"""The running service's parts in one object (``app.state.grader``): the store, the configuration and the
dispatcher, and the few actions that need more than one of them."""

from __future__ import annotations

from dataclasses import dataclass

from grader.rubric import review as reviews
from grader.service.config import ServiceConfig
from grader.service.db import Submission
from grader.service.errors import ServiceError
from grader.service.runner import Dispatcher, settled
from grader.service.store import Store, open_store
from grader.service.views import QueueView


@dataclass
class State:
    config: ServiceConfig
    store: Store
    dispatcher: Dispatcher | None = None

    @classmethod
    def open(cls, config: ServiceConfig) -> State:
        """The store at ``config``'s database, its schema migrated to date."""
        return cls(config, open_store(config))

    def start(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher = dispatcher or Dispatcher(self.store, self.config)
        self.dispatcher.start()

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.store.engine.dispose()

    def wake(self) -> None:
        """A submission was queued: the idle workers look now rather than at their next round."""
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def review(self, row: Submission, criterion: str, points: float, note: str, reviewer: str) -> None:
        if row.status != "graded":
            raise ServiceError(f"submission {row.id} is {row.status}: only a graded submission has points to review",
                               "review the candidate's graded attempt")
        report = reviews.add(self.config.report_dir(row.id), criterion, points, note, reviewer=reviewer)
        _, reason = settled(report, row.tries, self.config.max_tries)
        self.store.reviewed(row.id, report.score, report.passed, report.verdict.outcome,
                            f"{reason} (after {reviewer}'s review)", reviewer, criterion)

    def queue_view(self) -> QueueView:
        counts = self.store.counts()
        if self.config.queue and self.dispatcher is not None:
            workers, mode = self.dispatcher.queue_workers(), "queue"
        else:
            workers, mode = self.config.workers, "local"
        return QueueView(mode=mode, waiting=counts.get("queued", 0), running=counts.get("running", 0),  # type: ignore[arg-type]
                         workers=workers, by_status=counts)
