"""Compare two stored backtest runs: metrics side by side and equity curves overlaid."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.backtest_results import EquityChart, fill_metrics

COMPARED_METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "expectancy",
    "num_trades",
    "exposure",
    "final_equity",
)


def _label(summary: Any) -> str:
    params = ", ".join(f"{k}={v}" for k, v in summary.params.items() if v is not None)
    return f"#{summary.id} {summary.strategy_name} {summary.symbol} {summary.timeframe}" + (
        f" ({params})" if params else ""
    )


class ComparePanel(QWidget):
    """Two run pickers, a metrics table (A, B, B - A) and both equity curves."""

    def __init__(self, ctx: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.run_a, self.run_b = QComboBox(), QComboBox()
        for combo in (self.run_a, self.run_b):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(30)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.compare)
        self.status = QLabel("Pick two stored runs.")
        self.metrics = QTableWidget()
        self.metrics.setAlternatingRowColors(True)
        self.chart = EquityChart()
        pickers = QHBoxLayout()
        pickers.addWidget(QLabel("A"))
        pickers.addWidget(self.run_a, 1)
        pickers.addWidget(QLabel("B"))
        pickers.addWidget(self.run_b, 1)
        pickers.addWidget(self.compare_button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("compare_split")
        split.addWidget(self.metrics)
        split.addWidget(self.chart)
        split.setSizes([380, 620])
        layout = QVBoxLayout(self)
        layout.addLayout(pickers)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    def _repo(self) -> Any:
        from stom_desktop.persistence import BacktestRunRepository

        return BacktestRunRepository(self.ctx.database)

    def reload(self) -> None:
        """Re-read the stored runs (newest first); A = newest, B = the one before."""
        runs = self._repo().list(limit=200)
        for combo, pick in ((self.run_a, 0), (self.run_b, 1)):
            keep = combo.currentData()
            combo.clear()
            for summary in runs:
                combo.addItem(_label(summary), summary.id)
            index = combo.findData(keep) if keep is not None else -1
            combo.setCurrentIndex(index if index >= 0 else min(pick, len(runs) - 1))

    def compare(self) -> None:
        """Load both runs and show them side by side."""
        ids = [self.run_a.currentData(), self.run_b.currentData()]
        if None in ids:
            self.status.setText("Two stored runs are needed: run a backtest first.")
            return
        repo = self._repo()
        records = [repo.get(int(run_id)) for run_id in ids]
        if any(r is None for r in records):
            self.status.setText(f"Run {ids} no longer stored.")
            return
        self.show_runs(records)

    def show_runs(self, records: list[Any]) -> None:
        """Show ``BacktestRunRecord``s A and B."""
        a, b = records
        rows: dict[str, list[Any]] = {}
        for name in COMPARED_METRICS:
            va, vb = a.summary.metrics.get(name), b.summary.metrics.get(name)
            diff = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
            rows[name] = [va, vb, diff]
        params = sorted(set(a.summary.params) | set(b.summary.params))
        for name in params:
            rows[f"param {name}"] = [a.summary.params.get(name), b.summary.params.get(name), None]
        fill_metrics(self.metrics, [f"A #{a.id}", f"B #{b.id}", "B \u2212 A"], rows)
        self.chart.clear()
        for tag, record in (("A", a), ("B", b)):
            self.chart.add_curve(f"{tag} #{record.id}", record.equity_ts, record.equity)
        self.status.setText(f"A: {_label(a.summary)}   B: {_label(b.summary)}")
