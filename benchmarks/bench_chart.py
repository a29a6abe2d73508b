"""Candlestick rendering speed and memory: STOM's CandlestickItem vs pyqtgraph's example item.

Both items run in the same benchmark run, each (item, size) in its own fresh process
(``--worker``) so memory is not shared, offscreen (``QT_QPA_PLATFORM=offscreen``) in a
1280x720 ``pg.PlotWidget``. Bars are synthetic 1-minute bars
(``stom_desktop.core.synthetic.generate_bars``).

How a frame is timed: change the data or the view, then ``widget.grab()``, which runs the
view's ``paintEvent`` into a QPixmap (the scene renders every visible item: axes, grid and the
candles), and stop the clock when it returns. Every measured grab is checked to have called
the item's ``paint``. Empty-widget grabs run first, so Qt's one-time set-up is not counted.

- ``first render``: from handing over the bars to the finished picture of all of them
  (STOM: ``set_bars``, which keeps views of the arrays and builds the one LOD level it needs;
  example: its constructor, which records a ``QPicture`` with a drawLine + drawRect per
  candle), plus ``addItem``, ``autoRange`` and the grab. Building the example's list of
  tuples from the arrays is not counted.
- ``append``: add one candle and grab, whole range in view (STOM: ``append_bar``; example:
  append to its list and regenerate its picture, the only way it can update). Median.
- ``pan``: a view of 10% of the bars, moved by 1% of its width per frame. Median.
- ``zoom``: from the whole range, the x range shrinks by 10% per frame. Median (the first
  frames at a new zoom level build that level: the max is in the JSON output).
- ``item paint only``: the time inside the item's ``paint()`` during those frames.
- ``empty plot frame``: the same pan frame on the plot before any item is added: the floor
  set by pyqtgraph's axes and grid and by Qt, which no candle item can go below.
- ``RSS``: the whole process after the runs (Qt, pyqtgraph, numpy, the bars and the item),
  and the rise above the RSS with the bars loaded and an empty plot shown.

Run: ``python benchmarks/bench_chart.py`` (``--sizes 100000 1000000``, ``--items``,
``--example-max N`` to skip the example above N candles).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

SIZES = (100_000, 1_000_000)
ITEMS = ("stom", "example")
WIDTH, HEIGHT = 1280, 720
MINUTE_MS = 60_000
PAINT_MS = [0.0]  # time spent inside the measured item's paint() (both items add to it)


def example_item_class() -> type:
    """pyqtgraph's ``examples/customGraphicsItem.py`` CandlestickItem, copied verbatim
    (plus a paint counter)."""
    import pyqtgraph as pg
    from pyqtgraph import QtCore, QtGui

    class CandlestickItem(pg.GraphicsObject):
        def __init__(self, data: list[tuple[float, float, float, float, float]]) -> None:
            pg.GraphicsObject.__init__(self)
            self.data = data  ## data must have fields: time, open, close, min, max
            self.paints = 0
            self.generatePicture()

        def generatePicture(self) -> None:
            ## pre-computing a QPicture object allows paint() to run much more quickly,
            ## rather than re-drawing the shapes every time.
            self.picture = QtGui.QPicture()
            p = QtGui.QPainter(self.picture)
            p.setPen(pg.mkPen("w"))
            w = (self.data[1][0] - self.data[0][0]) / 3.0
            for t, open, close, min, max in self.data:
                p.drawLine(QtCore.QPointF(t, min), QtCore.QPointF(t, max))
                if open > close:
                    p.setBrush(pg.mkBrush("r"))
                else:
                    p.setBrush(pg.mkBrush("g"))
                p.drawRect(QtCore.QRectF(t - w, open, w * 2, close - open))
            p.end()

        def paint(self, p: Any, *args: Any) -> None:
            self.paints += 1
            t0 = time.perf_counter()
            p.drawPicture(0, 0, self.picture)
            PAINT_MS[0] += (time.perf_counter() - t0) * 1e3

        def boundingRect(self) -> Any:
            ## boundingRect _must_ indicate the entire area that will be drawn on
            ## or else we will get artifacts and possibly crashing.
            ## (in this case, QPicture does all the work of computing the bouning rect for us)
            return QtCore.QRectF(self.picture.boundingRect())

    return CandlestickItem


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 1e6


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def worker(item_name: str, n: int, frames: int) -> dict[str, Any]:
    """Run every measurement for one item and size in this process; return the numbers."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import pyqtgraph as pg
    from PyQt6 import QtWidgets

    from stom_desktop.core.synthetic import generate_bars
    from stom_desktop.gui.charts import CandlestickItem

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    bars = generate_bars("BENCH", "1m", n, 7)
    plot = pg.PlotWidget()
    plot.resize(WIDTH, HEIGHT)
    plot.show()
    app.processEvents()
    for _ in range(3):  # Qt's one-time costs (fonts, backing store) are not the item's
        plot.grab()
    rss_before = _rss_mb()
    vb = plot.getViewBox()
    out: dict[str, Any] = {"item": item_name, "n": n}

    # The same frames on the empty plot: what pyqtgraph's axes, grid and Qt cost anyway.
    vb.setRange(xRange=(0, n), yRange=(0, 100), padding=0)
    plot.grab()
    empty = []
    for _ in range(frames):
        left, right = vb.viewRange()[0]
        vb.setXRange(left - 10, right - 10, padding=0)
        empty.append(_timed(plot.grab))
    out["empty_frame_ms"] = statistics.median(empty)
    vb.enableAutoRange()

    if item_name == "stom":

        class TimedCandles(CandlestickItem):
            def paint(self, *args: Any) -> None:
                t0 = time.perf_counter()
                super().paint(*args)
                PAINT_MS[0] += (time.perf_counter() - t0) * 1e3

        item = TimedCandles()

        def paints() -> int:
            return item.last_paint_count

        def first() -> None:
            item.set_bars(bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume)
            plot.addItem(item)
            plot.autoRange(padding=0)
            plot.grab()

        state = {"ts": int(bars.ts[-1]), "c": float(bars.close[-1])}

        def append() -> None:
            state["ts"] += MINUTE_MS
            c = state["c"]
            item.append_bar(state["ts"], c, c * 1.001, c * 0.999, c * 1.0005, 1000.0)
            plot.grab()
    else:
        example = example_item_class()
        data = list(
            zip(
                np.arange(n, dtype=np.float64).tolist(),
                bars.open.tolist(),
                bars.close.tolist(),
                bars.low.tolist(),
                bars.high.tolist(),
                strict=True,
            )
        )
        holder: dict[str, Any] = {}

        def paints() -> int:
            return int(holder["item"].paints) if "item" in holder else 0

        def first() -> None:
            holder["item"] = example(data)
            plot.addItem(holder["item"])
            plot.autoRange(padding=0)
            plot.grab()

        def append() -> None:
            c = data[-1][2]
            data.append((float(len(data)), c, c * 1.0005, c * 0.999, c * 1.001))
            holder["item"].generatePicture()
            holder["item"].informViewBoundsChanged()
            holder["item"].update()
            plot.grab()

    paint_ms: dict[str, list[float]] = {}

    def checked(fn: Callable[[], None], key: str = "") -> float:
        before = paints()
        PAINT_MS[0] = 0.0
        ms = _timed(fn)
        paint_ms.setdefault(key, []).append(PAINT_MS[0])
        if item_name == "example" and paints() == before:
            raise RuntimeError("grab() did not paint the example item")
        if item_name == "stom" and paints() == 0:
            raise RuntimeError("grab() did not paint the STOM item")
        return ms

    out["first_ms"] = checked(first)
    slow = item_name == "example" and n >= 1_000_000
    reps = 3 if slow else frames
    out["append_ms_all"] = [checked(append) for _ in range(reps)]

    total = float(n)
    width = total * 0.10
    vb.setXRange(total - width, total, padding=0)
    plot.grab()
    pan: list[float] = []
    for _ in range(reps):
        left, right = vb.viewRange()[0]
        step = (right - left) * 0.01

        def pan_frame(lo: float = left - step, hi: float = right - step) -> None:
            vb.setXRange(lo, hi, padding=0)
            plot.grab()

        pan.append(checked(pan_frame, "pan"))
    out["pan_ms_all"] = pan

    vb.setXRange(-0.5, total - 0.5, padding=0)
    plot.grab()
    zoom: list[float] = []
    for _ in range(reps):
        left, right = vb.viewRange()[0]
        mid, half = (left + right) / 2, (right - left) / 2 * 0.9

        def zoom_frame(lo: float = mid - half, hi: float = mid + half) -> None:
            vb.setXRange(lo, hi, padding=0)
            plot.grab()

        zoom.append(checked(zoom_frame, "zoom"))
    out["zoom_ms_all"] = zoom
    for key in ("append", "pan", "zoom"):
        out[f"{key}_ms"] = statistics.median(out[f"{key}_ms_all"])
    for key in ("pan", "zoom"):
        out[f"{key}_paint_ms"] = statistics.median(paint_ms[key])
    out["rss_mb"] = _rss_mb()
    out["rss_rise_mb"] = out["rss_mb"] - rss_before
    return out


