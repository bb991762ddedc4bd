"""The speed-of-service chart's geometry (kds/speed_chart.py): no database."""

from types import SimpleNamespace

import pytest

from kds import speed_chart
from kds.selectors import SpeedCell


def station(pk=1, amber=5, red=8):
    return SimpleNamespace(pk=pk, name="Grill", slug="grill", amber_after=amber, red_after=red)


@pytest.mark.parametrize("seconds, expected", [(0, "green"), (299, "green"), (300, "amber"), (479, "amber"), (480, "red")])
def test_a_bar_takes_the_colour_the_screen_showed_at_that_age(seconds, expected):
    assert speed_chart.colour(seconds, amber_after=5, red_after=8) == expected


def test_bars_stand_on_the_axis_in_hour_order_and_scale_with_the_time():
    grill = station()
    cells = {(1, 12): SpeedCell(4, 240), (1, 14): SpeedCell(2, 600)}
    chart = speed_chart.station_chart(grill, [12, 13, 14], cells)
    assert [b.hour for b in chart.bars] == [12, 14]
    noon, two = chart.bars
    assert noon.y + noon.height == pytest.approx(chart.bottom_y) == two.y + two.height
    assert two.height == pytest.approx(noon.height * 600 / 240, rel=0.01)
    assert (noon.colour, two.colour) == ("green", "red")
    assert noon.x < two.x
    assert [hour for _x, hour in chart.hour_labels] == [12, 13, 14]  # the quiet hour keeps its place


def test_thresholds_are_drawn_at_their_height_even_above_every_bar():
    chart = speed_chart.station_chart(station(amber=5, red=8), [18], {(1, 18): SpeedCell(1, 60)})
    rules = {r.kind: r for r in chart.rules if r.kind != "tick"}
    bottom = chart.bottom_y
    assert rules["red"].y < rules["amber"].y < bottom  # higher on screen = smaller y
    assert (bottom - rules["red"].y) / (bottom - rules["amber"].y) == pytest.approx(8 / 5, rel=0.01)
    assert rules["red"].y >= speed_chart.TOP  # inside the chart


def test_a_station_without_tickets_that_day_has_an_empty_chart():
    assert speed_chart.station_chart(station(), [], {}).bars == []
    assert speed_chart.station_chart(station(pk=2), [12], {(1, 12): SpeedCell(1, 60)}).bars == []


@pytest.mark.parametrize("top, step", [(1, 1), (8, 1), (9, 2), (30, 5), (75, 10), (600, 120)])
def test_the_axis_shows_a_handful_of_ticks(top, step):
    assert speed_chart.tick_step(top) == step
