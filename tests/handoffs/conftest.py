import pytest

from tests.handoffs.report_scenario import build_scenario, make_supervisor


@pytest.fixture
def supervisor(support_team):
    return make_supervisor(support_team)


@pytest.fixture
def scenario(bot, support_team, agent):
    """The hand-computed report scenario (tests/handoffs/report_scenario.py); returns its t0."""
    return build_scenario(bot, support_team, agent)
