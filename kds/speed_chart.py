"""The speed-of-service chart: one small bar chart per station, drawn as inline SVG.

Pure geometry, no database: the admin view hands it what `selectors.speed_of_service` read, and the
template draws the rectangles and lines it returns. A bar is the average time from sent to bumped of the
tickets sent in that hour; its colour is the one a cook saw on the screen at that age (green, amber after
the station's amber threshold, red after its red one), and both thresholds are drawn across the chart.
"""

from dataclasses import dataclass, field

WIDTH = 640
HEIGHT = 220
LEFT = 44  # room for the minutes axis
RIGHT = 12
TOP = 12
BOTTOM = 28  # room for the hours
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass
class Bar:
    hour: int
    x: float
    y: float
    width: float
    height: float
    colour: str  # "green", "amber" or "red"
    seconds: int
    count: int


@dataclass
class Rule:
    """A horizontal line across the chart: a threshold or a tick of the minutes axis."""

    y: float
    minutes: int
    kind: str  # "amber", "red" or "tick"


@dataclass
class StationChart:
    station: object
    bars: list[Bar] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    hour_labels: list[tuple[float, int]] = field(default_factory=list)  # (x, hour)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: int = TOP + PLOT_HEIGHT


def colour(seconds: int, *, amber_after: int, red_after: int) -> str:
    if seconds >= red_after * 60:
        return "red"
    if seconds >= amber_after * 60:
        return "amber"
    return "green"


def tick_step(top_minutes: int) -> int:
    """Minutes between two ticks of the axis, so that it shows four to eight of them."""
    for step in (1, 2, 5, 10, 15, 30, 60):
        if top_minutes / step <= 8:
            return step
    return 120


def station_chart(station, hours: list[int], cells: dict) -> StationChart:
    """The chart of one station. `hours`: the hours shown (the same for every station of the day, so
    the charts line up); `cells`: (station id, hour) → SpeedCell(count, average_seconds)."""
    chart = StationChart(station=station)
    if not hours:
        return chart
    first, last = min(hours), max(hours)
    span = last - first + 1
    slot = PLOT_WIDTH / span
    averages = [cells[(station.pk, h)].average_seconds for h in hours if (station.pk, h) in cells]
    top_seconds = max([*averages, station.red_after * 60]) * 1.15
    top_minutes = max(1, int(top_seconds // 60) + 1)
    scale = PLOT_HEIGHT / (top_minutes * 60)
    bottom = TOP + PLOT_HEIGHT
    for hour in range(first, last + 1):
        x = LEFT + (hour - first) * slot
        chart.hour_labels.append((round(x + slot / 2, 1), hour))
        cell = cells.get((station.pk, hour))
        if cell is None:
            continue
        height = max(1.0, cell.average_seconds * scale)
        chart.bars.append(Bar(
            hour=hour, x=round(x + slot * 0.15, 1), y=round(bottom - height, 1), width=round(slot * 0.7, 1),
            height=round(height, 1), colour=colour(cell.average_seconds, amber_after=station.amber_after,
                                                     red_after=station.red_after),
            seconds=cell.average_seconds, count=cell.count,
        ))
    step = tick_step(top_minutes)
    for minutes in range(0, top_minutes + 1, step):
        chart.rules.append(Rule(y=round(bottom - minutes * 60 * scale, 1), minutes=minutes, kind="tick"))
    for kind, minutes in (("amber", station.amber_after), ("red", station.red_after)):
        chart.rules.append(Rule(y=round(bottom - minutes * 60 * scale, 1), minutes=minutes, kind=kind))
    return chart


def charts(stations, hours: list[int], cells: dict) -> list[StationChart]:
    return [station_chart(station, hours, cells) for station in stations]
