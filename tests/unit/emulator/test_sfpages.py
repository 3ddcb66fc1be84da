"""The per-record text cache and the page prefetcher."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from connectors.emulator.sfpages import LineCache, Pieces, Prefetcher


class Renderer:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, records: Sequence[dict[str, Any]]) -> list[str]:
        self.calls.append([r["Id"] for r in records])
        return [f"{r['Id']}={r['Name']}" for r in records]


def test_records_are_rendered_once_until_they_change() -> None:
    cache, render = LineCache(), Renderer()
    records = [{"Id": "a", "Name": "A"}, {"Id": "b", "Name": "B"}]
    seqs = {"a": 1, "b": 2}
    assert cache.page("layout", records, seqs, "Id", render).texts == ["a=A", "b=B"]
    assert cache.page("layout", records, seqs, "Id", render).texts == ["a=A", "b=B"]
    records[1]["Name"], seqs["b"] = "B2", 3
    assert cache.page("layout", records, seqs, "Id", render).texts == ["a=A", "b=B2"]
    assert render.calls == [["a", "b"], ["b"]]


def test_layouts_are_separate_and_the_oldest_is_dropped() -> None:
    cache, render = LineCache(max_layouts=2), Renderer()
    records, seqs = [{"Id": "a", "Name": "A"}], {"a": 1}
    for layout in ("one", "two", "one", "three", "one", "two"):
        cache.page(layout, records, seqs, "Id", render)
    assert len(render.calls) == 4  # one, two, three, then two again (dropped for three)


def test_prefetched_work_is_waited_for_once() -> None:
    prefetcher = Prefetcher()
    started, release = threading.Event(), threading.Event()
    done: list[int] = []

    def work() -> None:
        started.set()
        release.wait(5)
        done.append(1)

    prefetcher.schedule("page-2", work)
    prefetcher.schedule("page-2", work)  # already scheduled: not run twice
    assert started.wait(5)
    release.set()
    prefetcher.wait("page-2")
    prefetcher.wait("page-2")  # nothing pending any more
    prefetcher.wait("unknown")
    assert done == [1]
    prefetcher.close()


def test_errors_of_prefetched_work_are_not_raised() -> None:
    prefetcher = Prefetcher()

    def broken() -> None:
        raise RuntimeError("render failed")

    prefetcher.schedule("page", broken)
    prefetcher.wait("page")
    prefetcher.close()


def test_work_still_queued_is_cancelled_and_left_to_the_caller() -> None:
    prefetcher = Prefetcher()
    release = threading.Event()
    ran: list[str] = []
    prefetcher.schedule("busy", lambda: release.wait(5))
    prefetcher.schedule("queued", lambda: ran.append("queued"))
    prefetcher.wait("queued")  # returns at once: the caller renders the page itself
    release.set()
    prefetcher.wait("busy")
    assert ran == []
    prefetcher.close()


def test_a_page_knows_whether_its_records_changed_since() -> None:
    cache, render = LineCache(), Renderer()
    records = [{"Id": "a", "Name": "A"}, {"Id": "b", "Name": "B"}]
    seqs = {"a": 1, "b": 2}
    page = cache.page("layout", records, seqs, "Id", render, ["a", "b"])
    assert (page.ids, page.seqs, page.texts) == (["a", "b"], [1, 2], ["a=A", "b=B"])
    assert page.current(seqs) and page.stamped(7).version == 7
    records[0]["Name"], seqs["a"] = "A2", 3
    assert not page.current(seqs)
    assert cache.page("layout", records, seqs, "Id", render).texts == ["a=A2", "b=B"]
    del seqs["b"]  # gone from the table: rendered again rather than trusted
    assert not page.current(seqs)
    assert cache.page("layout", records, seqs, "Id", render).texts == ["a=A2", "b=B"]
    assert render.calls == [["a", "b"], ["a"], ["b"]]


def test_waiting_gives_the_prefetched_result() -> None:
    prefetcher = Prefetcher()
    prefetcher.schedule("page", lambda: "rendered")
    assert prefetcher.wait("page") == "rendered"
    assert prefetcher.wait("page") is None  # handed over once
    prefetcher.close()


def test_pieces_are_rendered_once_in_order_by_the_worker_or_by_the_reader() -> None:
    made: list[int] = []

    def render(n: int) -> str:
        made.append(n)
        return f"piece {n}"

    pieces = Pieces(4, render)
    assert len(pieces) == 4
    assert pieces.get(1) == "piece 1"  # the worker has not started: rendered here
    pieces.run()  # the worker renders the rest in order
    assert [pieces.get(n) for n in range(4)] == ["piece 0", "piece 1", "piece 2", "piece 3"]
    assert made == [1, 0, 2, 3]


def test_a_reader_waits_for_the_piece_the_worker_is_rendering() -> None:
    started, release = threading.Event(), threading.Event()
    made: list[int] = []

    def render(n: int) -> int:
        if n == 0:
            started.set()
            release.wait(5)
        made.append(n)
        return n * 10

    pieces = Pieces(2, render)
    worker = threading.Thread(target=pieces.run)
    worker.start()
    assert started.wait(5)
    threading.Timer(0.05, release.set).start()
    assert pieces.get(0) == 0  # waited for the worker, not rendered twice
    worker.join(5)
    assert pieces.get(1) == 10 and made == [0, 1]


def test_a_piece_the_worker_failed_is_rendered_by_the_reader() -> None:
    failures = [RuntimeError("render failed")]

    def render(n: int) -> int:
        if failures:
            raise failures.pop()
        return n

    pieces = Pieces(2, render)
    prefetcher = Prefetcher()
    prefetcher.submit(pieces.run)  # fails on piece 0 and stops; its error is not raised
    prefetcher.close()
    assert [pieces.get(0), pieces.get(1)] == [0, 1]
