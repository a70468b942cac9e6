"""Chart specs (Vega-Altair) for the report's sections, rendered to inline SVG by vl-convert: no
browser, no JavaScript and no network when the report is opened. Each function takes the small
pandas frame of one section (see lib/report/extract.py) and returns an Altair chart."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import vl_convert

WIDTH = 560
BAR_STEP = 18
STATUS_COLOURS = {"kept": "#1b9e77", "not_significant": "#7570b3", "redundant": "#e6ab02", "privacy": "#d95f02"}
CHANGE_COLOURS = {"appeared": "#1b9e77", "strengthened": "#66a61e", "weakened": "#e6ab02", "vanished": "#d95f02",
                  "stable": "#999999"}


def render_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as one standalone <svg> element (fonts are the viewer's sans-serif)."""
    return vl_convert.vegalite_to_svg(chart.to_dict())


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values Vega's JSON takes: dates and other objects as text."""
    return frame.apply(lambda c: c.map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else str(v))
                       if c.dtype == object else c)


def _short(text: str, width: int = 38) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _scale(mapping: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(mapping), range=list(mapping.values()))


def audit_chart(days: pd.DataFrame) -> alt.Chart:
    """Rows per day as stacked bars: accepted, duplicates, quarantined."""
    frame = days.assign(day=pd.to_datetime(days["dt"]).dt.strftime("%Y-%m-%d")).drop(columns=["dt"])
    return (
        alt.Chart(frame, width=WIDTH, height=220, title="ingested rows per day")
        .transform_fold(["accepted", "duplicates", "quarantined"], as_=["outcome", "rows"])
        .mark_bar()
        .encode(
            x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("rows:Q", title="rows", stack="zero"),
            color=alt.Color("outcome:N", scale=alt.Scale(domain=["accepted", "duplicates", "quarantined"],
                                                         range=["#1b9e77", "#7570b3", "#d95f02"])),
        )
    )


