"""pgvector's wire forms, in one place: the text literal we send and the binary halfvec we read.

Text: `[0.1,0.2,...]`; 6 significant digits is more than halfvec keeps (about 3).
Binary: `halfvec_send(expr)` returns int16 dim, int16 unused, then dim big-endian
float16s; decoding it is one memory copy, where parsing 768 decimals costs
milliseconds per vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def vector_literal(values: Sequence[float] | np.ndarray) -> str:
    return "[" + ",".join(f"{float(value):.6g}" for value in values) + "]"


def halfvec_send_sql(expression: str) -> str:
    """SQL selecting `expression` (a halfvec) in the binary form `halfvec_from_wire` reads."""
    return f"halfvec_send({expression})"


def halfvec_from_wire(data: bytes | memoryview | None) -> np.ndarray | None:
    if data is None:
        return None
    return np.frombuffer(bytes(data), dtype=">f2", offset=4).astype(np.float32)
