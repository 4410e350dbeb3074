"""How an input travels in a request body: the timer encodes it, the harness decodes it.

The harness decodes each query's input inside the timed round trip, so decoding is made as cheap
as the input's type allows. A tabular input (a DataFrame of one fixed schema) travels as its
columns: the raw bytes of one 2-D array per numeric dtype, and each other column (strings) as a
list; the harness rebuilds the frame from them with the schema it got once, before any query (the
columns and dtypes, as an empty frame, in the body of ``hello``). That costs a fraction of
unpickling the DataFrame (pandas rebuilds its index and blocks from scratch for every pickle).
Everything else is a pickle, already cheap to load (a list of strings, an array of images).

How the harness assembles a frame is chosen by the timer (both run the same Python and pandas):
pandas' block internals if the round trip of real rows proves them exact there, else its public
``create_dataframe_from_blocks``, else a plain pickle of the frame. What the candidate's code gets
is the same in all three cases: ``frame.iloc[rows].reset_index(drop=True)`` of the inputs file.

Standard library at import time; numpy and pandas are imported by the frame codec when it is used.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

PROTOCOL = pickle.HIGHEST_PROTOCOL
#: Ways the harness can assemble a frame, fastest first: pandas' block internals, with its string
#: arrays made straight from their storage, or through their public constructor; its public API.
BUILDS = ("internals-raw", "internals", "blocks")
#: numpy dtype kinds that travel in a shared 2-D array: bool, signed and unsigned ints, floats.
NUMERIC_KINDS = "biuf"

Decode = Callable[[bytes], Any]


def pickled(value: Any) -> bytes:
    return pickle.dumps(value, protocol=PROTOCOL)


# -- the harness's side ------------------------------------------------------------------------------

def decoder(spec: dict[str, Any] | None, body: bytes) -> Decode:
    """The decoder the timer's ``hello`` asks for (no codec: plain pickles)."""
    if not spec or spec.get("name") != "frame":
        return pickle.loads
    return _frame_decoder(spec, pickle.loads(body))


def _frame_decoder(spec: dict[str, Any], template: Any) -> Decode:
    import numpy as np
    import pandas as pd

    # Immutable, so shared by every frame, as LoadGen's samples are shared by the queries that repeat
    # them: the column labels, and the row labels of each batch size.
    columns = template.columns
    indexes: dict[int, Any] = {}
    groups = [np.asarray(cols, dtype=np.intp) for cols in spec["numeric"]]
    kinds = [(template.dtypes.iloc[cols[0]], len(cols)) for cols in spec["numeric"]]
    others = [(np.asarray([j], dtype=np.intp), template.dtypes.iloc[j]) for j in spec["other"]]
    arrays = [dtype.construct_array_type() for _, dtype in others]

    def parts(body: bytes) -> tuple[Any, list[Any], Any]:
        n, buffers, other = pickle.loads(body)
        if n not in indexes:
            indexes[n] = pd.RangeIndex(n)
        # A bytearray is writable: the candidate's code may write to its input, as to any frame.
        numeric = [np.frombuffer(buf, dtype=dtype).reshape(k, n)
                   for buf, (dtype, k) in zip(buffers, kinds, strict=True)]
        return indexes[n], numeric, np.array(other, dtype=object)  # a row per column, as the storage wants

    build = spec.get("build")
    if build == "internals-raw":
        from pandas._libs.internals import BlockPlacement
        from pandas.core.internals import BlockManager
        from pandas.core.internals.blocks import ExtensionBlock, NumpyBlock

        if not all(isinstance(dtype, pd.StringDtype) and dtype.storage == "python" for _, dtype in others):
            raise ValueError("only strings stored as Python objects can be made from their storage")
        placed = [BlockPlacement(at) for at in groups]
        placed_others = [(BlockPlacement(at), array, dtype) for (at, dtype), array in zip(others, arrays, strict=True)]

        def decode_raw(body: bytes) -> Any:
            index, numeric, strings = parts(body)
            blocks = [NumpyBlock(values, placement=at, ndim=2) for values, at in zip(numeric, placed, strict=True)]
            blocks += [ExtensionBlock(array._simple_new(strings[i], dtype), placement=at, ndim=2)
                       for i, (at, array, dtype) in enumerate(placed_others)]
            manager = BlockManager(tuple(blocks), [columns, index], verify_integrity=False)
            return pd.DataFrame._from_mgr(manager, axes=manager.axes)

        return decode_raw
    if build == "internals":
        from pandas._libs.internals import BlockPlacement
        from pandas.core.internals import BlockManager
        from pandas.core.internals.blocks import new_block

        placed = [BlockPlacement(at) for at in groups]
        placed_others = [(BlockPlacement(at), array, dtype) for (at, dtype), array in zip(others, arrays, strict=True)]

        def decode(body: bytes) -> Any:
            index, numeric, strings = parts(body)
            blocks = [new_block(values, placement=at, ndim=2) for values, at in zip(numeric, placed, strict=True)]
            blocks += [new_block(array._from_sequence(strings[i], dtype=dtype), placement=at, ndim=2)
                       for i, (at, array, dtype) in enumerate(placed_others)]
            manager = BlockManager(tuple(blocks), [columns, index], verify_integrity=False)
            return pd.DataFrame._from_mgr(manager, axes=manager.axes)

        return decode
    from pandas.api.internals import create_dataframe_from_blocks

    def decode_public(body: bytes) -> Any:
        index, numeric, strings = parts(body)
        blocks: list[Any] = list(zip(numeric, groups, strict=True))
        blocks += [(array._from_sequence(strings[i], dtype=dtype), at)
                   for i, ((at, dtype), array) in enumerate(zip(others, arrays, strict=True))]
        return create_dataframe_from_blocks(blocks, index=index, columns=columns)

    return decode_public


