"""Reply text from token bytes: stop strings, streamed deltas, split characters."""

import threading

from agent.backends.textstream import TextStream


def _feed(stream, pieces):
    for i, piece in enumerate(pieces):
        if stream.add(piece):
            return i + 1
    return len(pieces)


def test_stop_string_across_tokens_cuts_the_text_and_counts_kept_tokens():
    seen = []
    stream = TextStream(["\n```\n"], on_text=seen.append)
    used = _feed(stream, [b"ok ", b"```view\npath: a", b"\n`", b"``\n", b"never"])
    stream.flush()
    assert used == 4
    assert stream.final_text == "ok ```view\npath: a"
    assert "".join(seen) == stream.final_text
    assert stream.kept_tokens() == 2  # the third token starts the stop string
    assert stream.stopped_by == "stop"


def test_split_utf8_character_is_never_streamed_half():
    seen = []
    stream = TextStream([], on_text=seen.append)
    data = "é°".encode()
    _feed(stream, [data[:1], data[1:3], data[3:]])
    stream.flush()
    assert "".join(seen) == "é°" and all("\ufffd" not in s for s in seen)


def test_cancel_stops_after_the_current_token():
    cancel = threading.Event()
    stream = TextStream([], cancel=cancel)
    assert not stream.add(b"a")
    cancel.set()
    assert stream.add(b"b") and stream.stopped_by == "cancel"