def _run_worker(item: str, n: int, frames: int) -> dict[str, Any]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, __file__, "--worker", item, str(n), "--frames", str(frames)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {item} {n} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b <= 0 else f"{a / b:,.0f}x"


def main() -> None:
    """Run the workers side by side and print the comparison table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--items", nargs="+", default=list(ITEMS), choices=ITEMS)
    ap.add_argument("--frames", type=int, default=30, help="frames per median")
    ap.add_argument("--example-max", type=int, default=1_000_000,
                    help="skip the example item above this many candles")  # fmt: skip
    ap.add_argument("--json", action="store_true", help="also print the raw numbers")
    ap.add_argument("--worker", nargs=2, metavar=("ITEM", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.frames)))
        return

    results: dict[tuple[str, int], dict[str, Any]] = {}
    for n in args.sizes:
        for item in args.items:
            if item == "example" and n > args.example_max:
                continue
            print(f"... {item} at {n:,} candles", file=sys.stderr, flush=True)
            results[item, n] = _run_worker(item, n, args.frames)

    metrics = (("first render", "first_ms"), ("append + repaint", "append_ms"),
               ("pan frame", "pan_ms"), ("  item paint only", "pan_paint_ms"),
               ("zoom frame", "zoom_ms"), ("  item paint only", "zoom_paint_ms"),
               ("empty plot frame", "empty_frame_ms"))  # fmt: skip
    print(f"\nCandlesticks, offscreen {WIDTH}x{HEIGHT}, ms (median of frames); "
          "RSS = whole process, MB")  # fmt: skip
    head = f"| {'metric':<17} | {'N':>9} | {'STOM':>9} | {'example':>11} | {'ratio':>9} |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for n in args.sizes:
        s = results.get(("stom", n))
        e = results.get(("example", n))
        for label, key in metrics:
            sv = None if s is None else float(s[key])
            ev = None if e is None else float(e[key])
            print(f"| {label:<17} | {n:>9,} | {_cell(sv):>9} | {_cell(ev):>11} | "
                  f"{_ratio(ev, sv):>9} |")  # fmt: skip
        for label, key in (("RSS total", "rss_mb"), ("RSS rise", "rss_rise_mb")):
            sv = None if s is None else float(s[key])
            ev = None if e is None else float(e[key])
            print(f"| {label:<17} | {n:>9,} | {_cell(sv, 0):>9} | {_cell(ev, 0):>11} | "
                  f"{_ratio(ev, sv):>9} |")  # fmt: skip
    if args.json:
        print(json.dumps([v for v in results.values()], indent=1))


def _cell(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "not run"
    return f"{v:,.{digits}f}"


if __name__ == "__main__":
    main()
