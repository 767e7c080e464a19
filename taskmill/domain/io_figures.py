"""Expected and actual I/O of a task, in bytes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from taskmill.domain.limits import MAX_STORED_INTEGER

IO_FIELDS = ("read_bytes", "write_bytes", "net_rx_bytes", "net_tx_bytes")
MAX_IO_FIGURE = MAX_STORED_INTEGER


class IOFigures(BaseModel):
    """Bytes read, written, received and sent; all default to zero."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    read_bytes: NonNegativeInt = 0
    write_bytes: NonNegativeInt = 0
    net_rx_bytes: NonNegativeInt = 0
    net_tx_bytes: NonNegativeInt = 0


ZERO_IO = IOFigures()
