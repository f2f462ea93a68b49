"""The sentence encoder in a child process at low CPU priority, for the worker.

The encoder costs milliseconds of CPU per case. In the worker's own process it would compete with
the web requests of `ownwell serve` (which embeds the worker) for the CPU and, between its tensor
operations, for the GIL. In a child process with a raised nice value the kernel gives the web
process the CPU first: under a burst of cases intake keeps its pace and matching catches up
afterwards. The child also keeps torch's memory out of the web process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from numpy.typing import NDArray

from ownwell.insights import vectors

log = logging.getLogger("ownwell.insights")

# The lowest priority: the encoder gets whatever CPU the web requests leave, and all of an idle one.
NICENESS = 19


def _exit_with_parent(parent: int) -> None:
    # A worker killed with SIGKILL cannot stop its pool; the child must not outlive it.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start_child() -> None:
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    # Where raising the nice value is not permitted, run at normal priority rather than not at all.
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    import torch

    # One core: the other is the web server's; batching, not threads, gives the throughput.
    torch.set_num_threads(1)
    vectors.load()


def _embed(texts: list[str]) -> NDArray[np.float32]:
    return vectors.embed(texts)


class BackgroundEmbedder:
    """`embedder(texts)` gives the same rows as `vectors.embed(texts)`, computed in the child.
    A child that dies (killed, out of memory) is replaced on the next call."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the parent runs threads and holds database connections.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_child
            )
        return self._pool

    def __call__(self, texts: list[str]) -> NDArray[np.float32]:
        try:
            return self._executor().submit(_embed, texts).result()
        except BrokenProcessPool:
            log.warning("the sentence-encoder process died; starting a new one")
            self.close(wait=False)
            raise

    def close(self, *, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None
