"""Types of the native module (native/src/lib.rs states the contracts)."""

import numpy as np
import numpy.typing as npt

Clause = tuple[str, list[tuple[int, str]]]

class PositionMap:
    """Sorted distinct non-negative vec_ids with VecIdIndex's bucket starts."""

    def __init__(
        self,
        keys: npt.NDArray[np.int64],
        starts: npt.NDArray[np.int64],
        shift: int,
        values: npt.NDArray[np.int64] | None = None,
    ) -> None: ...
    def lookup(self, vec_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]: ...
    def __len__(self) -> int: ...

class Matcher:
    """A reader of one tantivy index directory, reloaded by hand."""

    def __init__(self, path: str) -> None: ...
    def reload(self) -> None: ...
    def num_docs(self) -> int: ...
    def vec_ids(self, leaves: list[list[Clause]]) -> list[npt.NDArray[np.int64]]: ...
    def positions(
        self, leaves: list[list[Clause]], map: PositionMap
    ) -> list[npt.NDArray[np.int32]]: ...


def mark(
    out: npt.NDArray[np.bool_],
    index: npt.NDArray[np.int32],
    via: npt.NDArray[np.int64] | None = None,
) -> None: ...

def count(
    counts: npt.NDArray[np.int64],
    leaves: list[npt.NDArray[np.int32]],
    via: npt.NDArray[np.int64],
    paragraphs: npt.NDArray[np.bool_] | None = None,
) -> None: ...
