"""Charts of the server-side reports (bike-share and parking monthly/weekly reports).

PNG charts for Word files, drawn with matplotlib in the project's vendored CJK font, and
native Excel charts (:func:`xlsx_chart`) over a data block written beside the tables.

A chart is first described as a :class:`Chart` (title, axis titles, categories, series) so
the text it will show is known before drawing (:meth:`Chart.labels` — the tests check every
character against the font's cmap). Drawing uses the object API (``Figure`` + the Agg
canvas), never pyplot: no global state, safe in request threads. The font is
``core/fonts/wqy-microhei-gb2312.ttf`` (a GB2312 subset), registered by path — no system
font is looked up. Text the font cannot show (e.g. 啰, not in GB2312) is replaced by a
fallback (the operator code) through :func:`safe_label`. PNGs carry no timestamp, so the same
data draws the same bytes.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

from govcenter.core.fonts import CJK_FONT_PATH

FONT_PATH = CJK_FONT_PATH
DPI = 150
WARN, OK = "#d63939", "#2fb344"
COLOURS = ("#206bc4", "#f76707", "#2fb344", "#ae3ec9", "#17a2b8", "#f59f00", "#6c7a91")


@functools.cache
def font_codepoints() -> frozenset[int]:
    """The code points the vendored font has glyphs for."""
    from fontTools.ttLib import TTFont

    with TTFont(str(FONT_PATH), lazy=True) as font:
        return frozenset(font.getBestCmap())


def covered(text: str) -> bool:
    cmap = font_codepoints()
    return all(ord(ch) in cmap or ch.isspace() for ch in text)


def safe_label(text: str, fallback: str) -> str:
    """``text`` if the font can show every character of it, else ``fallback``."""
    return text if covered(text) else fallback


@dataclass
class Chart:
    kind: str  # "line" or "bar"
    title: str
    x_title: str
    y_title: str
    categories: list[str]
    series: dict[str, list[float]] = field(default_factory=dict)
    highlight: list[bool] | None = None  # bar charts: categories drawn in the warning colour

    def labels(self) -> list[str]:
        """Every text the chart shows (ticks are the categories and plain numbers)."""
        return [self.title, self.x_title, self.y_title, *self.categories, *self.series, "0123456789.,-"]


@functools.cache
def _font_name() -> str:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(FONT_PATH))
    return font_manager.FontProperties(fname=str(FONT_PATH)).get_name()


def render(chart: Chart, *, width: float = 6.4, height: float = 3.2) -> bytes:
    """The chart as PNG bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rc = {
        "font.family": [_font_name()],
        "axes.unicode_minus": False,  # U+2212 is not in the GB2312 subset
        "svg.hashsalt": "govcenter",
        "font.size": 8,
    }
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        n = len(chart.categories)
        xs = list(range(n))
        if chart.kind == "line":
            for k, (name, values) in enumerate(chart.series.items()):
                ax.plot(xs, values, marker="o", markersize=2.5, linewidth=1.4, color=COLOURS[k % len(COLOURS)],
                        label=name)  # fmt: skip
        else:
            count = max(len(chart.series), 1)
            width_bar = 0.8 / count
            for k, (name, values) in enumerate(chart.series.items()):
                offs = [x - 0.4 + width_bar * (k + 0.5) for x in xs]
                colours = [COLOURS[k % len(COLOURS)]] * n
                if chart.highlight and k == count - 1:  # the last series: red where over the limit
                    colours = [WARN if hot else OK for hot in chart.highlight]
                ax.bar(offs, values, width=width_bar, color=colours, label=name)
        step = max(1, n // 16)
        ax.set_xticks(xs[::step])
        ax.set_xticklabels(
            chart.categories[::step], rotation=45 if n > 8 else 0, ha="right" if n > 8 else "center"
        )
        ax.set_title(chart.title)
        ax.set_xlabel(chart.x_title)
        ax.set_ylabel(chart.y_title)
        ax.grid(axis="y", linewidth=0.4, alpha=0.6)
        if chart.series:
            ax.legend(loc="best", fontsize=7, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def xlsx_chart(ws, chart: Chart, first_col: int, anchor: str) -> None:
    """The chart's data block from ``first_col`` (row 1 = header) and a native openpyxl chart over it.

    The series reference the cells, so the numbers in the chart are the sheet's, not a picture.
    """
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.utils import get_column_letter

    ws.cell(row=1, column=first_col, value=chart.x_title)
    for k, name in enumerate(chart.series, start=1):
        ws.cell(row=1, column=first_col + k, value=name)
    for i, category in enumerate(chart.categories, start=2):
        ws.cell(row=i, column=first_col, value=category)
        for k, values in enumerate(chart.series.values(), start=1):
            ws.cell(row=i, column=first_col + k, value=values[i - 2])
    last_row = 1 + len(chart.categories)
    obj = LineChart() if chart.kind == "line" else BarChart()
    if chart.kind != "line":
        obj.type = "col"
        obj.grouping = "clustered"
    obj.title = chart.title
    obj.x_axis.title = chart.x_title
    obj.y_axis.title = chart.y_title
    obj.height, obj.width = 8, 18
    data = Reference(
        ws, min_col=first_col + 1, max_col=first_col + len(chart.series), min_row=1, max_row=last_row
    )
    cats = Reference(ws, min_col=first_col, min_row=2, max_row=last_row)
    obj.add_data(data, titles_from_data=True)
    obj.set_categories(cats)
    # openpyxl ≥ 3.1 hides axes unless told otherwise (delete defaults to True in some viewers).
    obj.x_axis.delete = False
    obj.y_axis.delete = False
    ws.add_chart(obj, anchor)
    ws.column_dimensions[get_column_letter(first_col)].width = 14
