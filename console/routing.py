"""Websocket routes. Bot sockets authenticate by signature (no cookies, so no Origin check applies);
browser sockets (added by the console) go through AllowedHostsOriginValidator and the session."""

from django.urls import path

from handoffs.consumers import BotConsumer

websocket_urlpatterns = [
    path("ws/bots/<str:bot_id>/", BotConsumer.as_asgi()),
]
