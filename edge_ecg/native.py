"""Native libraries' chatter on stderr, kept off the user's terminal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence native code writing to fd 2 (LiteRT's "INFO: Created ... XNNPACK delegate",
    the MLIR converter, TFLM's allocator).

    Their messages are progress chatter; failures still reach us as Python exceptions. The
    redirect is process-wide while it lasts, so keep it around one native call.
    """
    fd = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)
