"""pgvector's wire forms, in one place: the text literal we send and the binary halfvec we read.

Vectors travel through the code as numpy float32 arrays; these functions turn
them into SQL parameters (or back) only where SQL is built or read.

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


def vector_literals(rows: np.ndarray) -> list[str]:
    """One literal per row of a matrix (a statement's text[] parameter, cast per row in SQL)."""
    return [vector_literal(row) for row in np.asarray(rows, dtype=np.float32).tolist()]


def halfvec_send_sql(expression: str) -> str:
    """SQL selecting `expression` (a halfvec) in the binary form `halfvec_from_wire` reads."""
    return f"halfvec_send({expression})"


def halfvec_from_wire(data: bytes | memoryview | None) -> np.ndarray | None:
    if data is None:
        return None
    return np.frombuffer(bytes(data), dtype=">f2", offset=4).astype(np.float32)


def halfvec_matrix_from_wire(blobs: Sequence[bytes | memoryview]) -> np.ndarray:
    """Binary halfvecs of one dimension as one (n, dim) float32 matrix: one join, one conversion."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    joined = b"".join(bytes(blob)[4:] for blob in blobs)
    return np.frombuffer(joined, dtype=">f2").astype(np.float32).reshape(len(blobs), -1)


def vector_from_literal(text: str | None) -> np.ndarray | None:
    """A vector/halfvec text literal ("[0.1,0.2]") as float32; for the odd value read as text, never in bulk."""
    if text is None:
        return None
    return np.array([float(part) for part in text[1:-1].split(",")], dtype=np.float32)
