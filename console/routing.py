"""Websocket routes. Bot sockets authenticate by signature (no cookies, so no Origin check applies);
browser sockets go through AllowedHostsOriginValidator (a page on another origin cannot ride the
session cookie) and the session (AuthMiddlewareStack)."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from console.consumers import HandoffSocket, QueueSocket
from console.dashboard_consumers import FloorSocket, ObserveSocket
from console.widget_consumers import WidgetSocket
from handoffs.consumers import BotConsumer


def browser(app: Any) -> Any:
    return AllowedHostsOriginValidator(AuthMiddlewareStack(app))


websocket_urlpatterns = [
    path("ws/bots/<str:bot_id>/", BotConsumer.as_asgi()),
    path("ws/console/queue/", browser(QueueSocket.as_asgi())),
    path("ws/console/handoffs/<uuid:handoff_id>/", browser(HandoffSocket.as_asgi())),
    path("ws/supervisor/floor/", browser(FloorSocket.as_asgi())),
    path("ws/supervisor/handoffs/<uuid:handoff_id>/observe/", browser(ObserveSocket.as_asgi())),
    # The customer widget: its conversation token authenticates, so no session; the Origin check stays.
    path("ws/chat/<str:bot_id>/", AllowedHostsOriginValidator(WidgetSocket.as_asgi())),
]
