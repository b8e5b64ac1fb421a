"""Group commit: concurrent callers in one process hand their work to whichever of them holds the writer's turn,
which writes everything waiting in one transaction; each caller gets its own outcome once that transaction has
committed.

A write transaction costs more than the rows in it: taking the database's write lock (SQLite has one for the
whole file), the commit (SQLite flushes the search index's pending segment; PostgreSQL syncs its WAL) and, on
PostgreSQL, a round trip per statement. Under a burst, callers that would have queued for the lock one by one
wait for the turn instead, and the next holder takes all of them at once: the busier it gets, the more each
transaction carries. A lone caller writes its own work straight away, as it would without this.

Nothing here knows SQL: ``write(items)`` does the writing, in its own transaction, on the connection of the
thread that holds the turn (peewee keeps one per thread), and returns one outcome per item, an exception
object for an item that failed alone. An exception raised by ``write`` reaches every caller of that batch.
"""
import threading


class GroupCommit:
    def __init__(self, write):
        self._write = write
        self._turn = threading.Lock()  # held by the caller writing a batch
        self._waiting_lock = threading.Lock()  # guards _waiting
        self._waiting = []

    def submit(self, item):
        """``item``'s outcome, once the transaction that wrote it has committed; raises it if it is an error."""
        ticket = _Ticket(item)
        with self._waiting_lock:
            self._waiting.append(ticket)
        with self._turn:
            if not ticket.settled:  # no earlier holder took it along: write it and whatever else waits
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                _settle(batch, self._write)
        if isinstance(ticket.outcome, BaseException):
            raise ticket.outcome
        return ticket.outcome


class _Ticket:
    __slots__ = ("item", "outcome", "settled")

    def __init__(self, item):
        self.item, self.outcome, self.settled = item, None, False


def _settle(batch, write):
    try:
        outcomes = write([ticket.item for ticket in batch])
    except BaseException as exc:  # the whole batch failed (e.g. the database stayed locked): each caller hears so
        outcomes = [exc] * len(batch)
    for ticket, outcome in zip(batch, outcomes):
        ticket.outcome, ticket.settled = outcome, True
