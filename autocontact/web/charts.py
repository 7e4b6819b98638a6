"""Charts of the report and the portfolio, drawn on the server as SVG.

This module only lays the figures out (positions and sizes of bars, ticks,
legend); templates/reports/_charts.html draws them. No JavaScript: the SVG
prints, and every chart sits next to a table with the same figures.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

PALETTE = 10            # app.css defines .series-0 … .series-9
MAX_BARS = 20           # horizontal charts show the largest rows, the table has them all
MAX_COLUMNS = 48        # more months than this are drawn per year
PER_YEAR_NOTE = _l("per year: the period is longer than four years")


@dataclass
class Segment:
    key: str
    label: str
    value: int
    series: int          # colour index
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0


@dataclass
class Bar:
    label: str
    total: int
    segments: list
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0
    labelled: bool = True  # its label is written under the axis


@dataclass
class Chart:
    kind: str            # "rows" (horizontal bars) or "columns"
    width: int
    height: int
    bars: list
    legend: list         # [(series, label)]
    ticks: list          # [(position, label)] along the value axis
    plot: dict           # left, top, width, height of the plotting area
    left_out: int = 0    # rows not drawn (MAX_BARS)
    unit: str = "documents"
    notes: list = field(default_factory=list)

    @property
    def empty(self):
        return not any(bar.total for bar in self.bars)


def _nice_ceiling(value):
    """A round axis maximum at or above ``value`` (1, 2, 5 × a power of ten)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _ticks(maximum, count=4):
    """The axis maximum and ``count`` + 1 round ticks from 0 to it."""
    step = _nice_ceiling(maximum / count) if maximum > count else 1
    return step * count, [step * i for i in range(count + 1)]


def _legend(series):
    return [(index % PALETTE, label) for index, (_, label) in enumerate(series)]


def rows_chart(rows, series, label=lambda row: row["name"], width=760, bar_height=22,
               label_width=200):
    """Horizontal stacked bars, one per row (largest first, at most MAX_BARS).

    ``rows``: dicts with ``documents`` and ``per_type``; ``series``: [(key, label)].
    """
    drawn = rows[:MAX_BARS]
    gap, top, bottom = 8, 10, 28
    plot_width = width - label_width - 70
    maximum, ticks = _ticks(max((row["documents"] for row in drawn), default=0))
    bars = []
    for index, row in enumerate(drawn):
        y = top + index * (bar_height + gap)
        x = label_width
        segments = []
        for number, (key, name) in enumerate(series):
            value = int(row["per_type"].get(key, 0))
            size = plot_width * value / maximum
            if value:
                segments.append(Segment(key, name, value, number % PALETTE, x=round(x, 1),
                                        y=y, width=round(size, 1), height=bar_height))
            x += size
        bars.append(Bar(str(label(row)), int(row["documents"]), segments, x=label_width, y=y,
                        width=round(x - label_width, 1), height=bar_height))
    height = top + len(drawn) * (bar_height + gap) + bottom
    return Chart(kind="rows", width=width, height=max(height, 60), bars=bars,
                 legend=_legend(series),
                 ticks=[(round(label_width + plot_width * t / maximum, 1), t) for t in ticks],
                 plot={"left": label_width, "top": top, "width": plot_width,
                       "height": height - top - bottom},
                 left_out=max(0, len(rows) - MAX_BARS))


def _per_year(rows):
    years = {}
    for row in rows:
        year = years.setdefault(row["month"][:4], {"month": row["month"][:4], "documents": 0,
                                                   "per_type": {}})
        year["documents"] += row["documents"]
        for key, value in row["per_type"].items():
            year["per_type"][key] = year["per_type"].get(key, 0) + value
    return list(years.values())


def columns_chart(rows, series, width=760, height=240):
    """Vertical stacked columns per month (per year beyond MAX_COLUMNS months).

    ``rows``: dicts with ``month``, ``documents`` and ``per_type``.
    """
    notes = []
    if len(rows) > MAX_COLUMNS:
        rows = _per_year(rows)
        notes.append(PER_YEAR_NOTE)
    left, top, bottom, right = 50, 12, 46, 10
    plot_width, plot_height = width - left - right, height - top - bottom
    maximum, ticks = _ticks(max((row["documents"] for row in rows), default=0))
    slot = plot_width / max(len(rows), 1)
    column = max(2.0, slot * 0.7)
    bars = []
    for index, row in enumerate(rows):
        x = left + index * slot + (slot - column) / 2
        bottom_y = top + plot_height
        segments = []
        for number, (key, name) in enumerate(series):
            value = int(row["per_type"].get(key, 0))
            size = plot_height * value / maximum
            if value:
                bottom_y -= size
                segments.append(Segment(key, name, value, number % PALETTE, x=round(x, 1),
                                        y=round(bottom_y, 1), width=round(column, 1),
                                        height=round(size, 1)))
        bars.append(Bar(row["month"], int(row["documents"]), segments, x=round(x, 1),
                        y=round(bottom_y, 1), width=round(column, 1),
                        height=round(top + plot_height - bottom_y, 1)))
    every = max(1, -(-len(rows) // 12))   # at most about twelve labels under the axis
    for index, bar in enumerate(bars):
        bar.labelled = index % every == 0
    return Chart(kind="columns", width=width, height=height, bars=bars, legend=_legend(series),
                 ticks=[(round(top + plot_height - plot_height * t / maximum, 1), t)
                        for t in ticks],
                 plot={"left": left, "top": top, "width": plot_width, "height": plot_height},
                 notes=notes)