# -- the timer's side --------------------------------------------------------------------------------

class FrameEncoder:
    """Rows of one DataFrame as the frame codec's bodies (see the module docstring)."""

    def __init__(self, frame: Any, build: str) -> None:
        import numpy as np

        self.frame, self.build = frame, build
        numeric: dict[str, list[int]] = {}
        self.other: list[int] = []
        for j, dtype in enumerate(frame.dtypes):
            if isinstance(dtype, np.dtype):
                numeric.setdefault(dtype.str, []).append(j)
            else:
                self.other.append(j)
        self.numeric = list(numeric.values())
        # Whole columns once, so a body is a slice of each: (columns of the dtype, rows) arrays.
        self._numeric = [np.stack([frame.iloc[:, j].to_numpy() for j in cols]) for cols in self.numeric]
        self._other = [np.asarray(frame.iloc[:, j].array, dtype=object) for j in self.other]

    @classmethod
    def supports(cls, frame: Any) -> bool:
        """Columns the codec carries: numeric numpy dtypes, and pandas extension dtypes (strings)."""
        import numpy as np

        return frame.columns.is_unique and all(
            dtype.kind in NUMERIC_KINDS if isinstance(dtype, np.dtype) else hasattr(dtype, "construct_array_type")
            for dtype in frame.dtypes)

    def spec(self) -> tuple[dict[str, Any], bytes]:
        """What ``hello`` carries: the codec's header and the schema (the frame without rows)."""
        return ({"name": "frame", "build": self.build, "numeric": self.numeric, "other": self.other},
                pickled(self.frame.iloc[:0]))

    def encode(self, rows: Sequence[int]) -> bytes:
        import numpy as np

        at = np.asarray(rows, dtype=np.intp)
        # Raw bytes and plain lists: nothing in the body for the unpickler to look up and rebuild.
        return pickled((len(at), [bytearray(block[:, at].tobytes()) for block in self._numeric],
                        [column[at].tolist() for column in self._other]))


class PickleEncoder:
    """Inputs as pickles of what ``take(rows)`` returns: the codec of everything but frames."""

    def __init__(self, take: Callable[[Sequence[int]], Any]) -> None:
        self.take = take

    def spec(self) -> tuple[dict[str, Any], bytes]:
        return {"name": "pickle"}, b""

    def encode(self, rows: Sequence[int]) -> bytes:
        return pickled(self.take(rows))


def frame_encoder(frame: Any) -> FrameEncoder | PickleEncoder:
    """The cheapest-to-decode encoder that rebuilds ``frame``'s rows exactly on this Python and pandas."""
    take = _frame_rows(frame)
    if len(frame) and FrameEncoder.supports(frame):
        probes = [[0], list(range(min(len(frame), 7))), list(range(len(frame)))]
        for build in BUILDS:
            try:
                encoder = FrameEncoder(frame, build)
                decode = decoder(*encoder.spec())
                if all(_same(decode(encoder.encode(rows)), take(rows)) for rows in probes):
                    return encoder
            except Exception:  # noqa: BLE001 - a pandas without these internals: the next way, or pickles
                continue
    return PickleEncoder(take)


def _frame_rows(frame: Any) -> Callable[[Sequence[int]], Any]:
    return lambda rows: frame.iloc[list(rows)].reset_index(drop=True)


def _same(got: Any, want: Any) -> bool:
    """The same frame as far as any code can tell: values, dtypes, column and row labels and their types."""
    return (type(got) is type(want) and got.equals(want) and list(got.dtypes) == list(want.dtypes)
            and got.columns.equals(want.columns) and got.columns.dtype == want.columns.dtype
            and type(got.index) is type(want.index) and got.index.equals(want.index)
            and all(got.iloc[:, j].array.dtype == want.iloc[:, j].array.dtype for j in range(got.shape[1])))
