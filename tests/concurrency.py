"""Run work on many threads released at once, as concurrent requests would arrive."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from ccare.core.errors import DomainError


def race(n: int, work: Callable[[int], str]) -> Counter[str]:
    """`work(i)` on n threads at once; the outcomes counted: what each returned, or the code
    of the domain error it raised."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            result = work(i)
        except DomainError as err:
            result = err.code
        except Exception as exc:  # a 500-class failure must show up in the assertion
            result = f"unexpected {type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return Counter(outcomes)
