"""Where visitors were seen: the record behind the limits per client address.

The entry script records each session's visitor and address here before any page
runs (ui/common/identity.py), so this door imports no torch: only the run database,
whose `visitors` table it reads and writes. A database held by another process for
seconds must not keep a page from opening: a busy write is logged and skipped (the
limits then count this session a moment late).
"""
from __future__ import annotations

import logging
from pathlib import Path

from core.runs.database import WEB_BUSY_SECONDS, StoreBusy
from core.runs.recovery import open_database

log = logging.getLogger("mnist_studio")


class VisitorLog:
    def __init__(self, runs_dir: str | Path) -> None:
        self.db = open_database(Path(runs_dir), busy_seconds=WEB_BUSY_SECONDS)

    def seen(self, visitor: str, address: str, new: bool = False) -> None:
        """Record where a visitor was seen (a new id: also where and when it was made)."""
        try:
            self.db.visitors.seen(visitor, address, new=new)
        except StoreBusy as err:
            log.warning("visitor %s not recorded: %s", visitor, err)

    def new_since(self, address: str, since: float) -> int:
        """Visitor ids made for a client address since a time."""
        return self.db.visitors.new_since(address, since)
