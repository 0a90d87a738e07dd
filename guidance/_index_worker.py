"""The worker process that builds outlines-core indexes (run as a script: it imports nothing of ctrlgen).

outlines-core builds an index in native code that a signal cannot interrupt, and a few inputs take minutes
or crash it. Built here, in a process of its own, a compile can be stopped at its time budget and a crash
costs this process, not the caller's. Protocol, on stdin/stdout: 8-byte little-endian length, then a pickle.
Request ``(regex, key, vocabulary or None, fallback key, fallback vocabulary or None)``; the vocabularies are
sent once per key and kept. Reply ``("ok", index pickle bytes)`` or ``("error", first message, fallback
message)``: the fallback vocabulary (every byte available) is tried when the first fails, as in-process.
"""

from __future__ import annotations

import pickle
import struct
import sys


def _read(stream) -> object | None:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(size))


def _write(stream, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def main() -> None:
    from outlines_core import Index

    vocabularies: dict[str, object] = {}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        request = _read(stdin)
        if request is None:
            return
        regex, key, vocabulary, fallback_key, fallback = request
        if vocabulary is not None:
            vocabularies[key] = vocabulary
        if fallback is not None:
            vocabularies[fallback_key] = fallback
        try:
            index = Index(regex, vocabularies[key])
        except Exception as first:  # noqa: BLE001 - outlines-core's own exception types
            try:
                index = Index(regex, vocabularies[fallback_key])
            except Exception as again:  # noqa: BLE001
                _write(stdout, ("error", str(first), str(again)))
                continue
        _write(stdout, ("ok", pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)))


if __name__ == "__main__":
    main()
