"""PNG charts of the report (matplotlib, object API, no pyplot) in the project's vendored CJK
font ``core/fonts/wqy-microhei-gb2312.ttf`` (WenQuanYi Micro Hei, GB2312 subset), found by
path — no system font is looked up."""

from __future__ import annotations

import functools
import io
import json

from govcenter.core.fonts import CJK_FONT_PATH

FONT_PATH = CJK_FONT_PATH
COLOURS = ("#206bc4", "#d63939", "#2fb344", "#f59f00")


@functools.cache
def font_name() -> str:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(FONT_PATH))
    return font_manager.FontProperties(fname=str(FONT_PATH)).get_name()


def numeric_columns(table: dict) -> list[int]:
    return [k for k in range(1, len(table["columns"]))
            if table["rows"] and all(isinstance(r[k], int | float) for r in table["rows"])]  # fmt: skip


def bar(table: dict) -> bytes | None:
    """A bar chart of a table: first column the categories, numeric columns the series (drawn
    once per distinct table: the Word and the PDF of a report share it)."""
    return _bar(json.dumps(table, ensure_ascii=False, sort_keys=True, default=str))


@functools.lru_cache(maxsize=32)
def _bar(table_json: str) -> bytes | None:
    table = json.loads(table_json)
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = numeric_columns(table)
    if not cols:
        return None
    with matplotlib.rc_context({"font.family": [font_name()], "axes.unicode_minus": False, "font.size": 8}):
        fig = Figure(figsize=(6.4, 3.0), dpi=150)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        n, width = len(table["rows"]), 0.8 / len(cols)
        for k, col in enumerate(cols):
            xs = [x - 0.4 + width * (k + 0.5) for x in range(n)]
            ax.bar(xs, [row[col] for row in table["rows"]], width=width, color=COLOURS[k % len(COLOURS)],
                   label=str(table["columns"][col]))  # fmt: skip
        ax.set_xticks(range(n))
        ax.set_xticklabels([str(row[0]).split("：")[0][:10] for row in table["rows"]])
        ax.set_title(str(table["title"]))
        ax.grid(axis="y", linewidth=0.4, alpha=0.6)
        ax.legend(loc="best", fontsize=7, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
