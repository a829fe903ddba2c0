import factory
from django.contrib.auth import get_user_model

from handoffs.models import AgentProfile, Team
from handoffs.services.bots import bot_create


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"agent{n}")
    password = factory.django.Password("correct horse battery staple")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentProfile
        skip_postgeneration_save = True  # the teams hook only adds M2M rows

    user = factory.SubFactory(UserFactory)
    skills = factory.LazyFunction(list)
    languages = factory.LazyFunction(lambda: ["en"])

    @factory.post_generation
    def teams(self, create: bool, extracted: list[Team] | None, **kwargs: object) -> None:
        if create and extracted:
            self.teams.add(*extracted)


def make_bot(*, team: str = "Support", callback_url: str = "", scopes: list[str] | None = None):
    """A registered bot and its signing secret (through the same service as ``create_bot``)."""
    return bot_create(name="Test bot", team_name=team, callback_url=callback_url, scopes=scopes)