def bar_chart(frame: pd.DataFrame, label: str, value: str, title: str, colour: str | None = None) -> alt.Chart:
    """Horizontal bars of `value` per `label`, in the frame's order."""
    data = plain(frame[[c for c in frame.columns if c in (label, value, colour)]]).assign(
        _label=[_short(v, 48) for v in frame[label]]
    )
    encoding = {
        "y": alt.Y("_label:N", title=None, sort=None),
        "x": alt.X(f"{value}:Q", title=value),
        "tooltip": [alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{value}:Q")],
    }
    if colour:
        encoding["color"] = alt.Color(f"{colour}:N" if data[colour].dtype == object else f"{colour}:Q")
    return alt.Chart(data, width=WIDTH - 200, height=alt.Step(BAR_STEP), title=title).mark_bar().encode(**encoding)


def rules_scatter(rules: pd.DataFrame) -> alt.Chart:
    """Lift against confidence; size = baskets with the rule (n_ab), colour = pruning status."""
    return (
        alt.Chart(rules, width=WIDTH, height=360, title="rules: lift vs confidence")
        .mark_circle(opacity=0.65)
        .encode(
            x=alt.X("confidence:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("lift:Q", scale=alt.Scale(type="log")),
            size=alt.Size("n_ab:Q", title="n_ab (baskets)"),
            color=alt.Color("status:N", scale=_scale(STATUS_COLOURS)),
            tooltip=["rule:N", "confidence:Q", "lift:Q", "n_ab:Q", "status:N"],
        )
    )


def network_layout(edges: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes on a circle (most connected first) and edges with their end points and arrow angle."""
    degree = pd.concat([edges["source"], edges["target"]]).value_counts()
    order = sorted(degree.index, key=lambda item: (-degree[item], item))
    titles = dict(zip(edges["source"], edges["source_title"])) | dict(zip(edges["target"], edges["target_title"]))
    count = max(len(order), 1)
    position = {item: (math.cos(2 * math.pi * i / count), math.sin(2 * math.pi * i / count))
                for i, item in enumerate(order)}
    nodes = pd.DataFrame({
        "item": order,
        "title": [_short(titles[i], 24) for i in order],
        "x": [position[i][0] for i in order],
        "y": [position[i][1] for i in order],
        "rules": [int(degree[i]) for i in order],
    })
    rows = []
    for edge in edges.itertuples(index=False):
        (x, y), (x2, y2) = position[edge.source], position[edge.target]
        # arrow head 88% of the way, pointing at the target (Vega angles: degrees clockwise from up)
        rows.append({
            "x": x, "y": y, "x2": x2, "y2": y2,
            "hx": x + 0.88 * (x2 - x), "hy": y + 0.88 * (y2 - y),
            "angle": math.degrees(math.atan2(x2 - x, y2 - y)) % 360,
            "rule": f"{edge.source_title} → {edge.target_title}", "lift": edge.lift, "confidence": edge.confidence,
        })
    return nodes, pd.DataFrame(rows)


def rules_network(edges: pd.DataFrame) -> alt.LayerChart:
    nodes, arrows = network_layout(edges)
    axis = alt.Axis(title=None, labels=False, ticks=False, grid=False, domain=False)
    scale = alt.Scale(domain=[-1.35, 1.35])
    x, y = alt.X("x:Q", axis=axis, scale=scale), alt.Y("y:Q", axis=axis, scale=scale)
    base = alt.Chart(arrows)
    lines = base.mark_rule(opacity=0.6).encode(
        x=x, y=y, x2="x2:Q", y2="y2:Q", strokeWidth=alt.StrokeWidth("lift:Q", scale=alt.Scale(range=[1, 4])),
        color=alt.value("#7570b3"), tooltip=["rule:N", "lift:Q", "confidence:Q"],
    )
    heads = base.mark_point(shape="triangle-up", filled=True, size=90, opacity=0.9).encode(
        x=alt.X("hx:Q", axis=axis, scale=scale), y=alt.Y("hy:Q", axis=axis, scale=scale),
        angle=alt.Angle("angle:Q", scale=None), color=alt.value("#7570b3"),
    )
    points = alt.Chart(nodes).mark_circle(color="#1b9e77", opacity=0.9).encode(
        x=x, y=y, size=alt.Size("rules:Q", scale=alt.Scale(range=[80, 400]), legend=None),
        tooltip=["title:N", "item:N", "rules:Q"],
    )
    labels = alt.Chart(nodes).mark_text(dy=-12, fontSize=10).encode(x=x, y=y, text="title:N")
    return alt.layer(lines, heads, points, labels).properties(
        width=WIDTH, height=WIDTH, title="rules network: items as nodes, rules as arrows"
    )


def bought_together_chart(rows: pd.DataFrame) -> alt.FacetChart:
    data = rows.assign(companion_label=[_short(c, 40) for c in rows["companion"]],
                       item_label=[_short(i, 40) for i in rows["item"]])
    return (
        alt.Chart(data, width=WIDTH - 220, height=alt.Step(BAR_STEP))
        .mark_bar(color="#1b9e77")
        .encode(
            y=alt.Y("companion_label:N", title=None, sort=alt.EncodingSortField("rank")),
            x=alt.X("lift:Q"),
            tooltip=["item:N", "companion:N", "rank:Q", "lift:Q", "confidence:Q", "n_ab:Q"],
        )
        .facet(row=alt.Row("item_label:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent")
        .properties(title="bought together: best companions of the items in most baskets")
    )


def bundles_chart(bundles: pd.DataFrame) -> alt.Chart:
    data = bundles.assign(label=[_short(b, 60) for b in bundles["bundle"]])
    return (
        alt.Chart(data, width=WIDTH - 260, height=alt.Step(BAR_STEP), title="bundles: baskets and price")
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=None),
            x=alt.X("count:Q", title="baskets"),
            color=alt.Color("bundle_price:Q", title="price", scale=alt.Scale(scheme="viridis")),
            tooltip=["bundle:N", "count:Q", "support:Q", "all_confidence:Q", "bundle_price:Q"],
        )
    )


def category_heat_map(pairs: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(pairs, title="category families: best lift of a kept rule from row to column").encode(
        x=alt.X("to_family:N", title="consequent family"),
        y=alt.Y("from_family:N", title="antecedent family"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("max_lift:Q", title="lift", scale=alt.Scale(scheme="oranges")),
        tooltip=["from_family:N", "to_family:N", "max_lift:Q", "rules:Q", "n_ab:Q"],
    )
    text = base.mark_text(fontSize=10).encode(text=alt.Text("max_lift:Q", format=".2f"))
    return alt.layer(cells, text).properties(width=alt.Step(44), height=alt.Step(28))


def trends_chart(trends: pd.DataFrame) -> alt.Chart:
    data = trends.assign(label=[_short(r, 56) for r in trends["rule"]])
    return (
        alt.Chart(data, width=WIDTH - 280, height=alt.Step(BAR_STEP), title="rule trends: change in lift")
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort=None),
            x=alt.X("delta_lift:Q", title="lift now − lift then (not mined = 1)"),
            color=alt.Color("change:N", scale=_scale(CHANGE_COLOURS)),
            opacity=alt.condition("datum.significant", alt.value(1.0), alt.value(0.45)),
            tooltip=["rule:N", "change:N", "previous_lift:Q", "lift:Q", "previous_support:Q", "support:Q",
                     "p_value:Q"],
        )
    )


def evaluation_chart(metrics: pd.DataFrame) -> alt.FacetChart:
    """Grouped bars: metric on x, one bar per model, one panel per slice."""
    return (
        alt.Chart(metrics, width=alt.Step(9), height=220)
        .mark_bar()
        .encode(
            x=alt.X("metric:N", title=None),
            xOffset="model:N",
            y=alt.Y("value:Q", title="value @ k"),
            color=alt.Color("model:N"),
            tooltip=["slice:N", "model:N", "metric:N", "k:Q", "value:Q", "users:Q"],
        )
        .facet(column=alt.Column("slice:N", title="slice"))
        .properties(title="evaluation on the final window (selected parameters)")
    )


def coverage_chart(metrics: pd.DataFrame) -> alt.FacetChart:
    return (
        alt.Chart(metrics, width=alt.Step(22), height=200)
        .mark_bar()
        .encode(x=alt.X("model:N", title=None), y=alt.Y("value:Q"), color="model:N",
                tooltip=["slice:N", "model:N", "metric:N", "value:Q"])
        .facet(column=alt.Column("metric:N", title=None), row=alt.Row("slice:N", title=None))
        .resolve_scale(y="independent")
        .properties(title="catalogue coverage and novelty")
    )


def tuning_chart(scores: pd.DataFrame, metric: str) -> alt.FacetChart:
    data = scores.assign(point=[_short(p, 70) for p in scores["params"]])
    return (
        alt.Chart(data, width=WIDTH - 300, height=alt.Step(14))
        .mark_bar()
        .encode(
            y=alt.Y("point:N", title=None, sort="-x"),
            x=alt.X("value:Q", title=f"{metric} on the tuning window"),
            color=alt.Color("selected:N", scale=alt.Scale(domain=[True, False], range=["#d95f02", "#bbbbbb"])),
            tooltip=["model:N", "params:N", "value:Q", "selected:N"],
        )
        .facet(row=alt.Row("model:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent")
        .properties(title="tuning grid: the chosen point of each model in orange")
    )
